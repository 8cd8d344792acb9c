#include "model/hf_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace anec::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// tests/fixtures/checkpoints/<name>, written by tools/make_checkpoint_fixtures.py.
std::string FixtureDir(const std::string& name) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  EXPECT_NE(root, nullptr) << "ANEC_SOURCE_DIR is not set; run through ctest";
  return JoinPath(JoinPath(root ? root : "/nonexistent", "tests/fixtures/checkpoints"), name);
}

Result<LoadedModel> Load(const std::string& name,
                         std::optional<std::string_view> override_name = std::nullopt) {
  return LoadHfCheckpoint(RealFileSystem(), FixtureDir(name), override_name);
}

// Every tensor of the fixture matches what the generator recorded: dtype, shape, the sum of
// its values and its first values (the generator checked its files with the reference
// safetensors library, so this compares our reader with that one).
void ExpectTensorsMatchGenerator(const std::string& name, const io::TensorSource& source) {
  auto text = RealFileSystem()->ReadFile(JoinPath(FixtureDir(name), "anec_expected.json"));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  nlohmann::json expected = nlohmann::json::parse(*text, nullptr, false);
  ASSERT_FALSE(expected.is_discarded());
  const auto& tensors = expected["tensors"];
  EXPECT_EQ(source.List().size(), tensors.size()) << name;
  for (auto it = tensors.begin(); it != tensors.end(); ++it) {
    SCOPED_TRACE(name + ": " + it.key());
    auto data = source.Read(it.key());
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    EXPECT_EQ(io::SafetensorsDTypeName(data->info.dtype), it.value()["dtype"].get<std::string>());
    EXPECT_EQ(data->info.shape, it.value()["shape"].get<std::vector<int64_t>>());
    auto values = io::ToFloat32(*data);
    ASSERT_TRUE(values.ok()) << values.status().ToString();
    double sum = 0;
    for (float v : *values) sum += v;
    const double want = it.value()["sum"].get<double>();
    EXPECT_NEAR(sum, want, 1e-9 * std::max(1.0, std::abs(want)));
    const auto first = it.value()["first"].get<std::vector<double>>();
    for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ((*values)[i], first[i]) << i;
  }
}

TEST(HfCheckpointTest, LlamaTiedBf16) {
  auto m = Load("llama_tied");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const ModelSpec& s = m->spec;
  EXPECT_EQ(s.architecture, Architecture::kLlama);
  EXPECT_EQ(s.name, "llama_tied");
  EXPECT_EQ(s.hidden_size, 32);
  EXPECT_EQ(s.num_layers, 2);
  EXPECT_EQ(s.num_heads, 4);
  EXPECT_EQ(s.num_kv_heads, 2);
  EXPECT_EQ(s.head_dim, 8);
  EXPECT_TRUE(s.tie_word_embeddings);
  EXPECT_EQ(s.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(s.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_DOUBLE_EQ(s.rope_theta, 500000.0);
  EXPECT_THAT(s.eos_token_ids, ElementsAre(2, 3, 4));  // from generation_config.json
  EXPECT_EQ(s.torch_dtype, "bfloat16");
  EXPECT_EQ(m->checkpoint.Name(TensorRole::kLmHead), "model.embed_tokens.weight");
  EXPECT_EQ(m->checkpoint.Info(TensorRole::kQProj, 1).dtype, io::TensorDType::kBF16);
  EXPECT_TRUE(m->checkpoint.unused_tensors().empty());
  ExpectTensorsMatchGenerator("llama_tied", *m->source);
}

TEST(HfCheckpointTest, LlamaUntiedF32LinearRope) {
  auto m = Load("llama_untied");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE(m->spec.tie_word_embeddings);
  EXPECT_EQ(m->spec.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(m->spec.rope_scaling.factor, 2.0);
  EXPECT_EQ(m->checkpoint.Name(TensorRole::kLmHead), "lm_head.weight");
  ExpectTensorsMatchGenerator("llama_untied", *m->source);
}

TEST(HfCheckpointTest, Qwen2ShardedWithBias) {
  auto m = Load("qwen2_bias_sharded");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->spec.architecture, Architecture::kQwen2);
  EXPECT_TRUE(m->spec.attention_bias);
  EXPECT_FALSE(m->spec.sliding_window.has_value());
  EXPECT_EQ(m->spec.default_prefix, "qwen25");
  EXPECT_TRUE(m->checkpoint.Has(TensorRole::kVBias));
  EXPECT_EQ(m->checkpoint.Info(TensorRole::kVBias, 1).dtype, io::TensorDType::kF16);
  ExpectTensorsMatchGenerator("qwen2_bias_sharded", *m->source);
}

TEST(HfCheckpointTest, QwQDetectedFromFolderName) {
  auto m = Load("qwq_tiny");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->spec.architecture, Architecture::kQwQ);
  EXPECT_TRUE(m->spec.attention_bias);
  EXPECT_TRUE(m->spec.bos_token_ids.empty());  // null in config.json
  auto forced = Load("qwq_tiny", "qwen2");
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_EQ(forced->spec.architecture, Architecture::kQwen2);
  ExpectTensorsMatchGenerator("qwq_tiny", *m->source);
}

TEST(HfCheckpointTest, Qwen3QkNormWideHeads) {
  auto m = Load("qwen3_qk_norm");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->spec.architecture, Architecture::kQwen3);
  EXPECT_EQ(m->spec.head_dim, 16);
  EXPECT_TRUE(m->spec.qk_norm);
  EXPECT_THAT(m->checkpoint.Info(TensorRole::kQProj, 0).shape, ElementsAre(64, 32));
  EXPECT_THAT(m->checkpoint.Info(TensorRole::kKNorm, 1).shape, ElementsAre(16));
  ExpectTensorsMatchGenerator("qwen3_qk_norm", *m->source);
}

