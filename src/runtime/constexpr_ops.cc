#include "runtime/constexpr_ops.h"

#include "runtime/half.h"
#include "runtime/lut_weight.h"

namespace anec::runtime {
namespace {

Result<const ConstArg*> Get(const std::map<std::string, ConstArg, std::less<>>& args,
                            std::string_view name) {
  auto it = args.find(name);
  if (it == args.end()) return InvalidArgument("required parameter '{}' is missing", name);
  return &it->second;
}

Result<Tensor> LutToDense(const std::map<std::string, ConstArg, std::less<>>& args) {
  ANEC_ASSIGN_OR_RETURN(const ConstArg* indices, Get(args, "indices"));
  ANEC_ASSIGN_OR_RETURN(const ConstArg* lut, Get(args, "lut"));
  std::optional<int64_t> vector_axis;
  if (auto it = args.find("vector_axis"); it != args.end()) {
    vector_axis = it->second.tensor.IntAt(0);
  }
  if (!indices->stored.has_value()) {
    return Internal("indices of constexpr_lut_to_dense lost their stored form");
  }
  // The stored form's type: sub-byte indices arrive packed only (ReadsPacked).
  const ValueSpec& spec = indices->stored->spec;
  const DType dtype = spec.dtype;
  int bits = SubByteBits(dtype);
  if (dtype == DType::kUInt8) bits = 8;
  if (bits == 0 || dtype == DType::kInt4) {
    return InvalidArgument("parameter 'indices' must be uint1/2/3/4/6/8, found {}",
                           spec.TypeString());
  }
  const Shape shape(spec.dims.begin(), spec.dims.end());
  std::span<const uint8_t> packed = indices->stored->bytes;
  std::shared_ptr<const void> keep = indices->keep_alive;
  ANEC_ASSIGN_OR_RETURN(std::shared_ptr<LutWeight> w,
                        LutWeight::Create(packed, keep, bits, shape, lut->tensor, vector_axis));
  return Tensor::Lut(std::move(w));
}

// out = scale * (data - offset), scale/offset repeated over blocks of data.shape / scale.shape.
Result<Tensor> BlockwiseShiftScale(const std::map<std::string, ConstArg, std::less<>>& args) {
  ANEC_ASSIGN_OR_RETURN(const ConstArg* data_arg, Get(args, "data"));
  ANEC_ASSIGN_OR_RETURN(const ConstArg* scale_arg, Get(args, "scale"));
  const Tensor& data = data_arg->tensor;
  const Tensor& scale = scale_arg->tensor;
  Tensor offset;
  if (auto it = args.find("offset"); it != args.end()) offset = it->second.tensor;
  if (!IsFloat(scale.dtype())) {
    return InvalidArgument("parameter 'scale' must be fp16 or fp32, found {}", scale.TypeString());
  }
  if (data.rank() != scale.rank() || data.rank() == 0) {
    return InvalidArgument("'data' {} and 'scale' {} must have the same rank >= 1",
                           data.TypeString(), scale.TypeString());
  }
  for (int64_t k = 0; k < data.rank(); ++k) {
    if (scale.dim(k) <= 0 || data.dim(k) % scale.dim(k) != 0) {
      return InvalidArgument("'scale' {} does not tile 'data' {} along axis {}", scale.TypeString(),
                             data.TypeString(), k);
    }
  }
  const DType dt = data.dtype();
  if (dt != DType::kInt4 && dt != DType::kUInt4 && dt != DType::kInt8 && dt != DType::kUInt8 &&
      !IsFloat(dt)) {
    return InvalidArgument("parameter 'data' must be int4, uint4, int8, uint8, fp16 or fp32, "
                           "found {}",
                           data.TypeString());
  }
  if (offset.defined() && offset.shape() != scale.shape()) {
    return InvalidArgument("'offset' {} must have the shape of 'scale' {}", offset.TypeString(),
                           scale.TypeString());
  }
  // Core ML's rule: an integer offset has the dtype of 'data' (a uint4 zero point for uint4
  // codes); a float offset (fp16 / fp32) goes with any data.
  if (offset.defined() && !IsFloat(offset.dtype()) && offset.dtype() != dt) {
    return InvalidArgument("'offset' {} must be fp16/fp32 or have the dtype of 'data' {}",
                           offset.TypeString(), data.TypeString());
  }
  const int64_t rank = data.rank(), n = data.size();
  std::vector<int64_t> sstride = Strides(scale.shape());
  std::vector<int64_t> coord(static_cast<size_t>(rank), 0);
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t s = 0;
    for (int64_t k = 0; k < rank; ++k) {
      size_t ku = static_cast<size_t>(k);
      s += coord[ku] / (data.dim(k) / scale.dim(k)) * sstride[ku];
    }
    float x = data.FloatAt(i);
    if (offset.defined()) x -= offset.FloatAt(s);
    out[static_cast<size_t>(i)] = scale.FloatAt(s) * x;
    for (int64_t k = rank - 1; k >= 0; --k) {
      if (++coord[static_cast<size_t>(k)] < data.dim(k)) break;
      coord[static_cast<size_t>(k)] = 0;
    }
  }
  return Tensor::FromFloats(scale.dtype(), data.shape(), out);
}

// iOS16: out = scale * (quantized_data - zero_point), scale / zero_point along `axis` (or scalar).
Result<Tensor> AffineDequantize(const std::map<std::string, ConstArg, std::less<>>& args) {
  ANEC_ASSIGN_OR_RETURN(const ConstArg* q, Get(args, "quantized_data"));
  ANEC_ASSIGN_OR_RETURN(const ConstArg* zp, Get(args, "zero_point"));
  ANEC_ASSIGN_OR_RETURN(const ConstArg* sc, Get(args, "scale"));
  ANEC_ASSIGN_OR_RETURN(const ConstArg* ax, Get(args, "axis"));
  const Tensor& data = q->tensor;
  ANEC_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ax->tensor.IntAt(0), data.rank()));
  const Tensor& scale = sc->tensor;
  const Tensor& zero = zp->tensor;
  int64_t inner = 1;
  for (int64_t k = axis + 1; k < data.rank(); ++k) inner *= data.dim(k);
  int64_t len = data.dim(axis);
  for (const Tensor* t : {&scale, &zero}) {
    if (t->size() != 1 && t->size() != len) {
      return InvalidArgument("scale/zero_point {} must be a scalar or have {} values",
                             t->TypeString(), len);
    }
  }
  std::vector<float> out(static_cast<size_t>(data.size()));
  for (int64_t i = 0; i < data.size(); ++i) {
    int64_t c = (i / inner) % len;
    float s = scale.FloatAt(scale.size() == 1 ? 0 : c);
    float z = zero.FloatAt(zero.size() == 1 ? 0 : c);
    out[static_cast<size_t>(i)] = s * (data.FloatAt(i) - z);
  }
  return Tensor::FromFloats(scale.dtype(), data.shape(), out);
}

}  // namespace

