// anec_write_test_packages OUT_DIR: writes small .mlpackages covering the MIL builder (op types,
// constants of every dtype, LUT and blockwise constexpr ops, a stateful multi-function model)
// plus OUT_DIR/manifest.json describing what each package declares: every op output's dtype and
// shape, every const's values and every constexpr op's dense values. tests/python/
// test_coremltools.py rebuilds each program with coremltools and compares against it.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "mil/function_internal.h"
#include "mil/model_assembler.h"

namespace anec::mil {
namespace {

using nlohmann::json;
constexpr DType F16 = DType::kFloat16, F32 = DType::kFloat32, I32 = DType::kInt32;

json Values(const Tensor& t) {
  json v = json::array();
  DType d = t.type().dtype;
  if (d == DType::kString) {
    for (const auto& s : t.strings()) v.push_back(s);
  } else if (IsFloat(d)) {
    for (double x : t.AsDoubles()) v.push_back(x);
  } else {
    for (int64_t x : t.AsInts()) v.push_back(x);
  }
  return v;
}

// Records what the Python check needs while packages are built.
class Recorder {
 public:
  // A const whose values the check compares (also blob ones, whose data the builder drops).
  Value Const(Function* f, Tensor t, const std::string& name) {
    consts_[f->name()][name] = t;
    return f->Const(std::move(t), name);
  }
  Value Shared(Function* f, const std::string& key, Tensor t, const std::string& name) {
    consts_[f->name()][name] = t;
    return f->SharedConst(key, [t] { return t; }, name);
  }
  void Dense(Function* f, const std::string& name, std::vector<double> values) {
    dense_[f->name()][name] = std::move(values);
  }

  json Describe(const ProgramBuilder& pb) {
    json fns = json::object();
    for (const auto& fn : pb.functions()) {
      json values = json::object(), consts = json::object();
      const auto& vals = fn->values();
      std::vector<bool> folded = ConstsFoldedIntoConstexpr(*fn);
      for (const auto& op : fn->ops()) {
        for (int id : op->outputs) {
          const auto& v = *vals[id];
          json shape = v.type.shape;
          if (op->type == "const") {
            if (folded[id]) continue;  // bound inline to a constexpr op: checked via "dense"
            const Tensor* t = v.inline_value ? &*v.inline_value : nullptr;
            auto it = consts_[fn->name()].find(v.name);
            if (it != consts_[fn->name()].end()) t = &it->second;
            if (!t) continue;  // a blob const not recorded (none in these packages)
            consts[v.name] = {{"dtype", DTypeName(v.type.dtype)}, {"shape", shape},
                              {"values", Values(*t)}, {"blob", v.blob_offset.has_value()}};
          } else {
            values[v.name] = {{"op_type", op->type}, {"dtype", DTypeName(v.type.dtype)},
                              {"shape", shape}};
            auto d = dense_[fn->name()].find(v.name);
            if (d != dense_[fn->name()].end()) values[v.name]["dense"] = d->second;
          }
        }
      }
      fns[fn->name()] = {{"values", values}, {"consts", consts}};
    }
    return fns;
  }

