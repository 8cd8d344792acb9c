// Linear algebra ops: linear, matmul, conv, scaled_dot_product_attention.
#include "mil/function_internal.h"
#include "mil/op_registry.h"

namespace anec::mil {

namespace {

constexpr DType kF16 = DType::kFloat16, kF32 = DType::kFloat32, kI32 = DType::kInt32,
                kBool = DType::kBool;

ParamSpec Req(std::string n) { return {std::move(n), true, false, ParamKind::kTensor}; }
ParamSpec Opt(std::string n) { return {std::move(n), false, false, ParamKind::kTensor}; }
ParamSpec OptConst(std::string n) { return {std::move(n), false, true, ParamKind::kTensor}; }
ParamSpec ReqConst(std::string n) { return {std::move(n), true, true, ParamKind::kTensor}; }

// A const op output (not a constexpr_* one), as matmul's dtype rule distinguishes.
bool IsConstOp(const Value& v) {
  return v.is_compile_time_constant() && !v.function()->values()[v.id()]->is_constexpr;
}

Result<std::vector<TensorType>> InferLinear(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32}));
  if (c.opset() >= Opset::kIOS17) {
    ANEC_RETURN_IF_ERROR(c.ExpectDType("weight", {kF16, kF32, kI32}));
  } else {
    ANEC_RETURN_IF_ERROR(c.SameDType("weight", "x"));
  }
  const TensorType& x = c.In("x").type();
  const TensorType& w = c.In("weight").type();
  if (w.shape.size() != 2) {
    return c.Error("weight", fmt::format("expected rank 2 [Dout, Din], found {}", w.ToString()));
  }
  if (x.shape.empty() || x.shape.back() != w.shape[1]) {
    return c.Error("weight", fmt::format("expected Din {} (last dim of 'x' {}), found {}",
                                         x.shape.empty() ? 0 : x.shape.back(), x.ToString(),
                                         w.ToString()));
  }
  // coremltools materializes the default bias as zeros of the weight dtype.
  int64_t dout = w.shape[0];
  if (!c.Has("bias")) {
    if (w.dtype == kF16) {
      c.Default("bias", Tensor::F16Bits({dout}, std::vector<uint16_t>(dout, 0)));
    } else if (w.dtype == kF32) {
      c.Default("bias", Tensor::F32({dout}, std::vector<float>(dout, 0.f)));
    } else {
      c.Default("bias", Tensor::I32({dout}, std::vector<int32_t>(dout, 0)));
    }
  }
  ANEC_RETURN_IF_ERROR(c.SameDType("bias", "weight"));
  if (c.In("bias").type().shape != std::vector<int64_t>{dout}) {
    return c.Error("bias", fmt::format("expected shape [{}], found {}", dout,
                                       c.In("bias").type().ToString()));
  }
  std::vector<int64_t> out = x.shape;
  out.back() = dout;
  return std::vector<TensorType>{{x.dtype, out}};
}

Result<std::vector<TensorType>> InferMatmul(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32}));
  ANEC_RETURN_IF_ERROR(c.ExpectDType("y", {kF16, kF32, kI32}));
  c.Default("transpose_x", Tensor::ScalarBool(false));
  c.Default("transpose_y", Tensor::ScalarBool(false));
  ANEC_ASSIGN_OR_RETURN(bool tx, c.Bool("transpose_x"));
  ANEC_ASSIGN_OR_RETURN(bool ty, c.Bool("transpose_y"));
  Value xv = c.In("x"), yv = c.In("y");
  DType out_dtype = xv.type().dtype;
  if (xv.type().dtype != yv.type().dtype) {
    bool xc = IsConstOp(xv), yc = IsConstOp(yv);
    if (c.opset() < Opset::kIOS17 || xc == yc) {
      return c.Error("y", fmt::format("expected dtype {} (same as 'x'), found {}",
                                      DTypeName(xv.type().dtype), yv.type().ToString()));
    }
    out_dtype = xc ? yv.type().dtype : xv.type().dtype;
  }
  std::vector<int64_t> xs = xv.type().shape, ys = yv.type().shape;
  if (xs.empty() || ys.empty()) {
    return c.Error(xs.empty() ? "x" : "y", "expected rank >= 1, found a scalar");
  }
  bool x1 = xs.size() == 1, y1 = ys.size() == 1;
  if (x1) xs.insert(xs.begin(), 1);
  if (y1) ys.push_back(1);
  if (tx && !x1) std::swap(xs[xs.size() - 1], xs[xs.size() - 2]);
  if (ty && !y1) std::swap(ys[ys.size() - 1], ys[ys.size() - 2]);
  if (xs.back() != ys[ys.size() - 2]) {
    return c.Error("y", fmt::format("inner dimension {} (after transpose_y={}) does not match "
                                    "'x' inner dimension {} (after transpose_x={}); x {}, y {}",
                                    ys[ys.size() - 2], ty, xs.back(), tx,
                                    xv.type().ToString(), yv.type().ToString()));
  }
  std::vector<int64_t> xb(xs.begin(), xs.end() - 2), yb(ys.begin(), ys.end() - 2);
  auto batch = BroadcastShapes(xb, yb);
  if (!batch) {
    return c.Error("y", fmt::format("batch dims {} do not broadcast with 'x' batch dims {}",
                                    ShapeString(yb), ShapeString(xb)));
  }
  std::vector<int64_t> out = *batch;
  if (!x1) out.push_back(xs[xs.size() - 2]);
  if (!y1) out.push_back(ys.back());
  return std::vector<TensorType>{{out_dtype, out}};
}

