#include "mil/model_assembler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace anec::mil {
namespace {

namespace CS = CoreML::Specification;
using ::testing::HasSubstr;

void BuildLayer(Function* f, int64_t len) {
  Value x = f->Input("x", {DType::kFloat16, {1, len, 8}});
  Value kv = f->StateInput("kv", {1, 4, 8});
  Value cache = f->Op("read_state", {{"input", kv}}, "cache");
  f->Output(f->Op("reduce_sum", {{"x", cache}, {"axes", Tensor::I32({1}, {1})}}, "s"), "s");
  f->Output(f->Cast(x, DType::kFloat32, "x32"), "x32");
}

TEST(ModelAssemblerTest, SingleFunctionDescription) {
  ProgramBuilder pb(nullptr);
  BuildLayer(pb.AddFunction("main"), 3);
  ModelOptions options;
  options.metadata.author = "me";
  options.metadata.license = "MIT";
  options.metadata.version = "1.2";
  options.metadata.short_description = "test";
  options.metadata.user_defined["context_length"] = "4";
  auto model = AssembleModel(pb, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->specificationversion(), 9);
  const CS::ModelDescription& d = model->description();
  ASSERT_EQ(d.input_size(), 1);
  EXPECT_EQ(d.input(0).name(), "x");
  EXPECT_EQ(d.input(0).type().multiarraytype().datatype(), CS::ArrayFeatureType::FLOAT16);
  EXPECT_THAT(d.input(0).type().multiarraytype().shape(), ::testing::ElementsAre(1, 3, 8));
  ASSERT_EQ(d.state_size(), 1);
  EXPECT_EQ(d.state(0).name(), "kv");
  EXPECT_EQ(d.state(0).type().statetype().arraytype().datatype(), CS::ArrayFeatureType::FLOAT16);
  EXPECT_THAT(d.state(0).type().statetype().arraytype().shape(), ::testing::ElementsAre(1, 4, 8));
  ASSERT_EQ(d.output_size(), 2);
  EXPECT_EQ(d.output(0).name(), "s");
  EXPECT_THAT(d.output(0).type().multiarraytype().shape(), ::testing::ElementsAre(1, 8));
  EXPECT_EQ(d.output(1).type().multiarraytype().datatype(), CS::ArrayFeatureType::FLOAT32);
  EXPECT_EQ(d.functions_size(), 0);
  EXPECT_EQ(d.metadata().author(), "me");
  EXPECT_EQ(d.metadata().license(), "MIT");
  EXPECT_EQ(d.metadata().versionstring(), "1.2");
  EXPECT_EQ(d.metadata().userdefined().at("context_length"), "4");
  EXPECT_EQ(model->mlprogram().functions().count("main"), 1u);
}

TEST(ModelAssemblerTest, MultiFunctionDescription) {
  ProgramBuilder pb(nullptr);
  BuildLayer(pb.AddFunction("infer"), 1);
  BuildLayer(pb.AddFunction("prefill"), 4);
  ModelOptions options;
  options.default_function = "prefill";
  auto model = AssembleModel(pb, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const CS::ModelDescription& d = model->description();
  EXPECT_EQ(d.input_size(), 0);
  EXPECT_EQ(d.output_size(), 0);
  EXPECT_EQ(d.state_size(), 0);
  ASSERT_EQ(d.functions_size(), 2);
  EXPECT_EQ(d.functions(1).name(), "prefill");
  EXPECT_THAT(d.functions(1).input(0).type().multiarraytype().shape(), ::testing::ElementsAre(1, 4, 8));
  EXPECT_EQ(d.functions(0).state(0).name(), "kv");
  EXPECT_EQ(d.defaultfunctionname(), "prefill");
  EXPECT_EQ(model->mlprogram().functions_size(), 2);
}

TEST(ModelAssemblerTest, Errors) {
  {
    ProgramBuilder pb(nullptr);
    BuildLayer(pb.AddFunction("decode"), 1);
    auto m = AssembleModel(pb, {});
    EXPECT_THAT(m.status().message(), HasSubstr("must be named 'main', found 'decode'"));
  }
  {
    ProgramBuilder pb(nullptr);
    BuildLayer(pb.AddFunction("main"), 1);
    ModelOptions o;
    o.specification_version = 8;
    EXPECT_THAT(AssembleModel(pb, o).status().message(),
                HasSubstr("opset CoreML8 which needs specificationVersion 9"));
  }
  {
    ProgramBuilder pb(nullptr);
    Function* f = pb.AddFunction("main");
    Value x = f->Input("x", {DType::kFloat16, {2}});
    f->Output(f->Op("less", {{"x", x}, {"y", x}}, "m"), "m");
    EXPECT_THAT(AssembleModel(pb, {}).status().message(),
                HasSubstr("function 'main' output 'm' has dtype bool"));
  }
  {
    ProgramBuilder pb(nullptr);
    BuildLayer(pb.AddFunction("a"), 1);
    BuildLayer(pb.AddFunction("b"), 1);
    ModelOptions o;
    o.default_function = "c";
    EXPECT_THAT(AssembleModel(pb, o).status().message(), HasSubstr("'c' is not a function"));
  }
}

TEST(ModelAssemblerTest, WritePackageRoundTrip) {
  MemoryFileSystem fs;
  Status s = WritePackage(&fs, "/out/m.mlpackage", {}, [](ProgramBuilder& pb) {
    Function* f = pb.AddFunction("main");
    Value x = f->Input("x", {DType::kFloat16, {1, 16}});
    Value w = f->Const(Tensor::F16({16}, std::vector<float>(16, 0.5f)), "w");
    f->Output(f->Mul(x, w, "y"), "y");
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto pkg = coreml::Package::Open(&fs, "/out/m.mlpackage");
  ASSERT_TRUE(pkg.ok()) << pkg.status().ToString();
  EXPECT_EQ(pkg->model().description().output(0).name(), "y");
  ASSERT_NE(pkg->weights(), nullptr);
  auto blob = pkg->weights()->Get(64, coreml::BlobDType::kFloat16, 16);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->data[0] | (blob->data[1] << 8), 0x3800);  // 0.5
}

TEST(ModelAssemblerTest, FailedBuildLeavesNothing) {
  MemoryFileSystem fs;
  Status s = WritePackage(&fs, "/out/m.mlpackage", {}, [](ProgramBuilder& pb) {
    Function* f = pb.AddFunction("main");
    Value x = f->Input("x", {DType::kFloat16, {2}});
    f->Op("nope", {{"x", x}}, "n");
    return Status::Ok();
  });
  EXPECT_THAT(s.message(), HasSubstr("unknown op type 'nope'"));
  EXPECT_FALSE(fs.Exists("/out/m.mlpackage"));
}

}  // namespace
}  // namespace anec::mil