 private:
  std::map<std::string, std::map<std::string, Tensor>> consts_;
  std::map<std::string, std::map<std::string, std::vector<double>>> dense_;
};

std::vector<float> Ramp(size_t n, float scale, float offset = 0.f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = offset + scale * static_cast<float>(i % 97);
  return v;
}

Tensor I(std::vector<int32_t> v) { return Tensor::I32({static_cast<int64_t>(v.size())}, v); }

Status Elementwise(ProgramBuilder& pb, Recorder& r) {
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {F16, {1, 4, 1, 8}});
  Value y = r.Const(f, Tensor::F16({4, 1, 8}, Ramp(32, 0.125f, 0.5f)), "y_blob");
  Value s = r.Const(f, Tensor::F16({}, {2.f}), "two");
  Value acc = x;
  for (const char* op : {"add", "sub", "mul", "real_div", "maximum", "minimum"}) {
    acc = f->Op(op, {{"x", acc}, {"y", y}}, std::string(op) + "_out");
  }
  acc = f->Op("pow", {{"x", acc}, {"y", s}}, "pow_out");
  for (const char* op : {"sqrt", "exp", "sigmoid", "silu", "tanh", "cos", "sin", "relu"}) {
    acc = f->Op(op, {{"x", acc}}, std::string(op) + "_out");
  }
  acc = f->Op("rsqrt", {{"x", acc}, {"epsilon", Tensor::F16({}, {1e-3f})}}, "rsqrt_out");
  acc = f->Op("log", {{"x", acc}}, "log_out");
  acc = f->Op("inverse", {{"x", acc}}, "inverse_out");
  acc = f->Op("clip", {{"x", acc}, {"alpha", Tensor::F16({}, {-4.f})}, {"beta", Tensor::F16({}, {4.f})}}, "clip_out");
  acc = f->Op("gelu", {{"x", acc}, {"mode", Tensor::ScalarString("TANH_APPROXIMATION")}}, "gelu_out");
  Value mask = f->Op("less", {{"x", acc}, {"y", y}}, "less_out");
  acc = f->Op("select", {{"cond", mask}, {"a", acc}, {"b", x}}, "select_out");
  f->Output(acc, "y");
  f->Output(f->Cast(x, F32, "cast_out"), "x32");
  return Status::Ok();
}

Status Reductions(ProgramBuilder& pb, Recorder& r) {
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {F16, {1, 4, 16}});
  f->Output(f->Op("reduce_mean", {{"x", x}, {"axes", I({-1})}, {"keep_dims", Tensor::ScalarBool(true)}}, "mean"), "mean");
  f->Output(f->Op("reduce_sum", {{"x", x}, {"axes", I({1, 2})}}, "sum"), "sum");
  f->Output(f->Op("reduce_max", {{"x", x}, {"axes", I({1})}}, "max"), "max");
  f->Output(f->Softmax(x, -1, "softmax_out"), "softmax_out");
  f->Output(f->Op("layer_norm", {{"x", x}, {"axes", I({2})},
                                 {"gamma", r.Const(f, Tensor::F16({16}, Ramp(16, 0.25f, 1.f)), "ln_gamma")},
                                 {"beta", r.Const(f, Tensor::F16({16}, Ramp(16, -0.5f)), "ln_beta")},
                                 {"epsilon", Tensor::F16({}, {1e-5f})}}, "ln"), "ln");
  f->Output(f->Op("reduce_argmax", {{"x", x}, {"axis", Tensor::ScalarI32(-1)}}, "argmax"), "argmax");
  return Status::Ok();
}

Status ShapeOps(ProgramBuilder& pb, Recorder&) {
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {F16, {1, 8, 16}});
  Value pos = f->Input("pos", {I32, {3}});
  Value t = f->Transpose(x, {0, 2, 1}, "transpose_out");
  Value rs = f->Reshape(t, {1, 16, 2, 4}, "reshape_out");
  Value ex = f->Op("expand_dims", {{"x", x}, {"axes", I({0})}}, "expand_out");
  Value sq = f->Op("squeeze", {{"x", ex}, {"axes", I({0, 1})}}, "squeeze_out");
  auto parts = f->AddOp("split", {{"x", sq}, {"num_splits", Tensor::ScalarI32(2)}, {"axis", Tensor::ScalarI32(0)}}, "split_n");
  auto sized = f->AddOp("split", {{"x", sq}, {"split_sizes", I({4, 12})}, {"axis", Tensor::ScalarI32(1)}}, "split_s");
  Value cat = f->Concat({parts[1], parts[0]}, 0, "concat_out");
  Value inter = f->Op("concat", {{"values", std::vector<Value>{parts[0], parts[1]}}, {"axis", Tensor::ScalarI32(1)},
                                 {"interleave", Tensor::ScalarBool(true)}}, "interleave_out");
  Value sl = f->Op("slice_by_index", {{"x", x}, {"begin", I({0, 2, 0})}, {"end", I({1, 6, 16})},
                                      {"stride", I({1, 2, 1})}}, "slice_index_out");
  Value sm = f->Op("slice_by_index", {{"x", x}, {"begin", I({0, -1, 0})}, {"end", I({0, 0, 8})},
                                      {"begin_mask", Tensor::Bool({3}, {true, false, false})},
                                      {"end_mask", Tensor::Bool({3}, {true, true, false})},
                                      {"squeeze_mask", Tensor::Bool({3}, {false, true, false})}}, "slice_mask_out");
  Value sz = f->Op("slice_by_size", {{"x", x}, {"begin", pos}, {"size", I({1, 2, 16})}}, "slice_size_out");
  Value bp = f->Op("band_part", {{"x", x}, {"lower", Tensor::ScalarI32(0)}, {"upper", Tensor::ScalarI32(-1)}}, "band_out");
  Value fl = f->Op("fill", {{"shape", I({2, 4})}, {"value", Tensor::F16({}, {3.f})}}, "fill_out");
  Value id = f->Op("identity", {{"x", sized[0]}}, "identity_out");
  Value tl = f->Op("tile", {{"x", x}, {"reps", I({2, 1, 1})}}, "tile_out");
  auto top = f->AddOp("topk", {{"x", x}, {"k", Tensor::ScalarI32(3)}, {"axis", Tensor::ScalarI32(1)}}, "topk");
  f->Output(tl, tl.name());
  f->Output(top[0], top[0].name());
  f->Output(top[1], top[1].name());
  for (Value v : {rs, cat, inter, sl, sm, sz, bp, fl, id, sized[1]}) f->Output(v, v.name());
  return Status::Ok();
}

