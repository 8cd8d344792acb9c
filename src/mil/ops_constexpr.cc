// iOS18 compression ops: constexpr_lut_to_dense and constexpr_blockwise_shift_scale.
// Their inputs are compile-time constants; the serializer binds them inline to the op.
#include "mil/op_registry.h"

namespace anec::mil {

namespace {

ParamSpec ReqConst(std::string n) { return {std::move(n), true, true, ParamKind::kTensor}; }
ParamSpec OptConst(std::string n) { return {std::move(n), false, true, ParamKind::kTensor}; }

using Types = Result<std::vector<TensorType>>;

Types InferLut(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("indices", {DType::kUInt1, DType::kUInt2, DType::kUInt3,
                                                 DType::kUInt4, DType::kUInt6, DType::kUInt8}));
  ANEC_RETURN_IF_ERROR(c.ExpectDType(
      "lut", {DType::kInt8, DType::kUInt8, DType::kFloat16, DType::kFloat32}));
  const TensorType& idx = c.In("indices").type();
  const TensorType& lut = c.In("lut").type();
  size_t r = idx.shape.size();
  if (r < 1) return c.Error("indices", "expected rank >= 1, found a scalar");
  if (lut.shape.size() != r + 2) {
    return c.Error("lut", fmt::format("expected rank {} (indices rank + 2), found {}", r + 2,
                                      lut.ToString()));
  }
  for (size_t i = 0; i < r; ++i) {
    if (lut.shape[i] <= 0 || idx.shape[i] % lut.shape[i] != 0) {
      return c.Error("lut", fmt::format("dim {} is {}, expected a divisor of indices dim {}", i,
                                        lut.shape[i], idx.shape[i]));
    }
  }
  int bits = DTypeBits(idx.dtype);
  if (lut.shape[r] != (int64_t{1} << bits)) {
    return c.Error("lut", fmt::format("dim {} is {}, expected 2^{} = {} entries for {} indices", r,
                                      lut.shape[r], bits, 1 << bits, DTypeName(idx.dtype)));
  }
  std::vector<int64_t> out = idx.shape;
  int64_t vector_size = lut.shape[r + 1];
  if (c.Has("vector_axis")) {
    ANEC_ASSIGN_OR_RETURN(int64_t axis, c.Int("vector_axis"));
    auto ax = NormalizeAxis(axis, static_cast<int64_t>(r));
    if (!ax) return c.Error("vector_axis", fmt::format("expected an axis in [-{}, {}), found {}", r, r, axis));
    out[*ax] *= vector_size;
  } else if (vector_size != 1) {
    return c.Error("vector_axis", fmt::format("required when the lut vector size is {} (> 1)",
                                              vector_size));
  }
  return std::vector<TensorType>{{lut.dtype, out}};
}

Types InferShiftScale(OpCall& c) {
  std::initializer_list<DType> src = {DType::kInt4, DType::kUInt4, DType::kInt8, DType::kUInt8,
                                      DType::kFloat16, DType::kFloat32};
  ANEC_RETURN_IF_ERROR(c.ExpectDType("data", src));
  ANEC_RETURN_IF_ERROR(c.ExpectDType("scale", {DType::kFloat16, DType::kFloat32}));
  ANEC_RETURN_IF_ERROR(c.ExpectDType("offset", src));
  const TensorType& data = c.In("data").type();
  const TensorType& scale = c.In("scale").type();
  if (data.shape.empty()) return c.Error("data", "expected rank >= 1, found a scalar");
  if (scale.shape.size() != data.shape.size()) {
    return c.Error("scale", fmt::format("expected rank {} (as 'data' {}), found {}",
                                        data.shape.size(), data.ToString(), scale.ToString()));
  }
  for (size_t i = 0; i < data.shape.size(); ++i) {
    if (scale.shape[i] <= 0 || data.shape[i] % scale.shape[i] != 0) {
      return c.Error("scale", fmt::format("dim {} is {}, expected a divisor of data dim {}", i,
                                          scale.shape[i], data.shape[i]));
    }
  }
  if (c.Has("offset")) {
    const TensorType& off = c.In("offset").type();
    if (off.shape != scale.shape) {
      return c.Error("offset", fmt::format("expected shape {} (as 'scale'), found {}",
                                           ShapeString(scale.shape), off.ToString()));
    }
    if (!IsFloat(off.dtype) && off.dtype != data.dtype) {
      return c.Error("offset", fmt::format("expected a float dtype or {} (as 'data'), found {}",
                                           DTypeName(data.dtype), off.ToString()));
    }
  }
  return std::vector<TensorType>{{scale.dtype, data.shape}};
}

}  // namespace

void RegisterConstexprOps(OpRegistry& r) {
  r.Register({"constexpr_lut_to_dense", Opset::kIOS18,
              {ReqConst("indices"), ReqConst("lut"), OptConst("vector_axis")}, InferLut, true});
  r.Register({"constexpr_blockwise_shift_scale", Opset::kIOS18,
              {ReqConst("data"), ReqConst("scale"), OptConst("offset")}, InferShiftScale, true});
}

}  // namespace anec::mil
