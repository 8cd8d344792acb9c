// GEMM of several activation rows against a weight matrix that is read row by row in its stored
// form (fp16, fp32 or LUT, decoded by the caller):
//
//   out[i, j] = bias[j] + sum_c x[i, c] * W[j, c]      (i < m, j < n, c < k)
//
// Weight rows are decoded kPanelRows at a time and transposed into a panel ([k][kPanelRows],
// column c's 32 weights contiguous), so the inner step is an outer product: two vector loads
// of the panel and one broadcast of x per activation row feed 2 x MR multiply-adds into
// registers (MR = 12 rows). Nothing is reduced across lanes, and the activations
// are read once per panel instead of once per 4 weight rows (the dot-product tile it replaces
// read them from L3 again and again once a batch passed the L2 size).
//
// Each output is bias[j] (or 0) followed by the terms c = 0, 1, ..., k - 1 added in that
// order, one fused multiply-add each. So a row's result has the same bits whatever m, the
// tiling and the thread split are: a prefill batch's rows get the bits they get one by one
// through this function.
#pragma once

#include <cstdint>
#include <functional>

#include "runtime/thread_pool.h"

namespace anec::runtime {

inline constexpr int64_t kPanelRows = 32;

// Below this many activation rows the packing (a decode and a transpose per weight) costs more
// than the tiles save: `runtime_bench --gemv` on SmolLM2's 576-wide projections has the 4-row
// dot tiles ahead or level at 12 and 16 rows, the packed tiles ahead from 32 (k/v level).
inline constexpr int64_t kPackedGemmMinRows = 32;

// Writes weight row j (k floats) to out. Called from several threads at once.
using DecodeRowFn = std::function<void(int64_t j, float* out)>;

// True when this CPU runs the kernel (AVX-512; RowKernelsUseAvx512()). A trial AVX2 kernel with
// the same panels ran no faster than GemmXWt's 4-row dot products in an uncommitted harness,
// so there is none.
bool PackedGemmAvailable();

// Where element (i, j) of a matrix is: data[i * row_stride + j * col_stride].
struct MatrixLayout {
  int64_t row_stride = 0, col_stride = 1;
};

// out = x W^T + bias as above, in parallel over panels of kPanelRows weight rows. x and out may
// be row-major ({k, 1} / {n, 1}) or channels-first ({1, m}: conv's [C, positions]).
// REQUIRES: PackedGemmAvailable(); m, n, k >= 1; x and out hold the elements their layouts
// address and do not overlap; bias is null or holds n floats. Scratch: m * k floats, plus
// 2 * kPanelRows * k floats per thread.
void PackedGemm(const float* x, MatrixLayout x_layout, int64_t m, int64_t n, int64_t k,
                const DecodeRowFn& decode_row, const float* bias, float* out,
                MatrixLayout out_layout, ThreadPool* pool);

// Row-major x [m, k] and out [m, n].
inline void PackedGemm(const float* x, int64_t m, int64_t n, int64_t k,
                       const DecodeRowFn& decode_row, const float* bias, float* out,
                       ThreadPool* pool) {
  PackedGemm(x, {k, 1}, m, n, k, decode_row, bias, out, {n, 1}, pool);
}

}  // namespace anec::runtime
