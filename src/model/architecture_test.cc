#include "model/architecture.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace anec::model {
namespace {

using ::testing::HasSubstr;

TEST(ArchitectureTest, EveryArchitectureHasItsOwnTable) {
  const Architecture all[] = {Architecture::kLlama, Architecture::kQwen2,   Architecture::kQwen3,
                              Architecture::kQwQ,   Architecture::kMistral, Architecture::kPhi3,
                              Architecture::kGemma3};
  std::set<std::string_view> names;
  for (Architecture a : all) {
    const ArchitectureTable& t = GetArchitectureTable(a);
    EXPECT_EQ(t.architecture, a);
    EXPECT_EQ(ArchitectureName(a), t.name);
    names.insert(t.name);
  }
  EXPECT_EQ(names.size(), 7u);
  EXPECT_EQ(AllArchitectureTables().size(), 7u);
  EXPECT_EQ(SupportedArchitectureNames(), "llama, qwen2, qwen3, qwq, mistral, phi3, gemma3");
}

// Every role named, once per list, except the output norms, which only sandwich-norm
// architectures name.
TEST(ArchitectureTest, EveryTableNamesEveryRoleOnce) {
  for (const ArchitectureTable& t : AllArchitectureTables()) {
    for (TensorRole role : AllTensorRoles()) {
      const bool output_norm = role == TensorRole::kAttnOutNorm || role == TensorRole::kMlpOutNorm;
      for (std::span<const RoleName> list : {t.tensors, t.renamed}) {
        int count = 0;
        for (const RoleName& rn : list) count += rn.role == role;
        EXPECT_LE(count, 1) << t.name << " " << TensorRoleName(role);
      }
      const std::string_view pattern = TensorPattern(t, role);
      EXPECT_EQ(pattern.empty(), output_norm && !t.style.sandwich_norms)
          << t.name << " " << TensorRoleName(role);
      if (!pattern.empty()) {
        EXPECT_EQ(pattern.find("{}") != std::string_view::npos, IsLayerRole(role))
            << t.name << " " << TensorRoleName(role);
      }
    }
  }
}

TEST(ArchitectureTest, Gemma3RenamesItsNormsOverTheSharedTable) {
  const ArchitectureTable& gemma = GetArchitectureTable(Architecture::kGemma3);
  EXPECT_EQ(TensorNameFor(gemma, TensorRole::kPostAttnNorm, 2),
            "model.layers.2.pre_feedforward_layernorm.weight");
  EXPECT_EQ(TensorNameFor(gemma, TensorRole::kAttnOutNorm, 2),
            "model.layers.2.post_attention_layernorm.weight");
  EXPECT_EQ(TensorNameFor(gemma, TensorRole::kQProj, 2), "model.layers.2.self_attn.q_proj.weight");
  EXPECT_EQ(TensorNameFor(GetArchitectureTable(Architecture::kLlama), TensorRole::kPostAttnNorm, 2),
            "model.layers.2.post_attention_layernorm.weight");
}

TEST(ArchitectureTest, NamesFollowHuggingFace) {
  const ArchitectureTable& llama = GetArchitectureTable(Architecture::kLlama);
  EXPECT_EQ(TensorNameFor(llama, TensorRole::kQProj, 3), "model.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(TensorNameFor(llama, TensorRole::kDownProj, 11),
            "model.layers.11.mlp.down_proj.weight");
  EXPECT_EQ(TensorNameFor(llama, TensorRole::kEmbedding, 7), "model.embed_tokens.weight");
  EXPECT_EQ(TensorNameFor(llama, TensorRole::kLmHead, 0), "lm_head.weight");
  const ArchitectureTable& qwen3 = GetArchitectureTable(Architecture::kQwen3);
  EXPECT_EQ(TensorNameFor(qwen3, TensorRole::kKNorm, 0), "model.layers.0.self_attn.k_norm.weight");
  const ArchitectureTable& qwen2 = GetArchitectureTable(Architecture::kQwen2);
  EXPECT_EQ(TensorNameFor(qwen2, TensorRole::kVBias, 2), "model.layers.2.self_attn.v_proj.bias");
}

TEST(ArchitectureTest, DifferencesAreData) {
  EXPECT_EQ(GetArchitectureTable(Architecture::kQwen2).attention_bias,
            AttentionBiasPolicy::kAlwaysQkv);
  EXPECT_EQ(GetArchitectureTable(Architecture::kQwQ).attention_bias,
            AttentionBiasPolicy::kAlwaysQkv);
  EXPECT_EQ(GetArchitectureTable(Architecture::kMistral).attention_bias,
            AttentionBiasPolicy::kNone);
  EXPECT_TRUE(GetArchitectureTable(Architecture::kQwen3).qk_norm);
  EXPECT_FALSE(GetArchitectureTable(Architecture::kQwen2).qk_norm);
  EXPECT_EQ(GetArchitectureTable(Architecture::kMistral).sliding_window,
            SlidingWindowPolicy::kFromConfig);
  EXPECT_EQ(GetArchitectureTable(Architecture::kLlama).sliding_window, SlidingWindowPolicy::kNever);
  EXPECT_EQ(GetArchitectureTable(Architecture::kLlama).default_prefix, "llama");
  EXPECT_EQ(GetArchitectureTable(Architecture::kQwen2).default_prefix, "qwen25");
  EXPECT_EQ(GetArchitectureTable(Architecture::kQwen3).default_prefix, "qwen");
  EXPECT_EQ(GetArchitectureTable(Architecture::kMistral).default_prefix, "mistral");
  // ANEMLL's split_lm_head (its generate_meta_yaml: 16 for qwen*, 8 otherwise).
  EXPECT_EQ(GetArchitectureTable(Architecture::kLlama).lm_head_pieces, 8);
  EXPECT_EQ(GetArchitectureTable(Architecture::kQwen2).lm_head_pieces, 16);
  EXPECT_EQ(GetArchitectureTable(Architecture::kQwen3).lm_head_pieces, 16);
  EXPECT_EQ(GetArchitectureTable(Architecture::kQwQ).lm_head_pieces, 16);
  EXPECT_EQ(GetArchitectureTable(Architecture::kMistral).lm_head_pieces, 8);
}

TEST(ArchitectureTest, ParsesOverrideNames) {
  EXPECT_EQ(*ParseArchitectureName("qwen3"), Architecture::kQwen3);
  EXPECT_EQ(*ParseArchitectureName("QwQ"), Architecture::kQwQ);
  EXPECT_EQ(*ParseArchitectureName("Mistral"), Architecture::kMistral);
  auto bad = ParseArchitectureName("gpt2");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown architecture \"gpt2\"; supported: llama, qwen2, qwen3, qwq, mistral, phi3, "
            "gemma3");
  EXPECT_EQ(*ParseArchitectureName("Gemma3"), Architecture::kGemma3);
}

