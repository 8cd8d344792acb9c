#include "io/prequant_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace anec::io {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

Result<PrequantConfig> Parse(const char* text) {
  return ParsePrequantConfig(json::parse(text), "m/config.json");
}

TEST(PrequantConfigTest, GptqV1DefaultsAndActOrder) {
  auto c = Parse(R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": true,
                     "sym": false, "damp_percent": 0.01, "true_sequential": true})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->method, PrequantMethod::kGptq);
  EXPECT_EQ(c->group_size, 128);
  EXPECT_TRUE(c->desc_act);
  EXPECT_FALSE(c->sym);
  EXPECT_TRUE(c->zeros_minus_one);  // no checkpoint_format: the historical v1 layout
  EXPECT_EQ(c->path, "m/config.json");
}

TEST(PrequantConfigTest, GptqV2HasNoZeroOffsetAndGroupMinusOneIsPerColumn) {
  auto c = Parse(R"({"quant_method": "gptq", "bits": 4, "group_size": -1,
                     "checkpoint_format": "gptq_v2"})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->zeros_minus_one);
  EXPECT_EQ(c->group_size, -1);
  EXPECT_TRUE(c->sym);
}

TEST(PrequantConfigTest, AwqGemmAndLegacyAutoAwqSpelling) {
  auto c = Parse(R"({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": true,
                     "version": "gemm", "modules_to_not_convert": ["lm_head"]})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->method, PrequantMethod::kAwqGemm);
  EXPECT_FALSE(c->zeros_minus_one);
  EXPECT_EQ(c->modules_to_not_convert, std::vector<std::string>{"lm_head"});
  auto legacy = Parse(R"({"zero_point": true, "q_group_size": 64, "w_bit": 4,
                          "version": "GEMM"})");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(legacy->method, PrequantMethod::kAwqGemm);
  EXPECT_EQ(legacy->group_size, 64);
}

TEST(PrequantConfigTest, UnsupportedSchemesNameThemselvesAndWhatIsSupported) {
  struct Case {
    const char* text;
    const char* names;
  };
  const Case cases[] = {
      {R"({"quant_method": "fp8", "activation_scheme": "dynamic"})", "quant_method 'fp8'"},
      {R"({"quant_method": "bitsandbytes", "load_in_4bit": true})", "'bitsandbytes'"},
      {R"({"quant_method": "exl2", "bits": 4})", "'exl2'"},
      {R"({"quant_method": "compressed-tensors", "format": "pack-quantized"})",
       "'compressed-tensors'"},
      {R"({"quant_method": "hqq", "bits": 4})", "'hqq'"},
      {R"({"quant_method": "gptq", "bits": 8, "group_size": 128})", "gptq with bits 8"},
      {R"({"quant_method": "awq", "bits": 3, "group_size": 128})", "awq with bits 3"},
      {R"({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv"})",
       "AWQ version 'gemv'"},
      {R"({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": false})",
       "zero_point false"},
      {R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "marlin"})",
       "checkpoint_format 'marlin'"},
      {R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "is_marlin_format": true})",
       "checkpoint_format 'marlin'"},
      {R"({"quant_method": "gptq", "bits": 4, "group_size": 128,
           "dynamic": {"-:.*mlp.*": {}, "+:.*q_proj": {"bits": 8}}})",
       "per-module 'dynamic' overrides"},
  };
  for (const Case& k : cases) {
    auto c = Parse(k.text);
    ASSERT_FALSE(c.ok()) << k.text;
    EXPECT_EQ(c.status().code(), StatusCode::kUnsupported) << k.text;
    EXPECT_THAT(c.status().message(), HasSubstr(k.names));
    EXPECT_THAT(c.status().message(), HasSubstr("anec reads int4 GPTQ"));
    EXPECT_THAT(c.status().message(), HasSubstr("m/config.json"));
  }
}

TEST(PrequantConfigTest, MalformedFieldsAreInvalidArguments) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"quant_method": "gptq", "bits": "4", "group_size": 128})", "'bits' should be"},
      {R"({"quant_method": "gptq", "group_size": 128})", "no 'bits'"},
      {R"({"quant_method": "gptq", "bits": 4})", "no 'group_size'"},
      {R"({"quant_method": "gptq", "bits": 4, "group_size": 0})", "found 0"},
      {R"({"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": "yes"})",
       "'desc_act' should be true or false"},
      {R"([4])", "should be an object"},
  };
  for (const auto& [text, message] : cases) {
    auto c = Parse(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(c.status().message(), HasSubstr(message)) << text;
  }
}

// The message printed the value with nlohmann's dump(), which recurses once per level.
TEST(PrequantConfigTest, DeeplyNestedFieldIsAnErrorNotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto c = Parse(("{\"quant_method\": \"gptq\", \"bits\": " + deep + "}").c_str());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("'bits' should be an integer, found <array nested"));
  EXPECT_FALSE(Parse(deep.c_str()).ok());
}

TEST(PrequantConfigTest, ReadFindsConfigJsonThenLegacyFiles) {
  MemoryFileSystem fs;
  fs.SetFile("plain/config.json", R"({"model_type": "llama", "quantization_config": null})");
  auto plain = ReadPrequantConfig(&fs, "plain");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->has_value());

  fs.SetFile("q/config.json", R"({"model_type": "llama", "quantization_config":
      {"quant_method": "awq", "bits": 4, "group_size": 32, "version": "gemm"}})");
  auto q = ReadPrequantConfig(&fs, "q");
  ASSERT_TRUE(q.ok() && q->has_value()) << q.status().ToString();
  EXPECT_EQ((*q)->method, PrequantMethod::kAwqGemm);
  EXPECT_EQ((*q)->path, "q/config.json");

  fs.SetFile("old/config.json", R"({"model_type": "llama"})");
  fs.SetFile("old/quantize_config.json", R"({"bits": 4, "group_size": 128, "desc_act": false})");
  auto old = ReadPrequantConfig(&fs, "old");
  ASSERT_TRUE(old.ok() && old->has_value()) << old.status().ToString();
  EXPECT_EQ((*old)->method, PrequantMethod::kGptq);
  EXPECT_EQ((*old)->path, "old/quantize_config.json");

  fs.SetFile("bad/config.json", "{not json");
  auto bad = ReadPrequantConfig(&fs, "bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("bad/config.json: not valid JSON"));

  fs.SetFile("fp8/config.json", R"({"quantization_config": {"quant_method": "fp8"}})");
  auto fp8 = ReadPrequantConfig(&fs, "fp8");
  ASSERT_FALSE(fp8.ok());
  EXPECT_EQ(fp8.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace anec::io
