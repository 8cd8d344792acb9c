// Elementwise ops: binary with numpy broadcasting, unary activations, cast, select, identity.
#include "mil/op_registry.h"

namespace anec::mil {

namespace {

constexpr DType kF16 = DType::kFloat16, kF32 = DType::kFloat32, kI32 = DType::kInt32,
                kBool = DType::kBool;

ParamSpec Req(std::string n) { return {std::move(n), true, false, ParamKind::kTensor}; }
ParamSpec OptConst(std::string n) { return {std::move(n), false, true, ParamKind::kTensor}; }
ParamSpec ReqConst(std::string n) { return {std::move(n), true, true, ParamKind::kTensor}; }

Result<std::vector<int64_t>> Broadcast(OpCall& c, const std::string& a, const std::string& b) {
  auto s = BroadcastShapes(c.In(a).type().shape, c.In(b).type().shape);
  if (!s) {
    return c.Error(b, fmt::format("shape {} does not broadcast with '{}' shape {}",
                                  ShapeString(c.In(b).type().shape), a,
                                  ShapeString(c.In(a).type().shape)));
  }
  return *s;
}

void Binary(OpRegistry& r, const std::string& type, bool bool_output) {
  r.Register({type, Opset::kIOS16, {Req("x"), Req("y")}, [bool_output](OpCall& c)
                  -> Result<std::vector<TensorType>> {
                ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32}));
                ANEC_RETURN_IF_ERROR(c.SameDType("y", "x"));
                ANEC_ASSIGN_OR_RETURN(auto shape, Broadcast(c, "x", "y"));
                return std::vector<TensorType>{
                    {bool_output ? kBool : c.In("x").type().dtype, shape}};
              }});
}

void Unary(OpRegistry& r, const std::string& type) {
  r.Register({type, Opset::kIOS16, {Req("x")}, [](OpCall& c) -> Result<std::vector<TensorType>> {
                ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
                return std::vector<TensorType>{c.In("x").type()};
              }});
}

}  // namespace

