// Type/shape inference of every registered op: good cases with exact output types and error
// cases with the message checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mil/op_registry.h"
#include "mil/program_builder.h"

namespace anec::mil {
namespace {

using ::testing::HasSubstr;
constexpr DType F16 = DType::kFloat16, F32 = DType::kFloat32, I32 = DType::kInt32,
                B = DType::kBool;

class OpsTest : public ::testing::Test {
 protected:
  OpsTest() {
    auto file = fs_.OpenForWrite("/w.bin");
    blobs_ = std::make_unique<coreml::BlobWriter>(std::move(file).value());
    pb_ = std::make_unique<ProgramBuilder>(blobs_.get());
    f_ = pb_->AddFunction("main");
  }
  Value In(const std::string& n, DType d, std::vector<int64_t> s) { return f_->Input(n, {d, s}); }
  std::string T(const Value& v) {
    EXPECT_TRUE(pb_->status().ok()) << pb_->status().ToString();
    return v.valid() ? v.type().ToString() : "<invalid>";
  }
  std::string Err() { return pb_->status().message(); }
  static Tensor I(std::vector<int32_t> v) { return Tensor::I32({static_cast<int64_t>(v.size())}, v); }

  MemoryFileSystem fs_;
  std::unique_ptr<coreml::BlobWriter> blobs_;
  std::unique_ptr<ProgramBuilder> pb_;
  Function* f_;
};

TEST_F(OpsTest, BinaryBroadcast) {
  Value x = In("x", F16, {1, 4, 1, 8}), y = In("y", F16, {3, 8});
  for (const char* op : {"add", "sub", "mul", "real_div", "pow", "maximum", "minimum"}) {
    EXPECT_EQ(T(f_->Op(op, {{"x", x}, {"y", y}})), "fp16[1,4,3,8]") << op;
  }
  EXPECT_EQ(T(f_->Op("less", {{"x", x}, {"y", y}})), "bool[1,4,3,8]");
}

TEST_F(OpsTest, BinaryErrors) {
  Value x = In("x", F16, {2, 4}), y = In("y", F16, {3, 4});
  f_->Op("add", {{"x", x}, {"y", y}}, "bad_add");
  EXPECT_THAT(Err(), HasSubstr("op 'bad_add' (add): input 'y': shape [3,4] does not broadcast with 'x' shape [2,4]"));
}

TEST_F(OpsTest, BinaryDTypeMismatch) {
  Value x = In("x", F16, {2}), y = In("y", F32, {2});
  f_->Mul(x, y, "m");
  EXPECT_THAT(Err(), HasSubstr("input 'y': expected dtype fp16 (same as 'x'), found fp32[2]"));
}

TEST_F(OpsTest, MissingAndUnknownInputs) {
  Value x = In("x", F16, {2});
  f_->Op("add", {{"x", x}}, "a");
  EXPECT_THAT(Err(), HasSubstr("op 'a' (add): input 'y': required input missing"));
}

TEST_F(OpsTest, UnknownParam) {
  Value x = In("x", F16, {2});
  f_->Op("sqrt", {{"x", x}, {"z", x}}, "s");
  EXPECT_THAT(Err(), HasSubstr("input 'z': unknown input; sqrt takes: x"));
}

TEST_F(OpsTest, Unary) {
  Value x = In("x", F32, {2, 3});
  for (const char* op : {"sqrt", "exp", "sigmoid", "silu", "tanh", "cos", "sin"}) {
    EXPECT_EQ(T(f_->Op(op, {{"x", x}})), "fp32[2,3]") << op;
  }
  EXPECT_EQ(T(f_->Op("rsqrt", {{"x", x}, {"epsilon", Tensor::ScalarF32(1e-6f)}})), "fp32[2,3]");
  EXPECT_EQ(T(f_->Op("rsqrt", {{"x", x}})), "fp32[2,3]");
  EXPECT_EQ(T(f_->Op("gelu", {{"x", x}, {"mode", Tensor::ScalarString("TANH_APPROXIMATION")}})),
            "fp32[2,3]");
  Value i = In("i", I32, {2});
  f_->Op("exp", {{"x", i}}, "e");
  EXPECT_THAT(Err(), HasSubstr("op 'e' (exp): input 'x': expected dtype fp16|fp32, found int32[2]"));
}

TEST_F(OpsTest, GeluBadMode) {
  Value x = In("x", F16, {2});
  f_->Op("gelu", {{"x", x}, {"mode", Tensor::ScalarString("FAST")}}, "g");
  EXPECT_THAT(Err(), HasSubstr("input 'mode': expected EXACT, TANH_APPROXIMATION or SIGMOID_APPROXIMATION, found 'FAST'"));
}

TEST_F(OpsTest, CastAndSelectAndIdentity) {
  Value x = In("x", F16, {2, 3});
  EXPECT_EQ(T(f_->Cast(x, F32)), "fp32[2,3]");
  EXPECT_EQ(T(f_->Cast(x, DType::kInt8)), "int8[2,3]");  // iOS17+
  Value c = In("c", B, {1, 3});
  Value b = In("b", F16, {2, 1});
  EXPECT_EQ(T(f_->Op("select", {{"cond", c}, {"a", x}, {"b", b}})), "fp16[2,3]");
  EXPECT_EQ(T(f_->Op("identity", {{"x", c}})), "bool[1,3]");
  f_->Cast(x, DType::kInt64, "c64");
  EXPECT_THAT(Err(), HasSubstr("op 'c64' (cast): input 'dtype': expected one of fp16, fp32, int32, bool, int8, uint8, int16, uint16, found 'int64'"));
}

TEST_F(OpsTest, CastOnIOS16RejectsInt8) {
  Function* g = pb_->AddFunction("old", Opset::kIOS16);
  Value x = g->Input("x", {F16, {2}});
  g->Cast(x, DType::kInt8, "c");
  EXPECT_THAT(Err(), HasSubstr("expected one of fp16, fp32, int32, bool, found 'int8'"));
}

TEST_F(OpsTest, Reductions) {
  Value x = In("x", F16, {2, 3, 4});
  EXPECT_EQ(T(f_->Op("reduce_mean", {{"x", x}, {"axes", I({-1})}, {"keep_dims", Tensor::ScalarBool(true)}})), "fp16[2,3,1]");
  EXPECT_EQ(T(f_->Op("reduce_sum", {{"x", x}, {"axes", I({0, 2})}})), "fp16[3]");
  EXPECT_EQ(T(f_->Op("reduce_max", {{"x", x}})), "fp16[]");
  EXPECT_EQ(T(f_->Op("reduce_argmax", {{"x", x}, {"axis", Tensor::ScalarI32(1)}})), "int32[2,4]");
  f_->Op("reduce_sum", {{"x", x}, {"axes", I({3})}}, "r");
  EXPECT_THAT(Err(), HasSubstr("op 'r' (reduce_sum): input 'axes': expected distinct axes in [-3, 3), found [3]"));
}

TEST_F(OpsTest, ReductionAxesMustBeConst) {
  Value x = In("x", F16, {2, 3});
  Value axes = In("axes", I32, {1});
  f_->Op("reduce_sum", {{"x", x}, {"axes", axes}}, "r");
  EXPECT_THAT(Err(), HasSubstr("input 'axes': expected a compile-time constant, found 'axes' int32[1]"));
}

TEST_F(OpsTest, SoftmaxAndLayerNorm) {
  Value x = In("x", F16, {1, 4, 8});
  EXPECT_EQ(T(f_->Softmax(x, -1)), "fp16[1,4,8]");
  EXPECT_EQ(T(f_->Op("layer_norm", {{"x", x}, {"axes", I({2})},
                                    {"gamma", Tensor::F16({8}, std::vector<float>(8, 1.f))},
                                    {"beta", Tensor::F16({8}, std::vector<float>(8, 0.f))},
                                    {"epsilon", Tensor::F16({}, {1e-5f})}})),
            "fp16[1,4,8]");
  f_->Softmax(x, 3, "sm");
  EXPECT_THAT(Err(), HasSubstr("op 'sm' (softmax): input 'axis': expected an axis in [-3, 3), found 3"));
}

TEST_F(OpsTest, LayerNormGammaShape) {
  Value x = In("x", F16, {1, 4, 8});
  f_->Op("layer_norm", {{"x", x}, {"axes", I({2})}, {"gamma", Tensor::F16({4}, {1, 1, 1, 1})}}, "ln");
  EXPECT_THAT(Err(), HasSubstr("op 'ln' (layer_norm): input 'gamma': expected shape [8] (x dims at 'axes'), found fp16[4]"));
}

TEST_F(OpsTest, ConcatSplit) {
  Value a = In("a", F16, {1, 2, 8}), b = In("b", F16, {1, 3, 8});
  EXPECT_EQ(T(f_->Concat({a, b}, 1)), "fp16[1,5,8]");
  std::vector<Value> parts = f_->AddOp("split", {{"x", a}, {"num_splits", Tensor::ScalarI32(2)}, {"axis", Tensor::ScalarI32(-1)}}, "sp");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(T(parts[1]), "fp16[1,2,4]");
  EXPECT_EQ(parts[1].name(), "sp_1");
  parts = f_->AddOp("split", {{"x", b}, {"split_sizes", I({1, 2})}, {"axis", Tensor::ScalarI32(1)}});
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(T(parts[0]), "fp16[1,1,8]");
  EXPECT_EQ(T(parts[1]), "fp16[1,2,8]");
  f_->Concat({a, b}, 2, "cat");
  EXPECT_THAT(Err(), HasSubstr("op 'cat' (concat): input 'values': element 1 'b' is fp16[1,3,8]; expected dtype fp16 and shape [1,2,8] except on axis 2"));
}

TEST_F(OpsTest, SplitNotDivisible) {
  Value a = In("a", F16, {1, 3});
  f_->AddOp("split", {{"x", a}, {"num_splits", Tensor::ScalarI32(2)}, {"axis", Tensor::ScalarI32(1)}}, "sp");
  EXPECT_THAT(Err(), HasSubstr("input 'num_splits': expected a divisor of dimension 1 of fp16[1,3], found 2"));
}

TEST_F(OpsTest, SliceByIndex) {
  Value x = In("x", F16, {1, 8, 16});
  EXPECT_EQ(T(f_->Op("slice_by_index", {{"x", x}, {"begin", I({0, 2, 0})}, {"end", I({1, 6, 16})}})), "fp16[1,4,16]");
  EXPECT_EQ(T(f_->Op("slice_by_index", {{"x", x}, {"begin", I({0, 0, 1})}, {"end", I({1, 8, 16})},
                                        {"stride", I({1, 1, 2})}})), "fp16[1,8,8]");
  EXPECT_EQ(T(f_->Op("slice_by_index", {{"x", x}, {"begin", I({0, -3, 0})}, {"end", I({0, 0, 4})},
                                        {"begin_mask", Tensor::Bool({3}, {true, false, false})},
                                        {"end_mask", Tensor::Bool({3}, {true, true, false})},
                                        {"squeeze_mask", Tensor::Bool({3}, {true, false, false})}})),
            "fp16[3,4]");
  f_->Op("slice_by_index", {{"x", x}, {"begin", I({0, 0})}, {"end", I({1, 8})}}, "sl");
  EXPECT_THAT(Err(), HasSubstr("op 'sl' (slice_by_index): input 'begin': expected shape [3] (rank of 'x'), found int32[2]"));
}

TEST_F(OpsTest, SliceBySizeAndUpdate) {
  Value x = In("x", F16, {1, 8, 16});
  Value pos = In("pos", I32, {3});
  EXPECT_EQ(T(f_->Op("slice_by_size", {{"x", x}, {"begin", pos}, {"size", I({1, 2, 16})}})), "fp16[1,2,16]");
  EXPECT_EQ(T(f_->Op("slice_by_size", {{"x", x}, {"begin", I({0, 2, 0})}, {"size", I({-1, -1, 4})}})), "fp16[1,6,4]");
  Value u = In("u", F16, {1, 1, 16});
  EXPECT_EQ(T(f_->Op("slice_update", {{"x", x}, {"update", u}, {"begin", I({0, 3, 0})}, {"end", I({1, 4, 16})}})), "fp16[1,8,16]");
  Value end = In("end", I32, {3});
  EXPECT_EQ(T(f_->Op("slice_update", {{"x", x}, {"update", u}, {"begin", pos}, {"end", end}})), "fp16[1,8,16]");
  f_->Op("slice_update", {{"x", x}, {"update", u}, {"begin", I({0, 3, 0})}, {"end", I({1, 5, 16})}}, "su");
  EXPECT_THAT(Err(), HasSubstr("op 'su' (slice_update): input 'update': expected shape [1,2,16]"));
}

TEST_F(OpsTest, TransposeReshapeExpandSqueeze) {
  Value x = In("x", F16, {1, 2, 3, 4});
  EXPECT_EQ(T(f_->Transpose(x, {0, 2, 1, 3})), "fp16[1,3,2,4]");
  EXPECT_EQ(T(f_->Reshape(x, {1, -1, 4})), "fp16[1,6,4]");
  EXPECT_EQ(T(f_->Op("expand_dims", {{"x", x}, {"axes", I({0, -1})}})), "fp16[1,1,2,3,4,1]");
  EXPECT_EQ(T(f_->Op("squeeze", {{"x", x}, {"axes", I({0})}})), "fp16[2,3,4]");
  EXPECT_EQ(T(f_->Op("squeeze", {{"x", x}})), "fp16[2,3,4]");
  f_->Reshape(x, {5, 5}, "rs");
  EXPECT_THAT(Err(), HasSubstr("op 'rs' (reshape): input 'shape': expected 24 elements (as 'x' fp16[1,2,3,4]), found shape [5,5]"));
}

TEST_F(OpsTest, TransposeBadPerm) {
  Value x = In("x", F16, {1, 2});
  f_->Transpose(x, {0, 0}, "t");
  EXPECT_THAT(Err(), HasSubstr("op 't' (transpose): input 'perm': expected distinct axes in [-2, 2), found [0,0]"));
}

TEST_F(OpsTest, SqueezeNonUnit) {
  Value x = In("x", F16, {1, 2});
  f_->Op("squeeze", {{"x", x}, {"axes", I({1})}}, "sq");
  EXPECT_THAT(Err(), HasSubstr("input 'axes': axis 1 of fp16[1,2] has size 2, expected 1"));
}

TEST_F(OpsTest, GatherBandPartFill) {
  Value emb = f_->Const(Tensor::F16({10, 4}, std::vector<float>(40, 0.5f)), "emb");
  Value ids = In("ids", I32, {1, 3});
  EXPECT_EQ(T(f_->Op("gather", {{"x", emb}, {"indices", ids}})), "fp16[1,3,4]");
  EXPECT_EQ(T(f_->Op("gather", {{"x", emb}, {"indices", ids}, {"axis", Tensor::ScalarI32(1)}})), "fp16[10,1,3]");
  Value m = In("m", F16, {1, 4, 4});
  EXPECT_EQ(T(f_->Op("band_part", {{"x", m}, {"lower", Tensor::ScalarI32(-1)}, {"upper", Tensor::ScalarI32(0)}})), "fp16[1,4,4]");
  EXPECT_EQ(T(f_->Op("fill", {{"shape", I({2, 3})}, {"value", Tensor::F16({}, {1.f})}})), "fp16[2,3]");
  Value fi = In("fi", F32, {3});
  f_->Op("gather", {{"x", emb}, {"indices", fi}}, "g");
  EXPECT_THAT(Err(), HasSubstr("op 'g' (gather): input 'indices': expected dtype int32|int16|uint16|int8|uint8, found fp32[3]"));
}

TEST_F(OpsTest, LinearMatmulConv) {
  Value x = In("x", F16, {1, 5, 8});
  Value w = f_->Const(Tensor::F16({16, 8}, std::vector<float>(128, 0.1f)), "w");
  EXPECT_EQ(T(f_->Op("linear", {{"x", x}, {"weight", w}})), "fp16[1,5,16]");
  Value k = In("k", F16, {1, 2, 7, 8});
  Value q = In("q", F16, {1, 2, 5, 8});
  EXPECT_EQ(T(f_->MatMul(q, k, false, true)), "fp16[1,2,5,7]");
  Value xc = In("xc", F16, {1, 8, 1, 5});
  Value wc = f_->Const(Tensor::F16({16, 8, 1, 1}, std::vector<float>(128, 0.1f)), "wc");
  EXPECT_EQ(T(f_->Conv(xc, wc)), "fp16[1,16,1,5]");
  Value wk = f_->Const(Tensor::F16({4, 8, 1, 3}, std::vector<float>(96, 0.1f)), "wk");
  EXPECT_EQ(T(f_->Op("conv", {{"x", xc}, {"weight", wk}, {"pad_type", Tensor::ScalarString("same")}})), "fp16[1,4,1,5]");
  EXPECT_EQ(T(f_->Op("conv", {{"x", xc}, {"weight", wk}, {"strides", I({1, 2})}})), "fp16[1,4,1,2]");
  f_->MatMul(q, k, false, false, "mm");
  EXPECT_THAT(Err(), HasSubstr("op 'mm' (matmul): input 'y': inner dimension 7 (after transpose_y=false) does not match 'x' inner dimension 8"));
}

TEST_F(OpsTest, ConvChannelMismatch) {
  Value xc = In("xc", F16, {1, 6, 1, 5});
  Value wc = f_->Const(Tensor::F16({16, 8, 1, 1}, std::vector<float>(128, 0.1f)), "wc");
  f_->Conv(xc, wc, std::nullopt, "c");
  EXPECT_THAT(Err(), HasSubstr("op 'c' (conv): input 'weight': expected Cin/groups = 6/1 at dim 1, found fp16[16,8,1,1]"));
}

TEST_F(OpsTest, LinearWeightMustBeConst) {
  Value x = In("x", F16, {1, 8});
  Value w = In("w", F16, {4, 8});
  f_->Op("linear", {{"x", x}, {"weight", w}}, "l");
  EXPECT_THAT(Err(), HasSubstr("op 'l' (linear): input 'weight': expected a compile-time constant, found 'w' fp16[4,8]"));
}

TEST_F(OpsTest, Sdpa) {
  Value q = In("q", F16, {1, 2, 5, 8}), k = In("k", F16, {1, 2, 7, 8}), v = In("v", F16, {1, 2, 7, 6});
  Value m = In("m", F16, {1, 1, 5, 7});
  EXPECT_EQ(T(f_->Op("scaled_dot_product_attention", {{"query", q}, {"key", k}, {"value", v}, {"attn_mask", m}})),
            "fp16[1,2,5,6]");
  Value bad = In("bad", F16, {1, 1, 5, 6});
  f_->Op("scaled_dot_product_attention", {{"query", q}, {"key", k}, {"value", v}, {"attn_mask", bad}}, "sdpa");
  EXPECT_THAT(Err(), HasSubstr("op 'sdpa' (scaled_dot_product_attention): input 'attn_mask': expected last dim 7"));
}

TEST_F(OpsTest, SdpaNeedsIOS18) {
  Function* g = pb_->AddFunction("old", Opset::kIOS17);
  Value q = g->Input("q", {F16, {1, 5, 8}});
  g->Op("scaled_dot_product_attention", {{"query", q}, {"key", q}, {"value", q}}, "s");
  EXPECT_THAT(Err(), HasSubstr("needs opset CoreML8 or newer, the function uses CoreML7"));
}

TEST_F(OpsTest, States) {
  Value s = f_->StateInput("kv", {2, 4, 8});
  Value r = f_->Op("read_state", {{"input", s}});
  EXPECT_EQ(T(r), "fp16[2,4,8]");
  EXPECT_TRUE(f_->AddOp("write_state", {{"input", s}, {"data", r}}).empty());
  EXPECT_TRUE(pb_->status().ok());
  Value bad = In("bad", F16, {2, 4});
  f_->AddOp("write_state", {{"input", s}, {"data", bad}}, "ws");
  EXPECT_THAT(Err(), HasSubstr("op 'ws' (write_state): input 'data': expected fp16[2,4,8] (the state's type), found fp16[2,4]"));
}

TEST_F(OpsTest, StateUsedAsTensor) {
  Value s = f_->StateInput("kv", {2});
  f_->Add(s, s, "a");
  EXPECT_THAT(Err(), HasSubstr("input 'x': expected a tensor, found state 'kv'; read it with read_state first"));
}

TEST_F(OpsTest, ConstexprOps) {
  std::vector<uint8_t> idx(32, 3);
  Value w = f_->Op("constexpr_lut_to_dense", {{"indices", Tensor::UInt(DType::kUInt4, {4, 8}, idx)},
                                              {"lut", Tensor::F16({2, 1, 16, 1}, std::vector<float>(32, 1.f))}});
  EXPECT_EQ(T(w), "fp16[4,8]");
  Value v = f_->Op("constexpr_lut_to_dense", {{"indices", Tensor::UInt(DType::kUInt4, {4, 8}, idx)},
                                              {"lut", Tensor::F16({1, 1, 16, 2}, std::vector<float>(32, 1.f))},
                                              {"vector_axis", Tensor::ScalarI32(0)}});
  EXPECT_EQ(T(v), "fp16[8,8]");
  Value d = f_->Op("constexpr_blockwise_shift_scale",
                   {{"data", Tensor::Ints(DType::kInt4, {4, 8}, std::vector<int64_t>(32, -2))},
                    {"scale", Tensor::F16({4, 2}, std::vector<float>(8, 0.5f))},
                    {"offset", Tensor::Ints(DType::kInt4, {4, 2}, std::vector<int64_t>(8, 1))}});
  EXPECT_EQ(T(d), "fp16[4,8]");
  f_->Op("constexpr_lut_to_dense", {{"indices", Tensor::UInt(DType::kUInt4, {4, 8}, idx)},
                                    {"lut", Tensor::F16({1, 1, 4, 1}, {1, 2, 3, 4})}}, "lut");
  EXPECT_THAT(Err(), HasSubstr("op 'lut' (constexpr_lut_to_dense): input 'lut': dim 2 is 4, expected 2^4 = 16 entries for uint4 indices"));
}

TEST_F(OpsTest, BlockwiseScaleNotDivisor) {
  f_->Op("constexpr_blockwise_shift_scale",
         {{"data", Tensor::Ints(DType::kInt8, {4, 6}, std::vector<int64_t>(24, 1))},
          {"scale", Tensor::F16({4, 4}, std::vector<float>(16, 1.f))}}, "bw");
  EXPECT_THAT(Err(), HasSubstr("op 'bw' (constexpr_blockwise_shift_scale): input 'scale': dim 1 is 4, expected a divisor of data dim 6"));
}

TEST_F(OpsTest, DefaultsAreExplicitInputs) {
  Value x = In("x", F16, {1, 8, 1, 4});
  Value w = f_->Const(Tensor::F16({2, 8, 1, 1}, std::vector<float>(16, 0.f)), "w");
  f_->Conv(x, w, std::nullopt, "c");
  ASSERT_TRUE(pb_->status().ok());
  CoreML::Specification::MILSpec::Program p;
  f_->Output(f_->Op("identity", {{"x", x}}, "o"), "o");
  ASSERT_TRUE(pb_->Serialize(&p).ok());
  const auto& block = p.functions().at("main").block_specializations().at("CoreML8");
  for (const auto& op : block.operations()) {
    if (op.type() != "conv") continue;
    for (const char* param : {"strides", "pad_type", "pad", "dilations", "groups"}) {
      EXPECT_EQ(op.inputs().count(param), 1u) << param;
    }
    EXPECT_EQ(op.inputs().count("bias"), 0u);
  }
}

TEST_F(OpsTest, LogInverseClip) {
  Value x = In("x", F16, {2, 3});
  EXPECT_EQ(T(f_->Op("log", {{"x", x}})), "fp16[2,3]");
  EXPECT_EQ(T(f_->Op("inverse", {{"x", x}, {"epsilon", Tensor::F16({}, {1e-3f})}})), "fp16[2,3]");
  EXPECT_EQ(T(f_->Op("clip", {{"x", x}, {"alpha", Tensor::F16({}, {-1.f})}, {"beta", Tensor::F16({}, {1.f})}})), "fp16[2,3]");
  f_->Op("clip", {{"x", x}, {"alpha", Tensor::F16({}, {1.f})}, {"beta", Tensor::F16({}, {1.f})}}, "cl");
  EXPECT_THAT(Err(), HasSubstr("op 'cl' (clip): input 'beta': expected a value above alpha 1, found 1"));
}

TEST_F(OpsTest, TileTopk) {
  Value x = In("x", F16, {1, 2, 8});
  EXPECT_EQ(T(f_->Op("tile", {{"x", x}, {"reps", I({1, 3, 1})}})), "fp16[1,6,8]");
  std::vector<Value> tk = f_->AddOp("topk", {{"x", x}, {"k", Tensor::ScalarI32(3)}}, "tk");
  ASSERT_EQ(tk.size(), 2u);
  EXPECT_EQ(T(tk[0]), "fp16[1,2,3]");
  EXPECT_EQ(T(tk[1]), "int32[1,2,3]");
  f_->AddOp("topk", {{"x", x}, {"k", Tensor::ScalarI32(9)}}, "big");
  EXPECT_THAT(Err(), HasSubstr("op 'big' (topk): input 'k': expected 1..8 (dim 2 of fp16[1,2,8]), found 9"));
}

TEST(RegistryTest, CoversRequiredOps) {
  const OpRegistry& r = OpRegistry::Get();
  for (const char* t : {"add", "sub", "mul", "real_div", "pow", "maximum", "minimum", "rsqrt", "sqrt", "exp",
                        "sigmoid", "silu", "tanh", "cos", "sin", "gelu", "cast", "reduce_mean",
                        "reduce_sum", "reduce_max", "softmax", "layer_norm", "concat", "split",
                        "slice_by_index", "slice_by_size", "transpose", "reshape", "expand_dims",
                        "squeeze", "gather", "conv", "linear", "matmul", "band_part", "select",
                        "fill", "identity", "slice_update", "read_state", "write_state",
                        "scaled_dot_product_attention", "constexpr_lut_to_dense",
                        "constexpr_blockwise_shift_scale"}) {
    EXPECT_NE(r.Find(t), nullptr) << t;
  }
  EXPECT_EQ(r.Find("const"), nullptr);  // consts are made by Function::Const only
}

}  // namespace
}  // namespace anec::mil