// Gemma 3: the MLP's input norm is pre_feedforward_layernorm; post_attention_layernorm is the
// attention output's norm (not, as in Llama, the MLP's input norm).
TEST(ArchitectureTest, Gemma3NamesAndDifferences) {
  const ArchitectureTable& g = GetArchitectureTable(Architecture::kGemma3);
  EXPECT_EQ(TensorNameFor(g, TensorRole::kPostAttnNorm, 4),
            "model.layers.4.pre_feedforward_layernorm.weight");
  EXPECT_EQ(TensorNameFor(g, TensorRole::kAttnOutNorm, 4),
            "model.layers.4.post_attention_layernorm.weight");
  EXPECT_EQ(TensorNameFor(g, TensorRole::kMlpOutNorm, 0),
            "model.layers.0.post_feedforward_layernorm.weight");
  EXPECT_EQ(TensorNameFor(g, TensorRole::kQNorm, 1), "model.layers.1.self_attn.q_norm.weight");
  EXPECT_TRUE(g.qk_norm);
  EXPECT_TRUE(g.tie_word_embeddings_default);
  EXPECT_EQ(g.sliding_window, SlidingWindowPolicy::kLayerTypes);
  EXPECT_DOUBLE_EQ(g.style.norm_weight_offset, 1.0);
  EXPECT_TRUE(g.style.sandwich_norms);
  EXPECT_TRUE(g.style.embedding_scale_sqrt_hidden);
  EXPECT_EQ(g.style.default_activation, MlpActivation::kGeluTanh);
  EXPECT_EQ(g.lm_head_pieces, 16);
  const ArchitectureTable& llama = GetArchitectureTable(Architecture::kLlama);
  EXPECT_DOUBLE_EQ(llama.style.norm_weight_offset, 0.0);
  EXPECT_FALSE(llama.style.sandwich_norms);
  EXPECT_EQ(TensorNameFor(llama, TensorRole::kPostAttnNorm, 4),
            "model.layers.4.post_attention_layernorm.weight");
}

ModelSpec Qwen3Like() {
  ModelSpec s;
  s.architecture = Architecture::kQwen3;
  s.hidden_size = 32;
  s.num_layers = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_dim = 16;  // != hidden / heads
  s.intermediate_size = 64;
  s.vocab_size = 128;
  s.qk_norm = true;
  s.tie_word_embeddings = true;
  return s;
}

TEST(ArchitectureTest, ExpectedShapesUseHeadDim) {
  ModelSpec s = Qwen3Like();
  using V = std::vector<int64_t>;
  EXPECT_EQ(ExpectedShape(s, TensorRole::kEmbedding), (V{128, 32}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kLmHead), (V{128, 32}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kQProj), (V{64, 32}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kKProj), (V{32, 32}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kOProj), (V{32, 64}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kQBias), (V{64}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kVBias), (V{32}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kQNorm), (V{16}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kGateProj), (V{64, 32}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kDownProj), (V{32, 64}));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kInputNorm), (V{32}));
}

TEST(ArchitectureTest, RoleUsedFollowsSpecFlags) {
  ModelSpec s = Qwen3Like();
  EXPECT_FALSE(RoleUsed(s, TensorRole::kLmHead));
  EXPECT_TRUE(RoleUsed(s, TensorRole::kQNorm));
  EXPECT_FALSE(RoleUsed(s, TensorRole::kQBias));
  EXPECT_TRUE(RoleUsed(s, TensorRole::kUpProj));
  s.tie_word_embeddings = false;
  s.qk_norm = false;
  s.attention_bias = true;
  EXPECT_TRUE(RoleUsed(s, TensorRole::kLmHead));
  EXPECT_FALSE(RoleUsed(s, TensorRole::kKNorm));
  EXPECT_TRUE(RoleUsed(s, TensorRole::kKBias));
  EXPECT_THAT(std::string(TensorRoleName(TensorRole::kPostAttnNorm)), HasSubstr("post"));
  EXPECT_FALSE(RoleUsed(s, TensorRole::kAttnOutNorm));
  s.sandwich_norms = true;
  EXPECT_TRUE(RoleUsed(s, TensorRole::kAttnOutNorm));
  EXPECT_TRUE(RoleUsed(s, TensorRole::kMlpOutNorm));
  EXPECT_EQ(ExpectedShape(s, TensorRole::kMlpOutNorm), (std::vector<int64_t>{32}));
}

}  // namespace
}  // namespace anec::model
