// The weight matrices of the fp32 reference (reference_transformer.h): read from a WeightSource,
// held in fp32 (layer projections) or fp16 (embedding, LM head), and multiplied from either side
// by the runtime's GEMM. Internal to calib/.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ane/weight_source.h"
#include "base/status.h"
#include "runtime/thread_pool.h"
#include "runtime/weight_matrix.h"

namespace anec::calib {

// W [rows, cols]. Copies share the values (and W^T once built).
struct ReferenceMatrix {
  std::shared_ptr<std::vector<float>> data;  // fp32 values; empty for fp16 matrices
  runtime::WeightMatrix view;
  int64_t rows = 0, cols = 0;
  bool half = false;
  // W^T [cols, rows] in the same dtype, built by the first AddProductWithW: dy W is then one more
  // GEMM. (A kernel streaming each row of W into every output row swept the whole [t, cols]
  // output once per row of W: the reference's backward pass took 4.5x torch's time.)
  mutable std::shared_ptr<runtime::WeightMatrix> transposed;
};

// The tensor `role` of `layer` as floats, plus `offset` (RMSNorm gains' norm_weight_offset).
Result<std::vector<float>> ReadReferenceVector(const ane::WeightSource& w, model::TensorRole role,
                                               int64_t layer, double offset);

// The 2-D tensor `role` of `layer`, held in fp16 when `half`. Errors: read errors, not 2-D.
Result<ReferenceMatrix> ReadReferenceMatrix(const ane::WeightSource& w, model::TensorRole role,
                                            int64_t layer, bool half);

// out [t, rows] = x [t, cols] W^T (+ bias, may be null). REQUIRES: x.size() == t * cols.
void MultiplyByWt(const std::vector<float>& x, int64_t t, const ReferenceMatrix& m,
                  const float* bias, std::vector<float>* out, runtime::ThreadPool* pool);

// out [t, cols] += dy [t, rows] W (out is resized, zero-filled, when empty). `scratch` holds the
// product between calls. Errors: W^T could not be built (not for matrices ReadReferenceMatrix
// returns). REQUIRES: dy.size() == t * rows; out empty or of size t * cols.
Status AddProductWithW(const std::vector<float>& dy, int64_t t, const ReferenceMatrix& m,
                       std::vector<float>* out, std::vector<float>* scratch,
                       runtime::ThreadPool* pool);

}  // namespace anec::calib
