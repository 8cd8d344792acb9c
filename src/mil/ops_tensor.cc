// Tensor ops: tile(x, reps) and topk(x, k, axis, ascending, sort, return_indices,
// output_indices_dtype).
#include "mil/op_registry.h"

namespace anec::mil {

namespace {

ParamSpec Req(std::string n) { return {std::move(n), true, false, ParamKind::kTensor}; }
ParamSpec OptConst(std::string n) { return {std::move(n), false, true, ParamKind::kTensor}; }

using Types = Result<std::vector<TensorType>>;

Types InferTile(OpCall& c) {
  ANEC_RETURN_IF_ERROR(
      c.ExpectDType("x", {DType::kFloat16, DType::kFloat32, DType::kInt32, DType::kBool}));
  ANEC_RETURN_IF_ERROR(c.ExpectDType("reps", {DType::kInt32}));
  const TensorType& x = c.In("x").type();
  ANEC_ASSIGN_OR_RETURN(auto reps, c.Ints("reps"));
  if (reps.size() != x.shape.size()) {
    return c.Error("reps", fmt::format("expected {} values (rank of 'x' {}), found {}",
                                       x.shape.size(), x.ToString(), ShapeString(reps)));
  }
  std::vector<int64_t> out = x.shape;
  for (size_t i = 0; i < out.size(); ++i) {
    if (reps[i] <= 0) return c.Error("reps", fmt::format("expected values > 0, found {}", ShapeString(reps)));
    out[i] *= reps[i];
  }
  return std::vector<TensorType>{{x.dtype, out}};
}

Types InferTopk(OpCall& c) {
  bool ios17 = c.opset() >= Opset::kIOS17;
  if (ios17) {
    ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {DType::kFloat16, DType::kFloat32, DType::kInt8,
                                             DType::kInt16, DType::kInt32, DType::kUInt8,
                                             DType::kUInt16}));
  } else {
    ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {DType::kFloat16, DType::kFloat32, DType::kInt32}));
  }
  c.Default("k", Tensor::ScalarI32(1));
  c.Default("axis", Tensor::ScalarI32(-1));
  c.Default("ascending", Tensor::ScalarBool(false));
  c.Default("sort", Tensor::ScalarBool(true));
  c.Default("return_indices", Tensor::ScalarBool(true));
  ANEC_ASSIGN_OR_RETURN(bool return_indices, c.Bool("return_indices"));
  if (ios17 && return_indices) c.Default("output_indices_dtype", Tensor::ScalarString("int32"));
  if (!ios17 && c.Has("output_indices_dtype")) {
    return c.Error("output_indices_dtype", "expected nothing: this input needs opset iOS17+");
  }
  ANEC_RETURN_IF_ERROR(c.Bool("ascending").status());
  ANEC_RETURN_IF_ERROR(c.Bool("sort").status());
  ANEC_ASSIGN_OR_RETURN(int64_t k, c.Int("k"));
  ANEC_ASSIGN_OR_RETURN(int64_t axis, c.Int("axis"));
  const TensorType& x = c.In("x").type();
  int64_t rank = static_cast<int64_t>(x.shape.size());
  auto ax = NormalizeAxis(axis, rank);
  if (!ax) return c.Error("axis", fmt::format("expected an axis in [{}, {}), found {}", -rank, rank, axis));
  if (k <= 0 || k > x.shape[*ax]) {
    return c.Error("k", fmt::format("expected 1..{} (dim {} of {}), found {}", x.shape[*ax], *ax,
                                    x.ToString(), k));
  }
  DType index_dtype = DType::kInt32;
  if (c.Has("output_indices_dtype")) {
    ANEC_ASSIGN_OR_RETURN(std::string name, c.String("output_indices_dtype"));
    if (name != "int32" && name != "uint16") {
      return c.Error("output_indices_dtype", fmt::format("expected int32 or uint16, found '{}'", name));
    }
    index_dtype = *DTypeFromName(name);
  }
  std::vector<int64_t> shape = x.shape;
  shape[*ax] = k;
  std::vector<TensorType> out = {{x.dtype, shape}};
  if (return_indices) out.push_back({index_dtype, shape});
  return out;
}

}  // namespace

void RegisterTensorOps(OpRegistry& r) {
  r.Register({"tile", Opset::kIOS16, {Req("x"), Req("reps")}, InferTile});
  r.Register({"topk", Opset::kIOS16,
              {Req("x"), OptConst("k"), OptConst("axis"), OptConst("ascending"), OptConst("sort"),
               OptConst("return_indices"), OptConst("output_indices_dtype")},
              InferTopk});
}

}  // namespace anec::mil