TEST(HfCheckpointTest, MistralShardedSlidingWindow) {
  auto m = Load("mistral_sliding_sharded");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->spec.architecture, Architecture::kMistral);
  EXPECT_EQ(m->spec.sliding_window, 16);
  EXPECT_EQ(m->spec.default_prefix, "mistral");
  ExpectTensorsMatchGenerator("mistral_sliding_sharded", *m->source);
}

TEST(HfCheckpointTest, WrongOverrideFailsBinding) {
  // Forcing qwen3 on a Llama checkpoint asks for q/k norms it does not have.
  auto m = Load("llama_untied", "qwen3");
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(),
              HasSubstr("no tensor model.layers.0.self_attn.q_norm.weight (role q_norm, layer 0)"));
}

TEST(HfCheckpointTest, ModelNameForFolder) {
  EXPECT_EQ(ModelNameForFolder("/models/Qwen2.5-0.5B"), "Qwen2.5-0.5B");
  EXPECT_EQ(ModelNameForFolder("/models/Qwen2.5-0.5B/"), "Qwen2.5-0.5B");
  EXPECT_EQ(ModelNameForFolder("/c/hub/models--Qwen--QwQ-32B/snapshots/0123abcd"), "Qwen/QwQ-32B");
  EXPECT_EQ(ModelNameForFolder("/c/hub/models--gpt2/snapshots/0123abcd"), "gpt2");
  EXPECT_EQ(ModelNameForFolder("/x/snapshots/0123abcd"), "0123abcd");
}

TEST(HfCheckpointTest, QwQDetectedInsideHubCache) {
  MemoryFileSystem fs;
  const std::string dir = "/c/models--Qwen--QwQ-32B/snapshots/abc";
  auto config = RealFileSystem()->ReadFile(JoinPath(FixtureDir("qwq_tiny"), "config.json"));
  auto weights = RealFileSystem()->ReadFile(JoinPath(FixtureDir("qwq_tiny"), "model.safetensors"));
  ASSERT_TRUE(config.ok() && weights.ok());
  fs.SetFile(dir + "/config.json", *config);
  fs.SetFile(dir + "/model.safetensors", *weights);
  auto m = LoadHfCheckpoint(&fs, dir);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->spec.name, "Qwen/QwQ-32B");
  EXPECT_EQ(m->spec.architecture, Architecture::kQwQ);
}

TEST(HfCheckpointTest, ErrorsFromEachStep) {
  MemoryFileSystem fs;
  EXPECT_THAT(LoadHfCheckpoint(&fs, "/m").status().message(), HasSubstr("/m/config.json"));
  fs.SetFile("/m/config.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8,
      "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 4,
      "vocab_size": 4})");
  EXPECT_THAT(LoadHfCheckpoint(&fs, "/m").status().message(),
              HasSubstr("/m: no model.safetensors.index.json or model.safetensors"));
}

}  // namespace
}  // namespace anec::model
