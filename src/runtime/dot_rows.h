// One fp32 vector dotted with many fp16 rows: attention's scores q k^T in decode (one query row
// against every cached key of a head). Dotting the rows one by one pays a horizontal sum per
// row (a 64-wide key is 4 multiply-adds and about 10 reduction steps); this sums 16 rows' lanes
// together in one transposing reduction.
#pragma once

#include <cstdint>

#include "runtime/half.h"

namespace anec::runtime {

// out[j] = sum_c x[c] * float(rows[j * row_stride + c]) for j < count, c < k, in fp32.
// The terms are summed in a fixed order per code path (not DotF16's).
// REQUIRES: rows addresses count rows of k values, row_stride >= k.
void DotF16Rows(const float* x, const Half* rows, int64_t row_stride, int64_t count, int64_t k,
                float* out);

}  // namespace anec::runtime