Status Gather(ProgramBuilder& pb, Recorder& r) {
  Function* f = pb.AddFunction("main");
  Value ids = f->Input("input_ids", {I32, {1, 5}});
  Value emb = r.Const(f, Tensor::F16({32, 8}, Ramp(256, 0.01f, -1.f)), "embeddings");
  f->Output(f->Op("gather", {{"x", emb}, {"indices", ids}, {"axis", Tensor::ScalarI32(0)},
                             {"batch_dims", Tensor::ScalarI32(0)},
                             {"validate_indices", Tensor::ScalarBool(false)}}, "gather_out"), "hidden");
  return Status::Ok();
}

Status Linear(ProgramBuilder& pb, Recorder& r) {
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {F16, {1, 5, 16}});
  Value w = r.Const(f, Tensor::F16({8, 16}, Ramp(128, 0.01f, -0.3f)), "lin_w");
  Value b = r.Const(f, Tensor::F16({8}, Ramp(8, 0.1f)), "lin_b");
  Value lin = f->Op("linear", {{"x", x}, {"weight", w}, {"bias", b}}, "linear_out");
  Value mm = f->MatMul(lin, lin, false, true, "matmul_out");
  Value xc = f->Input("xc", {F16, {1, 16, 1, 5}});
  Value wc = r.Const(f, Tensor::F16({8, 16, 1, 1}, Ramp(128, 0.02f, -1.f)), "conv_w");
  Value c1 = f->Conv(xc, wc, std::nullopt, "conv1x1_out");
  Value wk = r.Const(f, Tensor::F16({4, 4, 1, 3}, Ramp(48, 0.05f, -1.f)), "conv_k");
  Value c2 = f->Op("conv", {{"x", c1}, {"weight", wk}, {"bias", r.Const(f, Tensor::F16({4}, {1, 2, 3, 4}), "conv_b")},
                            {"strides", I({1, 1})}, {"pad_type", Tensor::ScalarString("custom")},
                            {"pad", I({0, 0, 1, 1})}, {"dilations", I({1, 1})}, {"groups", Tensor::ScalarI32(2)}},
                   "conv_group_out");
  Value q = f->Input("q", {F16, {1, 2, 5, 8}});
  Value k = f->Input("k", {F16, {1, 2, 7, 8}});
  Value v = f->Input("v", {F16, {1, 2, 7, 4}});
  Value m = f->Input("mask", {F16, {1, 1, 5, 7}});
  Value at = f->Op("scaled_dot_product_attention", {{"query", q}, {"key", k}, {"value", v}, {"attn_mask", m}}, "sdpa_out");
  for (Value o : {mm, c2, at}) f->Output(o, o.name());
  return Status::Ok();
}