bool IsConstexprOp(std::string_view type) { return type.starts_with("constexpr_"); }

bool ReadsPacked(std::string_view type, std::string_view param) {
  return type == "constexpr_lut_to_dense" && param == "indices";
}

Result<Tensor> EvaluateConstexpr(std::string_view type,
                                 const std::map<std::string, ConstArg, std::less<>>& args) {
  if (type == "constexpr_lut_to_dense") return LutToDense(args);
  if (type == "constexpr_blockwise_shift_scale") return BlockwiseShiftScale(args);
  if (type == "constexpr_affine_dequantize") return AffineDequantize(args);
  if (type == "constexpr_cast") {
    ANEC_ASSIGN_OR_RETURN(const ConstArg* src, Get(args, "source"));
    ANEC_ASSIGN_OR_RETURN(const ConstArg* dt, Get(args, "output_dtype"));
    if (dt->tensor.dtype() != DType::kString || dt->tensor.size() != 1) {
      return InvalidArgument("parameter 'output_dtype' must be a string");
    }
    ANEC_ASSIGN_OR_RETURN(DType to, DTypeFromName(dt->tensor.strings()[0]));
    return Tensor::FromFloats(to, src->tensor.shape(), src->tensor.ToFloats());
  }
  return Unsupported("constexpr op type '{}' is not supported by the anec runtime", type);
}

}  // namespace anec::runtime
