#include "io/hf_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace anec::io {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(HfConfigTest, ReadsLlama31Fields) {
  const char* text = R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "tie_word_embeddings": false, "attention_bias": false,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
    "torch_dtype": "bfloat16", "head_dim": null})";
  auto c = ParseHfConfig(text, "/m/config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->path, "/m/config.json");
  EXPECT_THAT(c->architectures, ElementsAre("LlamaForCausalLM"));
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->num_hidden_layers, 32);
  EXPECT_EQ(c->num_attention_heads, 32);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_FALSE(c->head_dim.has_value());  // null is absent
  EXPECT_EQ(c->intermediate_size, 14336);
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(*c->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(*c->rope_theta, 500000.0);
  ASSERT_TRUE(c->rope_scaling.has_value());
  EXPECT_EQ(c->rope_scaling->type, "llama3");
  EXPECT_DOUBLE_EQ(*c->rope_scaling->factor, 8.0);
  EXPECT_DOUBLE_EQ(*c->rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(*c->rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(c->tie_word_embeddings, false);
  EXPECT_EQ(c->attention_bias, false);
  EXPECT_THAT(c->bos_token_ids, ElementsAre(128000));
  EXPECT_THAT(c->eos_token_ids, ElementsAre(128001, 128008, 128009));
  EXPECT_EQ(c->torch_dtype, "bfloat16");
}

TEST(HfConfigTest, OlderTypeKeyAndDtypeAlias) {
  auto c = ParseHfConfig(
      R"({"rope_scaling": {"type": "linear", "factor": 2}, "dtype": "float16",
          "rope_theta": 10000, "sliding_window": null, "use_sliding_window": false})",
      "c.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rope_scaling->type, "linear");
  EXPECT_DOUBLE_EQ(*c->rope_scaling->factor, 2.0);  // an integer is a fine number
  EXPECT_EQ(c->torch_dtype, "float16");
  EXPECT_DOUBLE_EQ(*c->rope_theta, 10000.0);
  EXPECT_FALSE(c->sliding_window.has_value());
  EXPECT_EQ(c->use_sliding_window, false);
  EXPECT_FALSE(c->hidden_size.has_value());
}

TEST(HfConfigTest, RopeParametersCarryThetaAndType) {
  auto c = ParseHfConfig(
      R"({"rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}})", "c.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_DOUBLE_EQ(*c->rope_theta, 1e6);
  EXPECT_EQ(c->rope_scaling->type, "default");
}

TEST(HfConfigTest, IntegralFloatsAreAcceptedAsIntegers) {
  auto c = ParseHfConfig(R"({"hidden_size": 4096.0, "sliding_window": 4096})", "c.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->sliding_window, 4096);
}

TEST(HfConfigTest, WrongTypesNameFileAndField) {
  auto c = ParseHfConfig(R"({"hidden_size": "4096"})", "/m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(),
              HasSubstr("/m/config.json: field hidden_size is \"4096\" (string), expected an "
                        "integer"));
  EXPECT_THAT(ParseHfConfig(R"({"num_hidden_layers": 2.5})", "c").status().message(),
              HasSubstr("field num_hidden_layers is 2.5"));
  EXPECT_THAT(ParseHfConfig(R"({"tie_word_embeddings": "yes"})", "c").status().message(),
              HasSubstr("expected true or false"));
  EXPECT_THAT(ParseHfConfig(R"({"eos_token_id": [1, "x"]})", "c").status().message(),
              HasSubstr("field eos_token_id"));
  EXPECT_THAT(ParseHfConfig(R"({"rope_scaling": {"factor": "big"}})", "c").status().message(),
              HasSubstr("field rope_scaling.factor is \"big\""));
  EXPECT_THAT(ParseHfConfig(R"({"rope_scaling": 3})", "c").status().message(),
              HasSubstr("field rope_scaling is 3"));
  EXPECT_THAT(ParseHfConfig(R"({"architectures": "Llama"})", "c").status().message(),
              HasSubstr("expected a list of class names"));
}

// The error message printed the value with nlohmann's dump(), which recurses
// once per level, so a deeply nested field overflowed the stack.
TEST(HfConfigTest, DeeplyNestedFieldIsAnErrorNotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto c = ParseHfConfig("{\"hidden_size\": " + deep + "}", "/m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("/m/config.json: field hidden_size is <array nested more than 32 levels"));
  EXPECT_FALSE(ParseHfConfig("{\"eos_token_id\": " + deep + "}", "c").ok());
  EXPECT_FALSE(ParseHfConfig("{\"rope_scaling\": {\"factor\": " + deep + "}}", "c").ok());
}

TEST(HfConfigTest, FromParsedJson) {
  nlohmann::json j = {{"hidden_size", 16}, {"eos_token_id", {1, 2}}, {"architectures", {"X"}}};
  auto c = HfConfigFromJson(j, "gguf:model.gguf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->hidden_size, 16);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(1, 2));
  EXPECT_THAT(c->architectures, ElementsAre("X"));
  EXPECT_THAT(HfConfigFromJson(nlohmann::json::array(), "g").status().message(),
              HasSubstr("g: JSON array at the top level"));
}

TEST(HfConfigTest, MalformedJson) {
  auto c = ParseHfConfig("{\"hidden_size\": 4", "/m/config.json");
  EXPECT_THAT(c.status().message(), HasSubstr("/m/config.json: not valid JSON"));
  EXPECT_THAT(ParseHfConfig("[1]", "c").status().message(), HasSubstr("expected an object"));
}

TEST(HfConfigTest, GenerationConfigReplacesTokenIds) {
  MemoryFileSystem fs;
  fs.SetFile("/m/config.json", R"({"bos_token_id": 1, "eos_token_id": 2})");
  fs.SetFile("/m/generation_config.json", R"({"eos_token_id": [2, 32000], "do_sample": true})");
  auto c = ReadHfConfig(&fs, "/m");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_THAT(c->bos_token_ids, ElementsAre(1));  // not in generation_config: kept
  EXPECT_THAT(c->eos_token_ids, ElementsAre(2, 32000));

  fs.SetFile("/m/generation_config.json", R"({"eos_token_id": "2"})");
  EXPECT_THAT(ReadHfConfig(&fs, "/m").status().message(),
              HasSubstr("/m/generation_config.json: field eos_token_id"));
}

TEST(HfConfigTest, MissingConfigIsNotFound) {
  MemoryFileSystem fs;
  auto c = ReadHfConfig(&fs, "/m");
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("/m/config.json not found"));
}

}  // namespace
}  // namespace anec::io