Status Constants(ProgramBuilder& pb, Recorder& r) {
  Function* f = pb.AddFunction("main");
  std::vector<int64_t> ramp16(16), ramp4 = {-3, 0, 2, 5};
  for (int i = 0; i < 16; ++i) ramp16[i] = i * 3 - 20;
  std::vector<int64_t> u16(16);
  for (int i = 0; i < 16; ++i) u16[i] = i * 4000;
  r.Const(f, Tensor::F16({16}, Ramp(16, 0.5f, -3.f)), "c_fp16_blob");
  r.Const(f, Tensor::F16({3}, {0.1f, -2.f, 1024.f}), "c_fp16_inline");
  r.Const(f, Tensor::F32({12}, Ramp(12, 1.25f, -7.f)), "c_fp32_blob");
  r.Const(f, Tensor::F32({2}, {3.5f, -1e-3f}), "c_fp32_inline");
  r.Const(f, Tensor::Ints(DType::kInt8, {16}, ramp16), "c_int8_blob");
  r.Const(f, Tensor::Ints(DType::kInt8, {4}, ramp4), "c_int8_inline");
  r.Const(f, Tensor::Ints(DType::kUInt8, {2, 8}, {0, 1, 2, 3, 250, 251, 252, 255, 9, 8, 7, 6, 5, 4, 3, 2}),
          "c_uint8_blob");
  r.Const(f, Tensor::Ints(DType::kUInt8, {3}, {7, 128, 255}), "c_uint8_inline");
  r.Const(f, Tensor::Ints(DType::kInt16, {16}, ramp16), "c_int16_blob");
  r.Const(f, Tensor::Ints(DType::kInt16, {4}, ramp4), "c_int16_inline");
  r.Const(f, Tensor::Ints(DType::kUInt16, {16}, u16), "c_uint16_blob");
  r.Const(f, Tensor::Ints(DType::kUInt16, {2}, {65535, 1}), "c_uint16_inline");
  r.Const(f, Tensor::Ints(DType::kInt32, {4, 4}, ramp16), "c_int32_blob");
  r.Const(f, Tensor::I32({2}, {-2147483647, 42}), "c_int32_inline");
  r.Const(f, Tensor::I64({12}, std::vector<int64_t>(ramp16.begin(), ramp16.begin() + 12)), "c_int64_inline");
  r.Const(f, Tensor::Bool({2, 6}, {true, false, true, true, false, false, true, false, true, false, true, true}), "c_bool");
  r.Const(f, Tensor::Strings({"alpha", "beta"}, {2}), "c_string");
  r.Const(f, Tensor::ScalarString("scalar string"), "c_string_scalar");
  Value x = f->Input("x", {F32, {16}});
  Value y = f->Add(x, f->Cast(r.Const(f, Tensor::I32({16}, std::vector<int32_t>(16, 7)), "c_int32_used"), F32, "cast_i32"), "sum");
  f->Output(y, "y");
  f->Output(f->Op("identity", {{"x", f->Input("n", {I32, {2}})}}, "n_out"), "n_out");
  return Status::Ok();
}

