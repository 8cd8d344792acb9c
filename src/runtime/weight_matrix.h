// The weight side of linear / 1x1 conv / matmul against a constant: a [rows, cols] matrix read
// one row at a time in its stored form (fp16 converted on the fly, or LUT indices + tables
// decoded on the fly), multiplied with fp32 activations, fp32 accumulation, on all cores.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

namespace anec::runtime {

class LutWeight;

class WeightMatrix {
 public:
  // Views `w` (fp16 / fp32 dense, or a row-decodable LUT) as [rows, cols] (w.size() must be
  // rows * cols and, for LUT, rows == w.shape()[0]). Any other dense dtype is an error.
  static Result<WeightMatrix> Create(const Tensor& w, int64_t rows, int64_t cols);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  void DecodeRow(int64_t r, float* out) const;
  // The fp16 rows (row r at r * cols()) when the weight is dense fp16, else null.
  // The LUT weight when it has a register-decoding dot (LutWeight::FastDot), else null.
  const LutWeight* fast_lut() const;
  const uint16_t* half_rows() const {
    return !t_.is_lut() && t_.dtype() == DType::kFloat16 ? t_.data<uint16_t>() : nullptr;
  }

 private:
  Tensor t_;
  int64_t rows_ = 0, cols_ = 0;
};

// fp32 dot product of n elements (vectorized when the CPU allows).
float Dot(const float* a, const float* b, int64_t n);

// out[i, j] = sum_k x[i, k] * W[j, k] + bias[j] for i < m, j < W.rows(); x is [m, W.cols()].
// `bias` may be null. Parallel over j.
void GemmXWt(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* out,
             ThreadPool* pool);

// For benchmarks: with `force`, GemmXWt and GemmXWtChannelsFirst never pack (the 4-row dot
// tiles at every row count), so one run can time both paths (runtime_bench --gemv).
// Process-wide.
void ForceDotTileGemm(bool force);

// As GemmXWt with x and out channels-first (a 1x1 conv's [C, positions]): x is [W.cols(), m],
// out [W.rows(), m]. The packed GEMM reads and writes these layouts in place; otherwise x and
// the result are transposed around GemmXWt.
void GemmXWtChannelsFirst(const float* x, int64_t m, const WeightMatrix& w, const float* bias,
                          float* out, ThreadPool* pool);

}  // namespace anec::runtime
