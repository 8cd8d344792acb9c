#include "pipeline/chunk_plan.h"

#include <gtest/gtest.h>

namespace anec::pipeline {
namespace {

model::ModelSpec Llama32_1B() {
  model::ModelSpec s;
  s.hidden_size = 2048;
  s.num_layers = 16;
  s.num_heads = 32;
  s.num_kv_heads = 8;
  s.head_dim = 64;
  s.intermediate_size = 8192;
  s.vocab_size = 128256;
  s.tie_word_embeddings = true;
  return s;
}

TEST(ChunkPlanTest, SplitsEvenlyWithoutDroppingLayers) {
  auto r = SplitLayers(16, 3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first, 0);
  EXPECT_EQ(r[0].count(), 6);
  EXPECT_EQ(r[1].count(), 5);
  EXPECT_EQ(r[2].count(), 5);
  EXPECT_EQ(r[2].end, 16);
  for (int64_t layers : {1, 2, 7, 22, 28, 80}) {
    for (int64_t n = 1; n <= layers; ++n) {
      auto p = SplitLayers(layers, n);
      ASSERT_EQ(static_cast<int64_t>(p.size()), n);
      int64_t next = 0;
      for (const auto& c : p) {
        EXPECT_EQ(c.first, next);
        EXPECT_GE(c.count(), layers / n);
        EXPECT_LE(c.count(), layers / n + 1);
        next = c.end;
      }
      EXPECT_EQ(next, layers);
    }
  }
}

TEST(ChunkPlanTest, MatrixBytes) {
  EXPECT_EQ(EstimateMatrixBytes(8, 4, 0, 8), 64u);
  // 4-bit: 16 bytes of indices + one table of 16 fp16 entries.
  EXPECT_EQ(EstimateMatrixBytes(8, 4, 4, 8), 16u + 32u);
  EXPECT_EQ(EstimateMatrixBytes(16, 4, 6, 8), 48u + 2u * 128u);
}

TEST(ChunkPlanTest, AutoChunksForLlama32_1B) {
  model::ModelSpec s = Llama32_1B();
  // fp16: 16 layers x ~121.6 MB = 1.95 GB of layers.
  EXPECT_EQ(AutoChunkCount(s, {}, 1024, Target::kIOS).value(), 2);
  EXPECT_EQ(AutoChunkCount(s, {}, 1024, Target::kMacOS).value(), 1);
  LutPlan lut4;
  lut4.ffn = 4;
  EXPECT_EQ(AutoChunkCount(s, lut4, 1024, Target::kIOS).value(), 1);
  SizePlan p = EstimateSizes(s, SplitLayers(16, 2), {}, 1024);
  EXPECT_EQ(p.embeddings, 128256u * 2048u * 2u);
  EXPECT_EQ(p.lm_head, p.embeddings);
  EXPECT_LE(p.chunks[0], TargetBudgetBytes(Target::kIOS));
  EXPECT_GT(p.chunks[0], 900'000'000u);
}

TEST(ChunkPlanTest, AutoChunksErrorsWhenEmbeddingsCannotFit) {
  model::ModelSpec s = Llama32_1B();
  s.vocab_size = 300000;  // 1.2 GB of fp16 embeddings
  auto r = AutoChunkCount(s, {}, 1024, Target::kIOS);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--lut-embed"), std::string::npos);
  EXPECT_TRUE(AutoChunkCount(s, {}, 1024, Target::kMacOS).ok());
}

TEST(ChunkPlanTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(999), "999 B");
  EXPECT_EQ(HumanBytes(1'500'000), "1.5 MB");
  EXPECT_EQ(HumanBytes(2'340'000'000ull), "2.34 GB");
}

}  // namespace
}  // namespace anec::pipeline