// Palettized weights: constexpr_lut_to_dense for every index width, per-grouped-channel LUTs.
Status Lut(ProgramBuilder& pb, Recorder& r) {
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {F16, {1, 16, 1, 3}});
  Value acc;
  for (int bits : {1, 2, 3, 4, 6, 8}) {
    DType idt = bits == 1 ? DType::kUInt1 : bits == 2 ? DType::kUInt2 : bits == 3 ? DType::kUInt3
              : bits == 4 ? DType::kUInt4 : bits == 6 ? DType::kUInt6 : DType::kUInt8;
    const int64_t cout = 8, cin = 16, groups = 4, entries = int64_t{1} << bits;
    std::vector<uint8_t> idx(cout * cin);
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint8_t>((i * 7 + bits) % entries);
    std::vector<float> lut = Ramp(groups * entries, 0.03125f, -1.f);
    Tensor lut_t = Tensor::F16({groups, 1, 1, 1, entries, 1}, lut);
    std::vector<double> lut_vals = lut_t.AsDoubles(), dense(idx.size());
    for (int64_t o = 0; o < cout; ++o) {
      for (int64_t i = 0; i < cin; ++i) {
        dense[o * cin + i] = lut_vals[(o / (cout / groups)) * entries + idx[o * cin + i]];
      }
    }
    std::string name = "w_lut" + std::to_string(bits);
    Value w = f->Op("constexpr_lut_to_dense", {{"indices", Tensor::UInt(idt, {cout, cin, 1, 1}, idx)},
                                               {"lut", lut_t}}, name);
    r.Dense(f, name, dense);
    Value y = f->Conv(x, w, std::nullopt, "conv_lut" + std::to_string(bits));
    acc = acc.valid() ? f->Add(acc, y, "sum_lut" + std::to_string(bits)) : y;
  }
  // Vector palettization: 2-entry vectors along axis 0.
  std::vector<uint8_t> idx(4 * 16);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint8_t>(i % 4);
  Tensor vlut = Tensor::F16({1, 1, 1, 1, 4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<double> dense(8 * 16);
  for (int64_t o = 0; o < 8; ++o) {
    for (int64_t i = 0; i < 16; ++i) dense[o * 16 + i] = 1 + 2 * idx[(o / 2) * 16 + i] + o % 2;
  }
  Value vw = f->Op("constexpr_lut_to_dense", {{"indices", Tensor::UInt(DType::kUInt2, {4, 16, 1, 1}, idx)},
                                              {"lut", vlut}, {"vector_axis", Tensor::ScalarI32(0)}}, "w_vector");
  r.Dense(f, "w_vector", dense);
  acc = f->Add(acc, f->Conv(x, vw, std::nullopt, "conv_vector"), "sum_vector");
  f->Output(acc, "y");
  return Status::Ok();
}

// Blockwise quantized weights: int4 / uint4 (with offsets) and int8 (no offset) data.
Status Blockwise(ProgramBuilder& pb, Recorder& r) {
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {F16, {1, 32}});
  Value acc;
  for (DType dt : {DType::kInt4, DType::kUInt4, DType::kInt8}) {
    const int64_t rows = 8, cols = 32, block = 16;
    bool is_signed = dt != DType::kUInt4;
    std::vector<int64_t> data(rows * cols), offset(rows * (cols / block));
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = is_signed ? static_cast<int64_t>(i % 16) - 8 : static_cast<int64_t>(i % 16);
    }
    for (size_t i = 0; i < offset.size(); ++i) offset[i] = is_signed ? static_cast<int64_t>(i % 3) - 1 : 8;
    Tensor scale = Tensor::F16({rows, cols / block}, Ramp(rows * (cols / block), 0.01f, 0.02f));
    std::vector<double> sv = scale.AsDoubles(), dense(data.size());
    bool with_offset = dt != DType::kInt8;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        size_t s = i * (cols / block) + j / block;
        dense[i * cols + j] = sv[s] * static_cast<double>(data[i * cols + j] - (with_offset ? offset[s] : 0));
      }
    }
    std::string name = "w_" + std::string(DTypeName(dt));
    std::vector<NamedArg> args = {{"data", Tensor::Ints(dt, {rows, cols}, data)}, {"scale", scale}};
    if (with_offset) args.push_back({"offset", Tensor::Ints(dt, {rows, cols / block}, offset)});
    Value w = f->Op("constexpr_blockwise_shift_scale", std::move(args), name);
    r.Dense(f, name, dense);
    Value y = f->Op("linear", {{"x", x}, {"weight", w}}, "linear_" + std::string(DTypeName(dt)));
    acc = acc.valid() ? f->Add(acc, y, "sum_" + std::string(DTypeName(dt))) : y;
  }
  f->Output(acc, "y");
  return Status::Ok();
}

// Two functions sharing one weight blob; a KV-cache-like state updated in place.
Status Stateful(ProgramBuilder& pb, Recorder& r) {
  Tensor w = Tensor::F16({16, 16}, Ramp(256, 0.01f, -0.5f));
  for (auto [name, len] : {std::pair<const char*, int64_t>{"infer", 1}, {"prefill", 4}}) {
    Function* f = pb.AddFunction(name);
    Value x = f->Input("x", {F16, {1, len, 16}});
    Value pos = f->Input("position", {I32, {1}});
    Value kv = f->StateInput("kv_cache", {1, 8, 16});
    Value proj = f->Op("linear", {{"x", x}, {"weight", r.Shared(f, "shared_w", w, "proj_w")}}, "proj");
    Value zero = f->Const(Tensor::I32({1}, {0}), "zero");
    Value begin = f->Concat({zero, pos, zero}, 0, "begin");
    Value end = f->Add(begin, f->Const(I({1, static_cast<int32_t>(len), 16}), "extent"), "end");
    Value cache = f->Op("read_state", {{"input", kv}}, "cache_before");
    Value updated = f->Op("slice_update", {{"x", cache}, {"update", proj}, {"begin", begin}, {"end", end}}, "cache_updated");
    f->AddOp("write_state", {{"input", kv}, {"data", updated}}, "cache_write");
    Value after = f->Op("read_state", {{"input", kv}}, "cache_after");
    f->Output(f->Op("reduce_sum", {{"x", after}, {"axes", I({1})}, {"keep_dims", Tensor::ScalarBool(true)}}, "cache_sum"), "out");
  }
  return Status::Ok();
}