Result<std::vector<TensorType>> InferConv(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
  if (c.opset() >= Opset::kIOS17) {
    ANEC_RETURN_IF_ERROR(c.ExpectDType("weight", {kF16, kF32}));
    ANEC_RETURN_IF_ERROR(c.ExpectDType("bias", {kF16, kF32}));
  } else {
    ANEC_RETURN_IF_ERROR(c.SameDType("weight", "x"));
    ANEC_RETURN_IF_ERROR(c.SameDType("bias", "x"));
  }
  const TensorType& x = c.In("x").type();
  const TensorType& w = c.In("weight").type();
  if (x.shape.size() < 3 || x.shape.size() > 5) {
    return c.Error("x", fmt::format("expected rank 3..5 [N, Cin, spatial...], found {}",
                                    x.ToString()));
  }
  size_t ns = x.shape.size() - 2;
  if (w.shape.size() != x.shape.size()) {
    return c.Error("weight", fmt::format("expected rank {} [Cout, Cin/groups, kernel...], found {}",
                                         x.shape.size(), w.ToString()));
  }
  std::vector<int32_t> ones(ns, 1), zeros(2 * ns, 0);
  int64_t nsl = static_cast<int64_t>(ns);
  c.Default("strides", Tensor::I32({nsl}, ones));
  c.Default("pad_type", Tensor::ScalarString("valid"));
  c.Default("pad", Tensor::I32({2 * nsl}, zeros));
  c.Default("dilations", Tensor::I32({nsl}, ones));
  c.Default("groups", Tensor::ScalarI32(1));
  ANEC_ASSIGN_OR_RETURN(auto strides, c.Ints("strides"));
  ANEC_ASSIGN_OR_RETURN(std::string pad_type, c.String("pad_type"));
  ANEC_ASSIGN_OR_RETURN(auto pad, c.Ints("pad"));
  ANEC_ASSIGN_OR_RETURN(auto dilations, c.Ints("dilations"));
  ANEC_ASSIGN_OR_RETURN(int64_t groups, c.Int("groups"));
  if (strides.size() != ns) {
    return c.Error("strides", fmt::format("expected {} values, found {}", ns, strides.size()));
  }
  if (dilations.size() != ns) {
    return c.Error("dilations", fmt::format("expected {} values, found {}", ns, dilations.size()));
  }
  if (pad.size() != 2 * ns) {
    return c.Error("pad", fmt::format("expected {} values, found {}", 2 * ns, pad.size()));
  }
  if (pad_type != "valid" && pad_type != "same" && pad_type != "custom" &&
      pad_type != "same_lower") {
    return c.Error("pad_type", fmt::format("expected valid, same, same_lower or custom, found '{}'",
                                           pad_type));
  }
  int64_t cin = x.shape[1], cout = w.shape[0];
  if (groups <= 0 || cin % groups != 0 || cin / groups != w.shape[1]) {
    return c.Error("weight", fmt::format("expected Cin/groups = {}/{} at dim 1, found {}", cin,
                                         groups, w.ToString()));
  }
  if (c.Has("bias") && c.In("bias").type().shape != std::vector<int64_t>{cout}) {
    return c.Error("bias", fmt::format("expected shape [{}], found {}", cout,
                                       c.In("bias").type().ToString()));
  }
  std::vector<int64_t> out = {x.shape[0], cout};
  for (size_t i = 0; i < ns; ++i) {
    int64_t in = x.shape[2 + i], s = strides[i];
    if (s <= 0) return c.Error("strides", fmt::format("expected > 0, found {}", s));
    int64_t eff = (w.shape[2 + i] - 1) * dilations[i] + 1;
    int64_t o;
    if (pad_type == "same" || pad_type == "same_lower") {
      o = (in + s - 1) / s;
    } else {
      int64_t total = pad_type == "custom" ? pad[2 * i] + pad[2 * i + 1] : 0;
      if (in + total < eff) {
        return c.Error("weight", fmt::format("kernel extent {} exceeds padded input {} at spatial "
                                             "dim {}",
                                             eff, in + total, i));
      }
      o = (in + total - eff) / s + 1;
    }
    out.push_back(o);
  }
  return std::vector<TensorType>{{x.dtype, out}};
}