void RegisterElementwiseOps(OpRegistry& r) {
  for (const char* t : {"add", "sub", "mul", "real_div", "pow", "maximum", "minimum"}) {
    Binary(r, t, false);
  }
  for (const char* t : {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}) {
    Binary(r, t, true);
  }
  for (const char* t : {"sqrt", "exp", "sigmoid", "silu", "tanh", "cos", "sin", "relu", "erf",
                        "abs", "square", "floor", "ceil", "sign"}) {
    Unary(r, t);
  }

  r.Register({"rsqrt", Opset::kIOS16, {Req("x"), OptConst("epsilon")},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
                DType x = c.In("x").type().dtype;
                c.Default("epsilon", x == kF16 ? Tensor::F16({}, {1e-12f}) : Tensor::ScalarF32(1e-12f));
                if (c.opset() >= Opset::kIOS17) {
                  ANEC_RETURN_IF_ERROR(c.ExpectDType("epsilon", {kF16, kF32}));
                } else {
                  ANEC_RETURN_IF_ERROR(c.SameDType("epsilon", "x"));
                }
                ANEC_RETURN_IF_ERROR(c.ExpectRank("epsilon", 0));
                return std::vector<TensorType>{c.In("x").type()};
              }});

  // log / inverse: x plus an epsilon like rsqrt's (defaults 1e-45 and 1e-4 in x's dtype).
  for (auto [type, eps] : {std::pair<const char*, float>{"log", 1e-45f}, {"inverse", 1e-4f}}) {
    float e = eps;
    r.Register({type, Opset::kIOS16, {Req("x"), OptConst("epsilon")},
                [e](OpCall& c) -> Result<std::vector<TensorType>> {
                  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
                  DType x = c.In("x").type().dtype;
                  c.Default("epsilon", x == kF16 ? Tensor::F16({}, {e}) : Tensor::ScalarF32(e));
                  if (c.opset() >= Opset::kIOS17) {
                    ANEC_RETURN_IF_ERROR(c.ExpectDType("epsilon", {kF16, kF32}));
                  } else {
                    ANEC_RETURN_IF_ERROR(c.SameDType("epsilon", "x"));
                  }
                  ANEC_RETURN_IF_ERROR(c.ExpectRank("epsilon", 0));
                  return std::vector<TensorType>{c.In("x").type()};
                }});
  }

  r.Register({"clip", Opset::kIOS16, {Req("x"), ReqConst("alpha"), ReqConst("beta")},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
                ANEC_RETURN_IF_ERROR(c.SameDType("alpha", "x"));
                ANEC_RETURN_IF_ERROR(c.SameDType("beta", "x"));
                ANEC_ASSIGN_OR_RETURN(double alpha, c.Double("alpha"));
                ANEC_ASSIGN_OR_RETURN(double beta, c.Double("beta"));
                if (c.opset() >= Opset::kIOS17 && !(alpha < beta)) {
                  return c.Error("beta", fmt::format("expected a value above alpha {}, found {}",
                                                     alpha, beta));
                }
                return std::vector<TensorType>{c.In("x").type()};
              }});

  r.Register({"gelu", Opset::kIOS16, {Req("x"), OptConst("mode")},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
                c.Default("mode", Tensor::ScalarString("EXACT"));
                ANEC_ASSIGN_OR_RETURN(std::string mode, c.String("mode"));
                if (mode != "EXACT" && mode != "TANH_APPROXIMATION" &&
                    mode != "SIGMOID_APPROXIMATION") {
                  return c.Error("mode", fmt::format("expected EXACT, TANH_APPROXIMATION or "
                                                     "SIGMOID_APPROXIMATION, found '{}'",
                                                     mode));
                }
                return std::vector<TensorType>{c.In("x").type()};
              }});

  r.Register({"softmax", Opset::kIOS16, {Req("x"), OptConst("axis")},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32}));
                c.Default("axis", Tensor::ScalarI32(-1));
                ANEC_RETURN_IF_ERROR(c.ExpectDType("axis", {kI32}));
                ANEC_ASSIGN_OR_RETURN(int64_t axis, c.Int("axis"));
                int64_t rank = static_cast<int64_t>(c.In("x").type().shape.size());
                if (!NormalizeAxis(axis, rank)) {
                  return c.Error("axis", fmt::format("expected an axis in [{}, {}), found {}",
                                                     -rank, rank, axis));
                }
                return std::vector<TensorType>{c.In("x").type()};
              }});

  r.Register({"cast", Opset::kIOS16, {Req("x"), ReqConst("dtype")},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                bool ios17 = c.opset() >= Opset::kIOS17;
                if (ios17) {
                  ANEC_RETURN_IF_ERROR(c.ExpectDType(
                      "x", {kF16, kF32, DType::kInt8, DType::kUInt8, DType::kInt16,
                            DType::kUInt16, kI32, kBool}));
                } else {
                  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32, kBool}));
                }
                ANEC_ASSIGN_OR_RETURN(std::string name, c.String("dtype"));
                auto to = DTypeFromName(name);
                bool ok = to && (*to == kF16 || *to == kF32 || *to == kI32 || *to == kBool ||
                                 (ios17 && (*to == DType::kInt8 || *to == DType::kUInt8 ||
                                            *to == DType::kInt16 || *to == DType::kUInt16)));
                if (!ok) {
                  return c.Error("dtype", fmt::format("expected one of fp16, fp32, int32, bool{}, "
                                                      "found '{}'",
                                                      ios17 ? ", int8, uint8, int16, uint16" : "",
                                                      name));
                }
                return std::vector<TensorType>{{*to, c.In("x").type().shape}};
              }});

  r.Register({"select", Opset::kIOS16, {Req("cond"), Req("a"), Req("b")},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                ANEC_RETURN_IF_ERROR(c.ExpectDType("cond", {kBool}));
                ANEC_RETURN_IF_ERROR(c.ExpectDType("a", {kF16, kF32, kI32, kBool}));
                ANEC_RETURN_IF_ERROR(c.SameDType("b", "a"));
                ANEC_ASSIGN_OR_RETURN(auto ab, Broadcast(c, "a", "b"));
                auto s = BroadcastShapes(c.In("cond").type().shape, ab);
                if (!s) {
                  return c.Error("cond", fmt::format("shape {} does not broadcast with {}",
                                                     ShapeString(c.In("cond").type().shape),
                                                     ShapeString(ab)));
                }
                return std::vector<TensorType>{{c.In("a").type().dtype, *s}};
              }});

  r.Register({"identity", Opset::kIOS16, {Req("x")},
              [](OpCall& c) -> Result<std::vector<TensorType>> {
                return std::vector<TensorType>{c.In("x").type()};
              }});
}

}  // namespace anec::mil
