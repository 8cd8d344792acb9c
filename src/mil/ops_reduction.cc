// Reductions and normalization: reduce_mean/sum/max/min, reduce_argmax, layer_norm.
#include <set>

#include "mil/op_registry.h"

namespace anec::mil {

namespace {

constexpr DType kF16 = DType::kFloat16, kF32 = DType::kFloat32, kI32 = DType::kInt32;

ParamSpec Req(std::string n) { return {std::move(n), true, false, ParamKind::kTensor}; }
ParamSpec OptConst(std::string n) { return {std::move(n), false, true, ParamKind::kTensor}; }

using Types = Result<std::vector<TensorType>>;

Result<std::set<int64_t>> ReadAxes(OpCall& c, const std::string& p, int64_t rank) {
  std::set<int64_t> out;
  ANEC_ASSIGN_OR_RETURN(auto axes, c.Ints(p));
  for (int64_t a : axes) {
    auto n = NormalizeAxis(a, rank);
    if (!n || out.count(*n)) {
      return c.Error(p, fmt::format("expected distinct axes in [{}, {}), found {}", -rank, rank,
                                    ShapeString(axes)));
    }
    out.insert(*n);
  }
  return out;
}

Types InferReduce(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32}));
  c.Default("keep_dims", Tensor::ScalarBool(false));
  ANEC_ASSIGN_OR_RETURN(bool keep, c.Bool("keep_dims"));
  const TensorType& x = c.In("x").type();
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::set<int64_t> axes;
  if (c.Has("axes")) {
    ANEC_ASSIGN_OR_RETURN(axes, ReadAxes(c, "axes", rank));
  } else {  // default: all axes (coremltools leaves 'axes' unset)
    for (int64_t i = 0; i < rank; ++i) axes.insert(i);
  }
  std::vector<int64_t> out;
  for (int64_t i = 0; i < rank; ++i) {
    if (!axes.count(i)) {
      out.push_back(x.shape[i]);
    } else if (keep) {
      out.push_back(1);
    }
  }
  return std::vector<TensorType>{{x.dtype, out}};
}

Types InferArgmax(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32}));
  c.Default("axis", Tensor::ScalarI32(-1));
  c.Default("keep_dims", Tensor::ScalarBool(false));
  ANEC_ASSIGN_OR_RETURN(bool keep, c.Bool("keep_dims"));
  ANEC_ASSIGN_OR_RETURN(int64_t axis, c.Int("axis"));
  const TensorType& x = c.In("x").type();
  int64_t rank = static_cast<int64_t>(x.shape.size());
  auto ax = NormalizeAxis(axis, rank);
  if (!ax) return c.Error("axis", fmt::format("expected an axis in [{}, {}), found {}", -rank, rank, axis));
  std::vector<int64_t> out;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != *ax) {
      out.push_back(x.shape[i]);
    } else if (keep) {
      out.push_back(1);
    }
  }
  return std::vector<TensorType>{{kI32, out}};
}

Types InferLayerNorm(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
  const TensorType& x = c.In("x").type();
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int32_t> all;
  for (int64_t i = 0; i < rank; ++i) all.push_back(static_cast<int32_t>(i));
  c.Default("axes", Tensor::I32({rank}, all));
  c.Default("epsilon", x.dtype == kF16 ? Tensor::F16({}, {1e-5f}) : Tensor::ScalarF32(1e-5f));
  ANEC_ASSIGN_OR_RETURN(std::set<int64_t> axes, ReadAxes(c, "axes", rank));
  std::vector<int64_t> norm_shape;
  for (int64_t a : axes) norm_shape.push_back(x.shape[a]);
  for (const char* p : {"gamma", "beta", "epsilon"}) {
    if (c.opset() >= Opset::kIOS17) {
      ANEC_RETURN_IF_ERROR(c.ExpectDType(p, {kF16, kF32}));
    } else {
      ANEC_RETURN_IF_ERROR(c.SameDType(p, "x"));
    }
  }
  for (const char* p : {"gamma", "beta"}) {
    if (c.Has(p) && c.In(p).type().shape != norm_shape) {
      return c.Error(p, fmt::format("expected shape {} (x dims at 'axes'), found {}",
                                    ShapeString(norm_shape), c.In(p).type().ToString()));
    }
  }
  ANEC_RETURN_IF_ERROR(c.ExpectRank("epsilon", 0));
  return std::vector<TensorType>{x};
}

}  // namespace

void RegisterReductionOps(OpRegistry& r) {
  for (const char* t : {"reduce_mean", "reduce_sum", "reduce_max", "reduce_min"}) {
    r.Register({t, Opset::kIOS16, {Req("x"), OptConst("axes"), OptConst("keep_dims")}, InferReduce});
  }
  r.Register({"reduce_argmax", Opset::kIOS16, {Req("x"), OptConst("axis"), OptConst("keep_dims")},
              InferArgmax});
  r.Register({"layer_norm", Opset::kIOS16,
              {Req("x"), OptConst("axes"), OptConst("gamma"), OptConst("beta"), OptConst("epsilon")},
              InferLayerNorm});
}

}  // namespace anec::mil
