#include "model/hf_model_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace anec::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Parses `json` as /m/config.json and builds a spec. Fails the test on a parse error.
Result<ModelSpec> Spec(const std::string& json, std::string_view name = "",
                       std::optional<std::string_view> override_name = std::nullopt) {
  auto c = io::ParseHfConfig(json, "/m/config.json");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) return c.status();
  return SpecFromHfConfig(*c, name, override_name);
}

// The dimensions every test config needs; callers add their own fields.
std::string Config(const std::string& extra) {
  return R"({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 8,
             "intermediate_size": 128, "vocab_size": 100)" +
         (extra.empty() ? std::string() : ", " + extra) + "}";
}

TEST(HfModelSpecTest, Llama31) {
  auto s = Spec(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "tie_word_embeddings": false, "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009], "torch_dtype": "bfloat16"})",
                "Llama-3.1-8B-Instruct");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->architecture, Architecture::kLlama);
  EXPECT_EQ(s->model_type, "llama");
  EXPECT_EQ(s->name, "Llama-3.1-8B-Instruct");
  EXPECT_EQ(s->hidden_size, 4096);
  EXPECT_EQ(s->num_layers, 32);
  EXPECT_EQ(s->num_heads, 32);
  EXPECT_EQ(s->num_kv_heads, 8);
  EXPECT_EQ(s->head_dim, 128);
  EXPECT_EQ(s->intermediate_size, 14336);
  EXPECT_EQ(s->vocab_size, 128256);
  EXPECT_EQ(s->max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(s->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(s->rope_theta, 500000.0);
  EXPECT_EQ(s->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(s->rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(s->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(s->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(s->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(s->tie_word_embeddings);
  EXPECT_FALSE(s->attention_bias);
  EXPECT_FALSE(s->qk_norm);
  EXPECT_FALSE(s->sliding_window.has_value());
  EXPECT_THAT(s->bos_token_ids, ElementsAre(128000));
  EXPECT_THAT(s->eos_token_ids, ElementsAre(128001, 128008, 128009));
  EXPECT_EQ(s->torch_dtype, "bfloat16");
  EXPECT_EQ(s->default_prefix, "llama");
}

TEST(HfModelSpecTest, DefaultsWhenFieldsAreAbsent) {
  auto s = Spec(Config(R"("architectures": ["LlamaForCausalLM"])"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->num_kv_heads, 8);  // = heads
  EXPECT_EQ(s->head_dim, 8);      // = hidden / heads
  EXPECT_DOUBLE_EQ(s->rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(s->rms_norm_eps, 1e-6);
  EXPECT_EQ(s->rope_scaling.type, RopeScalingType::kNone);
  EXPECT_FALSE(s->tie_word_embeddings);
}

TEST(HfModelSpecTest, Qwen25AlwaysHasQkvBiasAndIgnoresUnusedWindow) {
  auto s = Spec(Config(R"("architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
      "num_key_value_heads": 2, "tie_word_embeddings": true, "use_sliding_window": false,
      "sliding_window": 131072, "max_window_layers": 21, "rope_theta": 1000000.0,
      "eos_token_id": 151645)"),
                "Qwen2.5-0.5B-Instruct");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->architecture, Architecture::kQwen2);
  EXPECT_TRUE(s->attention_bias);  // config has no attention_bias key
  EXPECT_FALSE(s->sliding_window.has_value());
  EXPECT_TRUE(s->tie_word_embeddings);
  EXPECT_EQ(s->default_prefix, "qwen25");
  EXPECT_THAT(s->eos_token_ids, ElementsAre(151645));
}

TEST(HfModelSpecTest, Qwen2WithSlidingWindowOnIsRejected) {
  auto s = Spec(Config(R"("architectures": ["Qwen2ForCausalLM"], "use_sliding_window": true,
                          "sliding_window": 4096)"));
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.status().message(), HasSubstr("/m/config.json: use_sliding_window: true"));
}

TEST(HfModelSpecTest, QwQIsDetectedByName) {
  const std::string qwen2 = Config(R"("architectures": ["Qwen2ForCausalLM"])");
  EXPECT_EQ(Spec(qwen2, "models/QwQ-32B")->architecture, Architecture::kQwQ);
  EXPECT_EQ(Spec(qwen2, "my-qwq-finetune")->architecture, Architecture::kQwQ);
  EXPECT_EQ(Spec(qwen2, "Qwen2.5-7B")->architecture, Architecture::kQwen2);
  auto by_path = Spec(Config(R"("architectures": ["Qwen2ForCausalLM"],
                                "_name_or_path": "Qwen/QwQ-32B-Preview")"));
  EXPECT_EQ(by_path->architecture, Architecture::kQwQ);
  EXPECT_EQ(by_path->name, "Qwen/QwQ-32B-Preview");
  EXPECT_TRUE(by_path->attention_bias);
  EXPECT_EQ(by_path->default_prefix, "qwen25");
  // An explicit override wins over the name.
  EXPECT_EQ(Spec(qwen2, "QwQ-32B", "qwen2")->architecture, Architecture::kQwen2);
  // Only Qwen2 models become QwQ.
  EXPECT_EQ(Spec(Config(R"("architectures": ["LlamaForCausalLM"])"), "qwq")->architecture,
            Architecture::kLlama);
}

TEST(HfModelSpecTest, Qwen3HasQkNormAndExplicitHeadDim) {
  auto s = Spec(R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
      "hidden_size": 2560, "num_hidden_layers": 36, "num_attention_heads": 32,
      "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 9728,
      "vocab_size": 151936, "rope_theta": 1000000, "rope_scaling": null,
      "attention_bias": false, "use_sliding_window": false, "sliding_window": null,
      "tie_word_embeddings": true, "torch_dtype": "bfloat16"})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->architecture, Architecture::kQwen3);
  EXPECT_EQ(s->head_dim, 128);  // hidden / heads would be 80
  EXPECT_TRUE(s->qk_norm);
  EXPECT_FALSE(s->attention_bias);
  EXPECT_FALSE(s->sliding_window.has_value());
  EXPECT_EQ(s->default_prefix, "qwen");
}

TEST(HfModelSpecTest, MistralSlidingWindow) {
  auto with = Spec(Config(R"("architectures": ["MistralForCausalLM"], "sliding_window": 4096)"));
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ(with->architecture, Architecture::kMistral);
  EXPECT_EQ(with->sliding_window, 4096);
  EXPECT_EQ(with->default_prefix, "mistral");
  EXPECT_FALSE(with->attention_bias);
  auto none = Spec(Config(R"("architectures": ["MistralForCausalLM"], "sliding_window": null)"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->sliding_window.has_value());
  auto bad = Spec(Config(R"("architectures": ["MistralForCausalLM"], "sliding_window": 0)"));
  EXPECT_THAT(bad.status().message(), HasSubstr("sliding_window is 0"));
  // Llama has no sliding window even if the field is there.
  auto llama = Spec(Config(R"("architectures": ["LlamaForCausalLM"], "sliding_window": 16)"));
  EXPECT_FALSE(llama->sliding_window.has_value());
}

TEST(HfModelSpecTest, ModelTypeWhenNoArchitectures) {
  EXPECT_EQ(Spec(Config(R"("model_type": "mistral")"))->architecture, Architecture::kMistral);
  EXPECT_EQ(Spec(Config(R"("model_type": "qwen3")"))->architecture, Architecture::kQwen3);
}

TEST(HfModelSpecTest, OverrideReplacesDetection) {
  auto s = Spec(Config(R"("architectures": ["SomethingForCausalLM"])"), "", "mistral");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->architecture, Architecture::kMistral);
  auto bad = Spec(Config(R"("architectures": ["LlamaForCausalLM"])"), "", "falcon");
  EXPECT_EQ(bad.status().message(),
            "unknown architecture \"falcon\"; supported: llama, qwen2, qwen3, qwq, mistral, phi3, "
            "gemma3");
}

TEST(HfModelSpecTest, PartialRotaryIsRefusedByName) {
  auto s = Spec(Config(R"("architectures": ["Phi3ForCausalLM"], "model_type": "phi3",
                          "partial_rotary_factor": 0.75)"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.status().message(), HasSubstr("/m/config.json: partial_rotary_factor is 0.75"));
}

TEST(HfModelSpecTest, UnknownArchitectureListsSupported) {
  auto s = Spec(Config(R"("architectures": ["GPT2LMHeadModel"], "model_type": "gpt2")"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.status().message(),
            "/m/config.json: architectures [GPT2LMHeadModel] (model_type \"gpt2\") is not "
            "supported; supported: LlamaForCausalLM (llama), Qwen2ForCausalLM (qwen2), "
            "Qwen3ForCausalLM (qwen3), MistralForCausalLM (mistral), Phi3ForCausalLM (phi3), "
            "Gemma3ForCausalLM (gemma3). If the model is one of these under another name, pass the "
            "architecture override (llama, qwen2, qwen3, qwq, mistral, phi3, gemma3)");
}

// gemma-3-1b-it's config.json as published (transformers 4.50): the pattern as
// sliding_window_pattern, the local base as rope_local_base_freq.
TEST(HfModelSpecTest, Gemma3OldStyleConfig) {
  auto s = Spec(R"({
    "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
    "hidden_size": 1152, "num_hidden_layers": 26, "num_attention_heads": 4,
    "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 6912, "vocab_size": 262144,
    "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 256,
    "rope_theta": 1000000, "rope_local_base_freq": 10000, "rope_scaling": null,
    "sliding_window": 512, "sliding_window_pattern": 6, "rms_norm_eps": 1e-06,
    "attn_logit_softcapping": null, "final_logit_softcapping": null})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->architecture, Architecture::kGemma3);
  EXPECT_TRUE(s->tie_word_embeddings);
  EXPECT_TRUE(s->qk_norm);
  EXPECT_TRUE(s->sandwich_norms);
  EXPECT_DOUBLE_EQ(s->norm_weight_offset, 1.0);
  EXPECT_DOUBLE_EQ(s->embedding_scale, std::sqrt(1152.0));
  EXPECT_EQ(s->mlp_activation, MlpActivation::kGeluTanh);
  ASSERT_TRUE(s->attention_scale.has_value());
  EXPECT_DOUBLE_EQ(*s->attention_scale, 1.0 / 16.0);
  EXPECT_FALSE(s->sliding_window.has_value());  // not every layer: local_attention says which
  ASSERT_TRUE(s->local_attention.has_value());
  EXPECT_EQ(s->local_attention->window, 512);
  EXPECT_DOUBLE_EQ(s->local_attention->rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(s->rope_theta, 1000000.0);
  ASSERT_EQ(s->local_attention->is_local.size(), 26u);
  for (size_t i = 0; i < 26; ++i) EXPECT_EQ(s->local_attention->is_local[i], (i + 1) % 6 != 0) << i;
  EXPECT_EQ(s->default_prefix, "gemma3");
  EXPECT_EQ(s->lm_head_pieces, 16);
}

// transformers 5 writes layer_types and per-layer-type rope_parameters (gemma-3-4b's linear 8 on
// the global layers only).
TEST(HfModelSpecTest, Gemma3RopeParametersPerLayerType) {
  auto s = Spec(Config(R"("architectures": ["Gemma3ForCausalLM"], "head_dim": 16,
      "query_pre_attn_scalar": 40, "sliding_window": 4,
      "layer_types": ["full_attention", "sliding_attention"],
      "rope_parameters": {
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 5000.0}})"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_DOUBLE_EQ(s->rope_theta, 1000000.0);
  EXPECT_EQ(s->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(s->rope_scaling.factor, 8.0);
  ASSERT_TRUE(s->local_attention.has_value());
  EXPECT_DOUBLE_EQ(s->local_attention->rope_theta, 5000.0);
  EXPECT_THAT(s->local_attention->is_local, ElementsAre(false, true));
  EXPECT_DOUBLE_EQ(*s->attention_scale, 1.0 / std::sqrt(40.0));
  // A Llama config's rope_parameters stays flat.
  auto llama = Spec(Config(R"("rope_parameters": {"rope_type": "linear", "factor": 2.0,
                                                  "rope_theta": 5e5})"),
                    "", "llama");
  ASSERT_TRUE(llama.ok()) << llama.status().ToString();
  EXPECT_DOUBLE_EQ(llama->rope_theta, 5e5);
  EXPECT_EQ(llama->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_FALSE(llama->local_attention.has_value());
  EXPECT_DOUBLE_EQ(llama->norm_weight_offset, 0.0);
  EXPECT_EQ(llama->mlp_activation, MlpActivation::kSilu);
}

TEST(HfModelSpecTest, Gemma3RefusalsNameTheField) {
  const std::string gemma = R"("architectures": ["Gemma3ForCausalLM"], "sliding_window": 4, )";
  auto softcap = Spec(Config(gemma + R"("final_logit_softcapping": 30.0)"));
  EXPECT_EQ(softcap.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(softcap.status().message(),
              HasSubstr("/m/config.json: final_logit_softcapping is 30"));
  auto attn_cap = Spec(Config(gemma + R"("attn_logit_softcapping": 50.0)"));
  EXPECT_THAT(attn_cap.status().message(), HasSubstr("attn_logit_softcapping is 50"));
  auto types = Spec(Config(gemma + R"("layer_types": ["sliding_attention"])"));
  EXPECT_THAT(types.status().message(),
              HasSubstr("layer_types has 1 entries for num_hidden_layers 2"));
  auto kind = Spec(Config(gemma + R"("layer_types": ["chunked_attention", "full_attention"])"));
  EXPECT_EQ(kind.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(kind.status().message(), HasSubstr("layer_types[0] is \"chunked_attention\""));
  auto no_window = Spec(Config(R"("architectures": ["Gemma3ForCausalLM"], "sliding_window": null,
                                  "layer_types": ["sliding_attention", "full_attention"])"));
  EXPECT_THAT(no_window.status().message(), HasSubstr("sliding_window is missing"));
  auto act = Spec(Config(gemma + R"("hidden_activation": "relu")"));
  EXPECT_EQ(act.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(act.status().message(), HasSubstr("hidden activation \"relu\" is not supported"));
  auto mm =
      Spec(R"({"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3"})");
  EXPECT_EQ(mm.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(mm.status().message(),
              HasSubstr("Gemma3ForConditionalGeneration keeps its text model's settings under "
                        "text_config, which is missing"));
}

// gemma-3-4b-it's config.json (transformers 4.50): the vision + text checkpoint; its text_config
// is a diff against Gemma3TextConfig's defaults, which fill in heads, head_dim, vocabulary, rope
// bases, query_pre_attn_scalar and the layer pattern.
TEST(HfModelSpecTest, Gemma3ForConditionalGenerationReadsTheTextModel) {
  auto s = Spec(R"({
    "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
    "boi_token_index": 255999, "eoi_token_index": 256000, "eos_token_id": [1, 106],
    "image_token_index": 262144, "mm_tokens_per_image": 256, "torch_dtype": "bfloat16",
    "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
                    "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                    "sliding_window": 1024},
    "vision_config": {"hidden_size": 1152, "model_type": "siglip_vision_model"}})",
                "gemma-3-4b-it");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->architecture, Architecture::kGemma3);
  EXPECT_EQ(s->hidden_size, 2560);
  EXPECT_EQ(s->num_layers, 34);
  EXPECT_EQ(s->num_heads, 8);
  EXPECT_EQ(s->num_kv_heads, 4);
  EXPECT_EQ(s->head_dim, 256);
  EXPECT_EQ(s->intermediate_size, 10240);
  EXPECT_EQ(s->vocab_size, 262208);
  EXPECT_TRUE(s->tie_word_embeddings);
  EXPECT_DOUBLE_EQ(s->rope_theta, 1000000.0);
  EXPECT_EQ(s->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(s->rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(*s->attention_scale, 1.0 / 16.0);
  ASSERT_TRUE(s->local_attention.has_value());
  EXPECT_EQ(s->local_attention->window, 1024);
  EXPECT_DOUBLE_EQ(s->local_attention->rope_theta, 10000.0);
  int global = 0;
  for (bool local : s->local_attention->is_local) global += local ? 0 : 1;
  EXPECT_EQ(global, 5);  // layers 5, 11, 17, 23, 29
  EXPECT_FALSE(s->local_attention->is_local[29]);
  EXPECT_THAT(s->eos_token_ids, ElementsAre(1, 106));
  EXPECT_EQ(s->torch_dtype, "bfloat16");
}

TEST(HfModelSpecTest, RopeScalingCases) {
  auto linear = Spec(Config(R"("rope_scaling": {"type": "linear", "factor": 4.0})"), "", "llama");
  ASSERT_TRUE(linear.ok()) << linear.status().ToString();
  EXPECT_EQ(linear->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(linear->rope_scaling.factor, 4.0);

  auto linear2 =
      Spec(Config(R"("rope_scaling": {"rope_type": "linear", "factor": 2})"), "", "llama");
  EXPECT_EQ(linear2->rope_scaling.type, RopeScalingType::kLinear);

  // llama3 keeps documented defaults for fields it does not give.
  auto llama3 =
      Spec(Config(R"("rope_scaling": {"rope_type": "llama3", "factor": 32.0})"), "", "llama");
  ASSERT_TRUE(llama3.ok()) << llama3.status().ToString();
  EXPECT_EQ(llama3->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(llama3->rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(llama3->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(llama3->rope_scaling.original_max_position_embeddings, 8192);

  auto none = Spec(Config(R"("rope_scaling": {"rope_type": "default"})"), "", "llama");
  EXPECT_EQ(none->rope_scaling.type, RopeScalingType::kNone);
  EXPECT_EQ(Spec(Config(R"("rope_scaling": null)"), "", "llama")->rope_scaling.type,
            RopeScalingType::kNone);

  for (const char* type : {"yarn", "dynamic", "longrope"}) {
    auto s = Spec(Config(fmt::format(R"("rope_scaling": {{"type": "{}", "factor": 4.0}})", type)),
                  "", "llama");
    ASSERT_FALSE(s.ok()) << type;
    EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
    EXPECT_THAT(s.status().message(),
                HasSubstr(fmt::format("rope_scaling type \"{}\" is not supported", type)));
  }
  EXPECT_THAT(Spec(Config(R"("rope_scaling": {"type": "linear"})"), "", "llama").status().message(),
              HasSubstr("rope_scaling of type linear needs a factor"));
  EXPECT_THAT(Spec(Config(R"("rope_scaling": {"type": "linear", "factor": -1})"), "", "llama")
                  .status()
                  .message(),
              HasSubstr("rope_scaling.factor is -1"));
  EXPECT_THAT(Spec(Config(R"("rope_scaling": {"rope_type": "llama3", "factor": 8,
                                              "low_freq_factor": 4, "high_freq_factor": 1})"),
                   "", "llama")
                  .status()
                  .message(),
              HasSubstr("high_freq_factor (1) must be greater than low_freq_factor (4)"));
}

TEST(HfModelSpecTest, RequiredFieldsAndConsistency) {
  auto missing = Spec(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64})");
  EXPECT_EQ(missing.status().message(),
            "/m/config.json: required field num_hidden_layers is missing; add it to config.json");
  auto zero = Spec(Config(R"("num_key_value_heads": 0)"), "", "llama");
  EXPECT_THAT(zero.status().message(), HasSubstr("field num_key_value_heads is 0"));
  auto gqa = Spec(Config(R"("num_key_value_heads": 3)"), "", "llama");
  EXPECT_THAT(gqa.status().message(),
              HasSubstr("num_attention_heads (8) is not a multiple of num_key_value_heads (3)"));
  auto odd = Spec(R"({"hidden_size": 60, "num_hidden_layers": 2, "num_attention_heads": 8,
                      "intermediate_size": 128, "vocab_size": 100})",
                  "", "llama");
  EXPECT_THAT(odd.status().message(), HasSubstr("hidden_size (60) is not a multiple"));
  auto eps = Spec(Config(R"("rms_norm_eps": 0)"), "", "llama");
  EXPECT_THAT(eps.status().message(), HasSubstr("rms_norm_eps is 0"));
}

TEST(HfModelSpecTest, OProjBiasIsUnsupported) {
  auto s = Spec(Config(R"("architectures": ["LlamaForCausalLM"], "attention_bias": true)"));
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.status().message(), HasSubstr("attention_bias: true"));
  // Mistral has no bias whatever the config says.
  auto m = Spec(Config(R"("architectures": ["MistralForCausalLM"], "attention_bias": true)"));
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->attention_bias);
}

}  // namespace
}  // namespace anec::model