// Older opsets: ops resolve to their iOS15/iOS17 definitions; (u)int16/32 constants stay inline.
Status OlderOpset(ProgramBuilder& pb, Recorder& r, Opset opset) {
  Function* f = pb.AddFunction("main", opset);
  Value x = f->Input("x", {F16, {1, 4, 16}});
  Value w = r.Const(f, Tensor::F16({8, 16}, Ramp(128, 0.01f, -0.6f)), "w");
  Value lin = f->Op("linear", {{"x", x}, {"weight", w}}, "linear_out");
  Value rs = f->Op("rsqrt", {{"x", f->Op("exp", {{"x", lin}}, "exp_out")}, {"epsilon", Tensor::F16({}, {1e-4f})}}, "rsqrt_out");
  Value ln = f->Op("layer_norm", {{"x", rs}, {"axes", I({-1})}, {"epsilon", Tensor::F16({}, {1e-5f})}}, "ln_out");
  Value ids = f->Input("ids", {I32, {1, 3}});
  Value table = r.Const(f, Tensor::I32({12}, {5, 4, 3, 2, 1, 0, -1, -2, -3, -4, -5, -6}), "table");
  Value g = f->Op("gather", {{"x", table}, {"indices", ids}}, "gather_out");
  Value idx = f->Op("gather", {{"x", ln}, {"indices", Tensor::I32({2}, {3, 0})}, {"axis", Tensor::ScalarI32(1)}}, "gather_rows");
  Value sm = f->Softmax(idx, -1, "softmax_out");
  Value sl = f->Op("slice_by_index", {{"x", sm}, {"begin", I({0, 0, 0})}, {"end", I({1, 2, 4})}}, "slice_out");
  Value c = (opset >= Opset::kIOS17) ? f->Cast(f->Cast(sl, DType::kInt8, "to_int8"), F16, "from_int8") : f->Cast(sl, I32, "to_int32");
  f->Output(c, c.name());
  f->Output(g, "gather_out");
  return Status::Ok();
}
Status Ios16(ProgramBuilder& pb, Recorder& r) { return OlderOpset(pb, r, Opset::kIOS16); }
Status Ios17(ProgramBuilder& pb, Recorder& r) { return OlderOpset(pb, r, Opset::kIOS17); }

struct PackageSpec {
  std::string name;
  Status (*build)(ProgramBuilder&, Recorder&);
  int specification_version = 9;
};

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  std::string out = argv[1];
  FileSystem* fs = RealFileSystem();
  if (Status s = fs->MakeDirs(out); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  const PackageSpec specs[] = {{"elementwise", Elementwise}, {"reductions", Reductions},
                               {"shape_ops", ShapeOps},      {"gather", Gather},
                               {"linear", Linear},           {"constants", Constants},
                               {"lut", Lut},                 {"blockwise", Blockwise},
                               {"stateful_multifunction", Stateful},
                               {"ios16_opset", Ios16, 7},    {"ios17_opset", Ios17, 8}};
  json manifest = json::object();
  for (const PackageSpec& spec : specs) {
    Recorder rec;
    json functions;
    ModelOptions options;
    options.specification_version = spec.specification_version;
    options.metadata.author = "anec tests";
    options.metadata.user_defined["package"] = spec.name;
    if (spec.name == "stateful_multifunction") options.default_function = "infer";
    std::string path = JoinPath(out, spec.name + ".mlpackage");
    Status s = WritePackage(fs, path, options, [&](ProgramBuilder& pb) {
      ANEC_RETURN_IF_ERROR(spec.build(pb, rec));
      ANEC_RETURN_IF_ERROR(pb.status());
      functions = rec.Describe(pb);
      return Status::Ok();
    });
    if (!s.ok()) {
      std::fprintf(stderr, "package %s: %s\n", spec.name.c_str(), s.ToString().c_str());
      return 1;
    }
    manifest[spec.name] = {{"path", spec.name + ".mlpackage"},
                           {"specification_version", spec.specification_version},
                           {"functions", functions}};
  }
  Status s = fs->WriteFileAtomic(JoinPath(out, "manifest.json"), manifest.dump(1));
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("wrote %zu packages to %s\n", std::size(specs), out.c_str());
  return 0;
}

}  // namespace
}  // namespace anec::mil

int main(int argc, char** argv) { return anec::mil::Main(argc, argv); }
