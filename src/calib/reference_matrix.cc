// ReferenceMatrix and its products (reference_matrix.h).
#include "calib/reference_matrix.h"

#include "io/tensor_source.h"
#include "runtime/tensor.h"

namespace anec::calib {
namespace {

using Vec = std::vector<float>;

// m's W^T, built on first use.
Result<const runtime::WeightMatrix*> TransposedView(const ReferenceMatrix& m) {
  if (m.transposed) return m.transposed.get();
  auto t = std::make_shared<Vec>(static_cast<size_t>(m.rows * m.cols));
  Vec row(static_cast<size_t>(m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    m.view.DecodeRow(r, row.data());
    for (int64_t c = 0; c < m.cols; ++c) {
      (*t)[static_cast<size_t>(c * m.rows + r)] = row[static_cast<size_t>(c)];
    }
  }
  runtime::Tensor tensor;
  if (m.half) {
    tensor = runtime::Tensor::FromFloats(runtime::DType::kFloat16, {m.cols, m.rows}, *t);
  } else {
    tensor = runtime::Tensor::View(runtime::DType::kFloat32, {m.cols, m.rows},
                                   reinterpret_cast<const uint8_t*>(t->data()), t);
  }
  ANEC_ASSIGN_OR_RETURN(runtime::WeightMatrix view,
                        runtime::WeightMatrix::Create(tensor, m.cols, m.rows));
  m.transposed = std::make_shared<runtime::WeightMatrix>(std::move(view));
  return m.transposed.get();
}

}  // namespace

Result<Vec> ReadReferenceVector(const ane::WeightSource& w, model::TensorRole role, int64_t layer,
                                double offset) {
  ANEC_ASSIGN_OR_RETURN(io::TensorData t, w.Read(role, layer));
  ANEC_ASSIGN_OR_RETURN(Vec v, io::ToFloat32(t));
  if (offset != 0.0) {
    for (float& x : v) x = static_cast<float>(x + offset);
  }
  return v;
}

Result<ReferenceMatrix> ReadReferenceMatrix(const ane::WeightSource& w, model::TensorRole role,
                                            int64_t layer, bool half) {
  ANEC_ASSIGN_OR_RETURN(io::TensorData t, w.Read(role, layer));
  if (t.info.shape.size() != 2) return Internal("loss gradients: {} is not a matrix", t.info.name);
  ReferenceMatrix m;
  m.half = half;
  m.rows = t.info.shape[0];
  m.cols = t.info.shape[1];
  ANEC_ASSIGN_OR_RETURN(Vec v, io::ToFloat32(t));
  runtime::Tensor tensor;
  if (half) {
    tensor = runtime::Tensor::FromFloats(runtime::DType::kFloat16, {m.rows, m.cols}, v);
  } else {
    m.data = std::make_shared<Vec>(std::move(v));
    tensor = runtime::Tensor::View(runtime::DType::kFloat32, {m.rows, m.cols},
                                   reinterpret_cast<const uint8_t*>(m.data->data()), m.data);
  }
  ANEC_ASSIGN_OR_RETURN(m.view, runtime::WeightMatrix::Create(tensor, m.rows, m.cols));
  return m;
}

void MultiplyByWt(const Vec& x, int64_t t, const ReferenceMatrix& m, const float* bias, Vec* out,
                  runtime::ThreadPool* pool) {
  out->assign(static_cast<size_t>(t * m.rows), 0.0f);
  runtime::GemmXWt(x.data(), t, m.view, bias, out->data(), pool);
}

Status AddProductWithW(const Vec& dy, int64_t t, const ReferenceMatrix& m, Vec* out, Vec* scratch,
                       runtime::ThreadPool* pool) {
  out->resize(static_cast<size_t>(t * m.cols), 0.0f);
  ANEC_ASSIGN_OR_RETURN(const runtime::WeightMatrix* wt, TransposedView(m));
  scratch->resize(static_cast<size_t>(t * m.cols));
  runtime::GemmXWt(dy.data(), t, *wt, nullptr, scratch->data(), pool);
  for (size_t i = 0; i < scratch->size(); ++i) (*out)[i] += (*scratch)[i];
  return Status::Ok();
}

}  // namespace anec::calib