Result<std::vector<TensorType>> InferSdpa(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("query", {kF16, kF32}));
  ANEC_RETURN_IF_ERROR(c.SameDType("key", "query"));
  ANEC_RETURN_IF_ERROR(c.SameDType("value", "query"));
  ANEC_RETURN_IF_ERROR(c.ExpectDType("attn_mask", {kBool, kF16, kF32}));
  const auto& q = c.In("query").type().shape;
  const auto& k = c.In("key").type().shape;
  const auto& v = c.In("value").type().shape;
  if (q.size() < 3) return c.Error("query", fmt::format("expected rank >= 3, found {}", ShapeString(q)));
  if (k.size() != q.size()) return c.Error("key", fmt::format("expected rank {}, found {}", q.size(), ShapeString(k)));
  if (v.size() != q.size()) return c.Error("value", fmt::format("expected rank {}, found {}", q.size(), ShapeString(v)));
  size_t r = q.size();
  std::vector<int64_t> bq(q.begin(), q.end() - 2), bk(k.begin(), k.end() - 2), bv(v.begin(), v.end() - 2);
  if (bk != bq) return c.Error("key", fmt::format("expected batch dims {}, found {}", ShapeString(bq), ShapeString(bk)));
  if (bv != bq) return c.Error("value", fmt::format("expected batch dims {}, found {}", ShapeString(bq), ShapeString(bv)));
  if (k[r - 1] != q[r - 1]) {
    return c.Error("key", fmt::format("expected embedding {} (as 'query'), found {}", q[r - 1], k[r - 1]));
  }
  if (v[r - 2] != k[r - 2]) {
    return c.Error("value", fmt::format("expected sequence length {} (as 'key'), found {}", k[r - 2], v[r - 2]));
  }
  if (c.Has("attn_mask")) {
    const auto& m = c.In("attn_mask").type().shape;
    if (m.empty() || m.back() != k[r - 2]) {
      return c.Error("attn_mask", fmt::format("expected last dim {} (key sequence), found {}",
                                              k[r - 2], ShapeString(m)));
    }
    std::vector<int64_t> qh(q.begin(), q.end() - 1), mh(m.begin(), m.end() - 1);
    if (!BroadcastShapes(qh, mh)) {
      return c.Error("attn_mask", fmt::format("leading dims {} do not broadcast with query {}",
                                              ShapeString(mh), ShapeString(qh)));
    }
  }
  std::vector<int64_t> out(q.begin(), q.end() - 1);
  out.push_back(v.back());
  return std::vector<TensorType>{{c.In("query").type().dtype, out}};
}

}  // namespace

void RegisterLinearOps(OpRegistry& r) {
  r.Register({"linear", Opset::kIOS16, {Req("x"), ReqConst("weight"), OptConst("bias")}, InferLinear});
  r.Register({"matmul", Opset::kIOS16,
              {Req("x"), Req("y"), OptConst("transpose_x"), OptConst("transpose_y")},
              InferMatmul});
  r.Register({"conv", Opset::kIOS16,
              {Req("x"), Req("weight"), Opt("bias"), OptConst("strides"), OptConst("pad_type"),
               OptConst("pad"), OptConst("dilations"), OptConst("groups")},
              InferConv});
  r.Register({"scaled_dot_product_attention", Opset::kIOS18,
              {Req("query"), Req("key"), Req("value"), Opt("attn_mask")}, InferSdpa});
}

}  // namespace anec::mil
