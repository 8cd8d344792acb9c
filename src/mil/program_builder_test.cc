#include "mil/program_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coreml/package.h"
#include "mil/function_internal.h"

namespace anec::mil {
namespace {

namespace MS = CoreML::Specification::MILSpec;
using ::testing::HasSubstr;

class BuilderTest : public ::testing::Test {
 protected:
  BuilderTest() {
    auto f = fs_.OpenForWrite("/w/weight.bin");
    EXPECT_TRUE(f.ok());
    blobs_ = std::make_unique<coreml::BlobWriter>(std::move(f).value());
  }
  coreml::BlobReader FinishBlobs() {
    EXPECT_TRUE(blobs_->Finish().ok());
    auto r = coreml::BlobReader::Open(&fs_, "/w/weight.bin");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  const MS::Operation* FindOp(const MS::Program& p, const std::string& fn, const std::string& name) {
    const auto& block = p.functions().at(fn).block_specializations().at("CoreML8");
    for (const auto& op : block.operations()) {
      if (op.attributes().at("name").immediatevalue().tensor().strings().values(0) == name) return &op;
    }
    return nullptr;
  }
  MemoryFileSystem fs_;
  std::unique_ptr<coreml::BlobWriter> blobs_;
};

TEST(DTypeTest, NamesRoundTripAndProtoCodes) {
  EXPECT_EQ(DTypeName(DType::kFloat16), "fp16");
  EXPECT_EQ(DTypeName(DType::kString), "string");
  EXPECT_EQ(DTypeFromName("uint4"), DType::kUInt4);
  EXPECT_EQ(DTypeFromName("nope"), std::nullopt);
  EXPECT_EQ(MilDataType(DType::kFloat16), MS::FLOAT16);
  EXPECT_EQ(MilDataType(DType::kUInt3), MS::UINT3);
  EXPECT_EQ(DTypeBits(DType::kUInt6), 6);
  EXPECT_EQ(OpsetName(Opset::kIOS18), "CoreML8");
}

TEST(TensorTest, Fp16RoundingAndAccessors) {
  Tensor t = Tensor::F16({3}, {1.0f, 0.1f, 65504.f});
  auto b = t.bytes();
  ASSERT_EQ(b.size(), 6u);
  EXPECT_EQ(b[0] | (b[1] << 8), 0x3c00);
  EXPECT_EQ(b[2] | (b[3] << 8), 0x2e66);  // 0.1 rounds to 0x2e66
  EXPECT_EQ(b[4] | (b[5] << 8), 0x7bff);
  EXPECT_FLOAT_EQ(static_cast<float>(t.AsDoubles()[1]), 0.0999755859375f);
  EXPECT_EQ(FloatToHalfBits(1e-12f), 0);
  EXPECT_EQ(FloatToHalfBits(5.96046448e-08f), 1);  // smallest subnormal
  EXPECT_EQ(Tensor::Ints(DType::kInt4, {3}, {-8, 7, -1}).AsInts(), (std::vector<int64_t>{-8, 7, -1}));
  EXPECT_EQ(Tensor::Ints(DType::kInt16, {2}, {-300, 5}).AsInts(), (std::vector<int64_t>{-300, 5}));
  EXPECT_EQ(Tensor::UInt(DType::kUInt3, {3}, {1, 7, 5}).bytes().size(), 2u);
  EXPECT_EQ(Tensor::UInt(DType::kUInt3, {3}, {1, 7, 5}).AsInts(), (std::vector<int64_t>{1, 7, 5}));
}

TEST_F(BuilderTest, SmallConstantsInlineLargeOnesInBlob) {
  ProgramBuilder pb(blobs_.get());
  Function* f = pb.AddFunction("main");
  Value small = f->Const(Tensor::F16({9}, std::vector<float>(9, 1.5f)), "small");
  Value big = f->Const(Tensor::F16({10}, std::vector<float>(10, 2.5f)), "big");
  Value ints = f->Const(Tensor::I64({12}, std::vector<int64_t>(12, 3)), "longs");
  Value flags = f->Const(Tensor::Bool({12}, std::vector<bool>(12, true)), "flags");
  ASSERT_TRUE(pb.status().ok()) << pb.status().ToString();
  EXPECT_NE(small.constant(), nullptr);
  EXPECT_EQ(big.constant(), nullptr);
  EXPECT_TRUE(big.is_compile_time_constant());
  EXPECT_NE(ints.constant(), nullptr);
  EXPECT_NE(flags.constant(), nullptr);
  f->Output(f->Add(big, big, "sum"), "sum");
  f->Output(small, "small");
  MS::Program p;
  ASSERT_TRUE(pb.Serialize(&p).ok());
  EXPECT_EQ(p.version(), 1);
  const MS::Operation* op = FindOp(p, "main", "big");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->type(), "const");
  EXPECT_EQ(op->inputs_size(), 0);
  const MS::Value& val = op->attributes().at("val");
  ASSERT_TRUE(val.has_blobfilevalue());
  EXPECT_EQ(val.blobfilevalue().filename(), "@model_path/weights/weight.bin");
  EXPECT_EQ(val.blobfilevalue().offset(), 64u);
  EXPECT_EQ(val.type().tensortype().datatype(), MS::FLOAT16);
  const MS::Value& sv = FindOp(p, "main", "small")->attributes().at("val");
  EXPECT_EQ(sv.immediatevalue().tensor().bytes().values().size(), 18u);
  const MS::Value& lv = FindOp(p, "main", "longs")->attributes().at("val");
  EXPECT_EQ(lv.immediatevalue().tensor().longints().values_size(), 12);
  const MS::Value& bv = FindOp(p, "main", "flags")->attributes().at("val");
  EXPECT_EQ(bv.immediatevalue().tensor().bools().values_size(), 12);
  coreml::BlobReader reader = FinishBlobs();
  auto blob = reader.Get(64, coreml::BlobDType::kFloat16, 10);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->data[0] | (blob->data[1] << 8), 0x4100);  // 2.5 in fp16
}

TEST_F(BuilderTest, ImmediateEncodingPerDType) {
  ProgramBuilder pb(blobs_.get());
  Function* f = pb.AddFunction("main");
  f->Const(Tensor::F32({2}, {1.f, 2.f}), "f32");
  f->Const(Tensor::I32({2}, {7, -7}), "i32");
  f->Const(Tensor::Ints(DType::kInt16, {2}, {-3, 4}), "i16");
  f->Const(Tensor::Ints(DType::kInt8, {2}, {-3, 4}), "i8");
  f->Const(Tensor::Ints(DType::kUInt32, {1}, {70000}), "u32");
  f->Const(Tensor::ScalarString("hi"), "s");
  Value out = f->Const(Tensor::UInt(DType::kUInt4, {3}, {1, 2, 15}), "u4");
  f->Output(f->Const(Tensor::ScalarF32(1.f), "one"), "one");
  ASSERT_TRUE(pb.status().ok()) << pb.status().ToString();
  (void)out;
  MS::Program p;
  ASSERT_TRUE(pb.Serialize(&p).ok());
  auto tv = [&](const char* n) { return FindOp(p, "main", n)->attributes().at("val").immediatevalue().tensor(); };
  EXPECT_EQ(tv("f32").floats().values(1), 2.f);
  EXPECT_EQ(tv("i32").ints().values(1), -7);
  EXPECT_EQ(tv("i16").ints().values(0), -3);
  EXPECT_EQ(tv("i8").bytes().values(), std::string("\xfd\x04", 2));
  EXPECT_EQ(tv("u32").bytes().values().size(), 4u);
  EXPECT_EQ(tv("s").strings().values(0), "hi");
  EXPECT_EQ(tv("u4").bytes().values(), std::string("\x21\x0f", 2));
  EXPECT_EQ(FindOp(p, "main", "u4")->attributes().at("val").type().tensortype().datatype(), MS::UINT4);
}

TEST_F(BuilderTest, SharedConstWritesOnceAcrossFunctions) {
  ProgramBuilder pb(blobs_.get());
  int made = 0;
  auto make = [&] {
    ++made;
    return Tensor::F16({4, 8}, std::vector<float>(32, 0.25f));
  };
  Function* a = pb.AddFunction("infer");
  Function* b = pb.AddFunction("prefill");
  Value wa = a->SharedConst("layer0.w", make, "w");
  Value wb = b->SharedConst("layer0.w", make, "w");
  a->Output(a->Add(wa, wa, "y"), "y");
  b->Output(b->Add(wb, wb, "y"), "y");
  ASSERT_TRUE(pb.status().ok()) << pb.status().ToString();
  EXPECT_EQ(made, 1);
  EXPECT_EQ(wb.type().ToString(), "fp16[4,8]");
  EXPECT_EQ(blobs_->num_blobs(), 1u);
  MS::Program p;
  ASSERT_TRUE(pb.Serialize(&p).ok());
  EXPECT_EQ(FindOp(p, "infer", "w")->attributes().at("val").blobfilevalue().offset(),
            FindOp(p, "prefill", "w")->attributes().at("val").blobfilevalue().offset());
}

TEST_F(BuilderTest, NoBlobWriterForLargeConstantIsAnError) {
  ProgramBuilder pb(nullptr);
  Function* f = pb.AddFunction("main");
  f->Const(Tensor::F32({16}, std::vector<float>(16, 0.f)), "w");
  EXPECT_EQ(pb.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(pb.status().message(), HasSubstr("'w'"));
}

TEST_F(BuilderTest, UnsupportedConstDTypesAndBadBytes) {
  {
    ProgramBuilder pb(blobs_.get());
    pb.AddFunction("main")->Const(Tensor({DType::kBFloat16, {2}}, {0, 0, 0, 0}), "bf");
    EXPECT_EQ(pb.status().code(), StatusCode::kUnsupported);
    EXPECT_THAT(pb.status().message(), HasSubstr("bf16"));
  }
  {
    ProgramBuilder pb(blobs_.get());
    pb.AddFunction("main")->Const(Tensor({DType::kFloat32, {2}}, {0, 0, 0}), "short");
    EXPECT_THAT(pb.status().message(), HasSubstr("needs 8 bytes, found 3"));
  }
}

TEST_F(BuilderTest, ErrorsAreStickyAndNamed) {
  ProgramBuilder pb(blobs_.get());
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {DType::kFloat16, {1, 4}});
  EXPECT_FALSE(f->Op("frobnicate", {{"x", x}}, "bad").valid());
  EXPECT_THAT(pb.status().message(), HasSubstr("unknown op type 'frobnicate'"));
  // Later calls do nothing and keep the first error.
  Value later = f->Add(x, x, "ok");
  EXPECT_FALSE(later.valid());
  EXPECT_EQ(later.name(), "");  // invalid values answer safely
  EXPECT_EQ(later.type().shape.size(), 0u);
  EXPECT_THAT(pb.status().message(), HasSubstr("frobnicate"));
  MS::Program p;
  EXPECT_FALSE(pb.Serialize(&p).ok());
}

TEST_F(BuilderTest, DuplicateAndInvalidNames) {
  {
    ProgramBuilder pb(blobs_.get());
    Function* f = pb.AddFunction("main");
    Value x = f->Input("x", {DType::kFloat16, {2}});
    f->Add(x, x, "x");
    EXPECT_THAT(pb.status().message(), HasSubstr("name 'x' is already used"));
  }
  {
    ProgramBuilder pb(blobs_.get());
    pb.AddFunction("main")->Input("1x", {DType::kFloat16, {2}});
    EXPECT_THAT(pb.status().message(), HasSubstr("not a valid MIL identifier"));
  }
}

TEST_F(BuilderTest, SerializesOpsInputsOutputsAndStates) {
  ProgramBuilder pb(blobs_.get());
  Function* f = pb.AddFunction("main");
  Value x = f->Input("x", {DType::kFloat16, {1, 4}});
  Value s = f->StateInput("cache", {2, 4});
  Value r = f->Op("read_state", {{"input", s}}, "r");
  Value y = f->Mul(x, f->Const(Tensor::F16({}, {2.f}), "two"), "y");
  f->Output(y, "out");  // name differs: identity added
  f->Output(r, "r");
  ASSERT_TRUE(pb.status().ok()) << pb.status().ToString();
  MS::Program p;
  ASSERT_TRUE(pb.Serialize(&p).ok());
  const MS::Function& fn = p.functions().at("main");
  EXPECT_EQ(fn.opset(), "CoreML8");
  ASSERT_EQ(fn.inputs_size(), 2);
  EXPECT_EQ(fn.inputs(0).type().tensortype().datatype(), MS::FLOAT16);
  EXPECT_EQ(fn.inputs(0).type().tensortype().rank(), 2);
  EXPECT_EQ(fn.inputs(0).type().tensortype().dimensions(1).constant().size(), 4u);
  EXPECT_EQ(fn.inputs(1).type().statetype().wrappedtype().tensortype().dimensions(0).constant().size(), 2u);
  const MS::Block& block = fn.block_specializations().at("CoreML8");
  ASSERT_EQ(block.outputs_size(), 2);
  EXPECT_EQ(block.outputs(0), "out");
  const MS::Operation* mul = FindOp(p, "main", "y");
  ASSERT_NE(mul, nullptr);
  EXPECT_EQ(mul->type(), "mul");
  EXPECT_EQ(mul->inputs().at("x").arguments(0).name(), "x");
  EXPECT_EQ(mul->inputs().at("y").arguments(0).name(), "two");
  EXPECT_EQ(mul->attributes_size(), 1);
  EXPECT_EQ(mul->outputs(0).type().tensortype().dimensions_size(), 2);
  EXPECT_EQ(FindOp(p, "main", "out")->type(), "identity");
}

TEST_F(BuilderTest, ConstexprInputsAreInlineAndFeedingConstsDropped) {
  ProgramBuilder pb(blobs_.get());
  Function* f = pb.AddFunction("main");
  std::vector<uint8_t> idx(64);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint8_t>(i % 4);
  Value w = f->Op("constexpr_lut_to_dense",
                  {{"indices", Tensor::UInt(DType::kUInt2, {8, 8}, idx)},
                   {"lut", Tensor::F16({2, 1, 4, 1}, {0, 1, 2, 3, 4, 5, 6, 7})}},
                  "w");
  ASSERT_TRUE(pb.status().ok()) << pb.status().ToString();
  EXPECT_EQ(w.type().ToString(), "fp16[8,8]");
  Value x = f->Input("x", {DType::kFloat16, {1, 8}});
  f->Output(f->Op("linear", {{"x", x}, {"weight", w}}, "y"), "y");
  ASSERT_TRUE(pb.status().ok()) << pb.status().ToString();
  MS::Program p;
  ASSERT_TRUE(pb.Serialize(&p).ok());
  const MS::Operation* op = FindOp(p, "main", "w");
  ASSERT_NE(op, nullptr);
  const auto& ind = op->inputs().at("indices").arguments(0);
  ASSERT_TRUE(ind.has_value());
  EXPECT_TRUE(ind.value().has_blobfilevalue());  // 64 uint2 elements -> blob
  EXPECT_EQ(ind.value().type().tensortype().datatype(), MS::UINT2);
  EXPECT_TRUE(op->inputs().at("lut").arguments(0).value().has_immediatevalue());
  EXPECT_EQ(op->inputs().count("vector_axis"), 0u);
  EXPECT_EQ(FindOp(p, "main", "w_indices"), nullptr);  // folded into the constexpr op
  EXPECT_EQ(FindOp(p, "main", "w_lut"), nullptr);
  EXPECT_EQ(FindOp(p, "main", "y")->inputs().at("weight").arguments(0).name(), "w");
}

}  // namespace
}  // namespace anec::mil
