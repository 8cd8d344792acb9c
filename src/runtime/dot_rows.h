// Attention's products with the fp16 KV cache. One fp32 vector dotted with many fp16 rows:
// the scores q k^T in decode (one query row against every cached key of a head). Dotting the rows
// one by one pays a horizontal sum per row (a 64-wide key is 4 multiply-adds and about 10 reduction
// steps); this sums 16 rows' lanes together in one transposing reduction.
#pragma once

#include <cstdint>

#include "runtime/half.h"

namespace anec::runtime {

// out[j] = sum_c x[c] * float(rows[j * row_stride + c]) for j < count, c < k, in fp32.
// The terms are summed in a fixed order per code path (not DotF16's).
// REQUIRES: rows addresses count rows of k values, row_stride >= k.
void DotF16Rows(const float* x, const Half* rows, int64_t row_stride, int64_t count, int64_t k,
                float* out);

// out[j] += a[r] * float(rows[r * row_stride + j]) for j < n, over r < count in ascending order,
// skipping r where a[r] == 0: attention's weights @ V against the fp16 cache. The same operations
// in the same order as AxpyF16(a[r], rows + r * row_stride, out, n) for each r, so the same
// bits; on AVX-512 with n a multiple of 16 up to 128 the output row stays in registers across
// the rows instead of being loaded and stored for each.
// REQUIRES: rows addresses count rows of n values, row_stride >= n.
void AxpyF16Rows(const float* a, int64_t count, const Half* rows, int64_t row_stride, float* out,
                 int64_t n);

}  // namespace anec::runtime
