#include "pipeline/chunk_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pipeline/published_shapes_test_util.h"

namespace anec::pipeline {
namespace {

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
  EXPECT_EQ(EstimateMatrixBytes(16, 4, 6, 8, true), 48u + 2u * 128u + 16u * 2u);  // row scales
  EXPECT_EQ(EstimateMatrixBytes(16, 4, 0, 8, true), 128u);                        // fp16: no scales
}

// GGUF --preserve-quant: each matrix counts at its own stored bits; a matrix planned at 0 is
// converted (fp16 here), even when ffn_carried_bits (the largest) is set.
TEST(ChunkPlanTest, MatrixBitsCountEachCarriedMatrixAtItsSize) {
  model::ModelSpec s = Llama32_1B();
  s.num_layers = 2;
  const std::vector<LayerRange> chunks = {{0, 1}, {1, 2}};
  LutPlan fp16;
  const SizePlan base = EstimateSizes(s, chunks, fp16, 512);
  LutPlan mixed;
  mixed.ffn_carried_bits = 16;  // the largest of the file
  using model::TensorRole;
  for (int64_t l = 0; l < 2; ++l) {
    for (TensorRole r :
         {TensorRole::kQProj, TensorRole::kKProj, TensorRole::kVProj, TensorRole::kOProj,
          TensorRole::kGateProj, TensorRole::kUpProj, TensorRole::kDownProj}) {
      mixed.matrix_bits[{r, l}] = 0;
    }
  }
  mixed.matrix_bits[{TensorRole::kQProj, 1}] = 6;      // a Q2_K q_proj in layer 1
  mixed.matrix_bits[{TensorRole::kDownProj, 1}] = 12;  // a Q4_K down_proj
  mixed.matrix_bits[{TensorRole::kLmHead, 0}] = 8.5;   // a Q8_0 output.weight
  const SizePlan p = EstimateSizes(s, chunks, mixed, 512);
  EXPECT_EQ(p.chunks[0], base.chunks[0]);  // layer 0 converted: fp16 as before
  const uint64_t q = 2048ull * 2048, down = 2048ull * 8192;
  EXPECT_EQ(base.chunks[1] - p.chunks[1], q * 2 - q * 6 / 8 + down * 2 - down * 12 / 8);
  EXPECT_EQ(p.lm_head, static_cast<uint64_t>(std::ceil(128256.0 * 2048 * 8.5 / 8)));
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

TEST(ChunkPlanTest, AutoChunksForPhi3Mini) {
  const model::ModelSpec s = Phi3Mini();
  LutPlan lut4, lut6;
  lut4.ffn = lut4.lmhead = 4;
  lut6.ffn = lut6.lmhead = 6;
  for (const auto& [name, lut] :
       {std::pair{"fp16", LutPlan{}}, std::pair{"lut4", lut4}, std::pair{"lut6", lut6}}) {
    for (Target t : {Target::kIOS, Target::kMacOS}) {
      auto n = AutoChunkCount(s, lut, 1024, t);
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      const SizePlan p = EstimateSizes(s, SplitLayers(s.num_layers, *n), lut, 1024);
      std::printf("PLAN phi3-mini %s %s: %lld chunks, largest chunk %s, embeddings %s, head %s\n",
                  name, std::string(TargetName(t)).c_str(), static_cast<long long>(*n),
                  HumanBytes(*std::max_element(p.chunks.begin(), p.chunks.end())).c_str(),
                  HumanBytes(p.embeddings).c_str(), HumanBytes(p.lm_head).c_str());
    }
  }
  // fp16: 32 layers x 226.5 MB (113.2 M weights each) = 7.25 GB.
  EXPECT_EQ(AutoChunkCount(s, {}, 1024, Target::kIOS).value(), 8);
  EXPECT_EQ(AutoChunkCount(s, lut6, 1024, Target::kIOS).value(), 3);
  EXPECT_EQ(AutoChunkCount(s, lut4, 1024, Target::kIOS).value(), 2);
}

TEST(ChunkPlanTest, AutoChunksForGemma3_4B) {
  const model::ModelSpec s = Gemma3_4B();
  LutPlan lut4, lut6, lut6_fp16_embed;
  lut4.ffn = lut4.lmhead = lut4.embed = 4;
  lut6.ffn = lut6.lmhead = lut6.embed = 6;
  lut6_fp16_embed.ffn = lut6_fp16_embed.lmhead = 6;
  for (const auto& [name, lut] : {std::pair{"fp16", LutPlan{}}, std::pair{"lut6", lut6_fp16_embed},
                                  std::pair{"lut6+embed6", lut6}, std::pair{"lut4+embed4", lut4}}) {
    for (Target t : {Target::kIOS, Target::kMacOS}) {
      auto n = AutoChunkCount(s, lut, 1024, t);
      if (!n.ok()) {
        std::printf("PLAN gemma3-4b %s %s: refused: %s\n", name, std::string(TargetName(t)).c_str(),
                    n.status().message().c_str());
        continue;
      }
      const SizePlan p = EstimateSizes(s, SplitLayers(s.num_layers, *n), lut, 1024);
      std::printf("PLAN gemma3-4b %s %s: %lld chunks, largest chunk %s, embeddings %s, head %s\n",
                  name, std::string(TargetName(t)).c_str(), static_cast<long long>(*n),
                  HumanBytes(*std::max_element(p.chunks.begin(), p.chunks.end())).c_str(),
                  HumanBytes(p.embeddings).c_str(), HumanBytes(p.lm_head).c_str());
    }
  }
  // fp16: the 262k x 2560 embeddings alone are 1.34 GB, over iOS's 1 GB per file.
  auto fp16_ios = AutoChunkCount(s, {}, 1024, Target::kIOS);
  ASSERT_FALSE(fp16_ios.ok());
  EXPECT_NE(fp16_ios.status().message().find("--lut-embed"), std::string::npos);
  // fp16 layers: 34 x 2560 x (2048 + 1024 + 1024 + 2048 + 3 x 10240) = 3.21 G weights.
  EXPECT_EQ(AutoChunkCount(s, {}, 1024, Target::kMacOS).value(), 4);
  EXPECT_EQ(AutoChunkCount(s, lut6, 1024, Target::kIOS).value(), 3);
  EXPECT_EQ(AutoChunkCount(s, lut4, 1024, Target::kIOS).value(), 2);
}

TEST(ChunkPlanTest, AutoChunksErrorsWhenEmbeddingsCannotFit) {
  model::ModelSpec s = Llama32_1B();
  s.vocab_size = 300000;  // 1.2 GB of fp16 embeddings
  auto r = AutoChunkCount(s, {}, 1024, Target::kIOS);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--lut-embed"), std::string::npos);
  EXPECT_TRUE(AutoChunkCount(s, {}, 1024, Target::kMacOS).ok());
}

using Cursor = StackCursor;

// The chunks tile the stack: they start at layer 0, each starts where the previous ended, the
// last ends after the last layer, every cursor is canonical and every span is non-empty.
void ExpectTiles(const ChunkPlan& plan, const model::ModelSpec& s) {
  ASSERT_FALSE(plan.chunks.empty());
  EXPECT_EQ(plan.chunks.front().begin, (Cursor{0, Cursor::kAttention, 0}));
  EXPECT_EQ(plan.chunks.back().end, (Cursor{s.num_layers, Cursor::kAttention, 0}));
  for (size_t i = 0; i < plan.chunks.size(); ++i) {
    const ChunkSpan& c = plan.chunks[i];
    EXPECT_LT(c.begin, c.end) << i;
    if (i + 1 < plan.chunks.size()) {
      EXPECT_EQ(c.end, plan.chunks[i + 1].begin) << i;
    }
    for (const Cursor& at : {c.begin, c.end}) {
      if (at.part == Cursor::kMlp) {
        EXPECT_LT(at.mlp_begin, s.intermediate_size);
        EXPECT_EQ(at.mlp_begin % plan.mlp_slice, 0);
      } else {
        EXPECT_EQ(at.mlp_begin, 0);
      }
    }
  }
}

TEST(ChunkPlanTest, PartsOfSpans) {
  auto whole = PartsOf(LayersSpan({2, 4}), 96);
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(whole[0].layer, 2);
  EXPECT_TRUE(whole[1].attention);
  EXPECT_EQ(whole[1].mlp_begin, 0);
  EXPECT_EQ(whole[1].mlp_end, 96);
  // From inside layer 4's MLP to right after layer 5's attention block.
  auto cut = PartsOf({{4, Cursor::kMlp, 32}, {5, Cursor::kMlp, 0}}, 96);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_FALSE(cut[0].attention);
  EXPECT_EQ(cut[0].mlp_begin, 32);
  EXPECT_EQ(cut[0].mlp_end, 96);
  EXPECT_TRUE(cut[1].attention);
  EXPECT_EQ(cut[1].mlp_end, 0);
  // Inside one MLP.
  auto mid = PartsOf({{7, Cursor::kMlp, 32}, {7, Cursor::kMlp, 64}}, 96);
  ASSERT_EQ(mid.size(), 1u);
  EXPECT_FALSE(mid[0].attention);
  EXPECT_EQ(mid[0].mlp_begin, 32);
  EXPECT_EQ(mid[0].mlp_end, 64);
}

TEST(ChunkPlanTest, DescribesPieces) {
  EXPECT_EQ(DescribeChunk(LayersSpan({0, 4}), 11008, 0), "layers 0-3");
  EXPECT_EQ(DescribeChunk(LayersSpan({5, 6}), 11008, 0), "layer 5");
  EXPECT_EQ(DescribeChunk({{4, Cursor::kMlp, 2752}, {5, Cursor::kMlp, 0}}, 11008, 2752),
            "layer 4 mlp[2752:5504) .. layer 5 attention");
  // MLP rows of one layer are one range.
  EXPECT_EQ(DescribeChunk({{5, Cursor::kMlp, 0}, {6, Cursor::kAttention, 0}}, 11008, 5504),
            "layer 5 mlp[0:11008)");
  EXPECT_EQ(DescribeChunk({{5, Cursor::kMlp, 2752}, {5, Cursor::kMlp, 8256}}, 11008, 2752),
            "layer 5 mlp[2752:8256)");
  EXPECT_EQ(DescribeChunk({{5, Cursor::kMlp, 5504}, {6, Cursor::kMlp, 0}}, 11008, 5504),
            "layer 5 mlp[5504:11008) .. layer 6 attention");
  EXPECT_EQ(DescribeChunk({{3, Cursor::kAttention, 0}, {3, Cursor::kMlp, 0}}, 11008, 2752),
            "layer 3 attention");
}

TEST(ChunkPlanTest, WholeLayerPlansAreUnchanged) {
  // Layers that fit give the same whole-layer plan as before pieces existed.
  model::ModelSpec s = Llama32_1B();
  auto plan = PlanChunks(s, {}, 1024, TargetBudget(Target::kIOS));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->whole_layers());
  ASSERT_EQ(plan->chunks.size(), 2u);
  EXPECT_EQ(plan->chunks[0].end, (Cursor{8, Cursor::kAttention, 0}));
  // The span and layer-range estimates agree: fixed part + 8 x 121.6 MB layers + program text
  // for the 7 layers past the first (62 KB each).
  SizePlan a = EstimateSizes(s, SplitLayers(16, 2), {}, 1024);
  SizePlan b = EstimateSizes(s, plan->chunks, {}, 1024);
  EXPECT_EQ(a.chunks, b.chunks);
  const uint64_t layer =
      2ull * (2048 * 2048 + 2 * 512 * 2048 + 2048 * 2048 + 3 * 8192 * 2048 + 2 * 2048);
  EXPECT_EQ(a.chunks[0], 8 * layer + 2 * 1024 * 64 * 2 + 80 * 1024 + 7 * 70 * 1024);
}

TEST(ChunkPlanTest, Llama70BLayersFitIosAtLut6ButNotInFp16) {
  model::ModelSpec s = Llama70B();
  LutPlan lut6;
  lut6.ffn = lut6.lmhead = lut6.embed = 6;
  // At 6 bits one 70B layer is ~643 MB: it fits 1 GB, two do not, so whole layers, one per file.
  auto six = PlanChunks(s, lut6, 1024, TargetBudget(Target::kIOS));
  ASSERT_TRUE(six.ok()) << six.status().ToString();
  EXPECT_TRUE(six->whole_layers());
  EXPECT_EQ(six->chunks.size(), 80u);
  SizePlan p6 = EstimateSizes(s, six->chunks, lut6, 1024);
  EXPECT_GT(p6.chunks[0], 640'000'000u);
  EXPECT_LT(p6.chunks[0], 650'000'000u);
  // In fp16 a layer is ~1.71 GB: whole layers cannot fit iOS, so the layers are split.
  LutPlan fp16;
  fp16.embed = fp16.lmhead = 6;
  auto whole = AutoChunkCount(s, fp16, 1024, Target::kIOS);
  ASSERT_FALSE(whole.ok());
  EXPECT_NE(whole.status().message().find("one transformer layer alone would be 1.71 GB"),
            std::string::npos)
      << whole.status().message();
  auto split = PlanChunks(s, fp16, 1024, TargetBudget(Target::kIOS));
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_FALSE(split->whole_layers());
  ExpectTiles(*split, s);
  EXPECT_EQ(s.intermediate_size % split->mlp_slice, 0);
  EXPECT_EQ(split->mlp_slice % 64, 0);
  SizePlan p = EstimateSizes(s, split->chunks, fp16, 1024);
  for (uint64_t c : p.chunks) EXPECT_LE(c, TargetBudgetBytes(Target::kIOS));
  // Nothing dropped or stored twice: in fp16 the pieces add up to the 80 layers exactly.
  const SizePlan layers = EstimateSizes(s, SplitLayers(80, 80), fp16, 1024);
  const uint64_t fixed = 2 * 1024 * 128 * 2 + 80 * 1024;
  uint64_t sum = 0;
  for (uint64_t c : p.chunks) sum += c - fixed;
  uint64_t want = 0;
  for (uint64_t c : layers.chunks) want += c - fixed;
  EXPECT_EQ(sum, want);
  // Two files per layer: a file's last MLP part (>= 1.41 GB - 1 GB + 302 MB) and the next
  // attention block (302 MB, atomic) never share 1 GB, whatever the slices. The fewest slices
  // alone would do worse: 2 slices of 705 MB pack one piece per file (240 files).
  EXPECT_EQ(split->chunks.size(), 160u);
  EXPECT_EQ(split->mlp_slice, 4096);  // 7 slices: the fewest that reach 160 files
  // Attention + 3 slices (906.6 MB), then 4 slices (805 MB).
  EXPECT_GT(p.largest(), 900'000'000u);
  std::printf("70B fp16 iOS: %zu chunks, MLP slices of %lld rows, largest chunk %s; chunk 2: %s\n",
              split->chunks.size(), static_cast<long long>(split->mlp_slice),
              HumanBytes(p.largest()).c_str(),
              DescribeChunk(split->chunks[1], s.intermediate_size, split->mlp_slice).c_str());
}

TEST(ChunkPlanTest, Llama405BAtLut6NeedsSplitLayersEvenOnMacos) {
  model::ModelSpec s = Llama70B();
  s.hidden_size = 16384;
  s.num_layers = 126;
  s.num_heads = 128;
  s.intermediate_size = 53248;
  LutPlan lut6;
  lut6.ffn = lut6.lmhead = lut6.embed = 6;
  auto whole = AutoChunkCount(s, lut6, 1024, Target::kMacOS);
  ASSERT_FALSE(whole.ok());
  EXPECT_NE(whole.status().message().find("one transformer layer alone would be 2.39 GB"),
            std::string::npos)
      << whole.status().message();
  auto plan = PlanChunks(s, lut6, 1024, TargetBudget(Target::kMacOS));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ExpectTiles(*plan, s);
  EXPECT_EQ(plan->mlp_slice % 64, 0);
  SizePlan p = EstimateSizes(s, plan->chunks, lut6, 1024);
  EXPECT_LE(p.largest(), TargetBudgetBytes(Target::kMacOS));
  // 126 x 2.39 GB = 301.6 GB: at least 151 files of 2 GB.
  EXPECT_GE(plan->chunks.size(), 151u);
  std::printf("405B LUT6 macOS: %zu chunks, MLP slices of %lld rows, largest chunk %s\n",
              plan->chunks.size(), static_cast<long long>(plan->mlp_slice),
              HumanBytes(p.largest()).c_str());
}

TEST(ChunkPlanTest, ForcedTinyBudgetSplitsAtAttentionAndInsideMlps) {
  model::ModelSpec s = Llama32_1B();
  s.vocab_size = 10000;  // embeddings and LM head of 41 MB fit too
  // 121.6 MB layers (16.8 MB attention, 100.7 MB MLP) into 60 MB files.
  FileBudget budget{60'000'000, "from --max-file-mb 60"};
  auto plan = PlanChunks(s, {}, 1024, budget);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_FALSE(plan->whole_layers());
  ExpectTiles(*plan, s);
  SizePlan p = EstimateSizes(s, plan->chunks, {}, 1024);
  for (uint64_t c : p.chunks) EXPECT_LE(c, budget.bytes);
  bool after_attention = false, inside_mlp = false;
  for (const ChunkSpan& c : plan->chunks) {
    if (c.end.part == Cursor::kMlp && c.end.mlp_begin == 0) after_attention = true;
    if (c.end.part == Cursor::kMlp && c.end.mlp_begin > 0) inside_mlp = true;
  }
  EXPECT_TRUE(inside_mlp);
  // 16 x 121.6 MB = 1.95 GB: at least 33 files of <= 60 MB.
  EXPECT_GE(plan->chunks.size(), 33u);
  std::printf(
      "Llama-3.2-1B fp16 in 60 MB files: %zu chunks, slices of %lld, after-attention "
      "boundary: %s\n",
      plan->chunks.size(), static_cast<long long>(plan->mlp_slice), after_attention ? "yes" : "no");
}

TEST(ChunkPlanTest, BudgetBelowOneAttentionBlockIsAnError) {
  model::ModelSpec s = Llama32_1B();
  s.vocab_size = 1000;
  auto r = PlanChunks(s, {}, 1024, {10'000'000, "from --max-file-mb 10"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("one attention block alone"), std::string::npos);
  EXPECT_NE(r.status().message().find("from --max-file-mb 10"), std::string::npos);
}

TEST(ChunkPlanTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(999), "999 B");
  EXPECT_EQ(HumanBytes(1'500'000), "1.5 MB");
  EXPECT_EQ(HumanBytes(2'340'000'000ull), "2.34 GB");
}

}  // namespace
}  // namespace anec::pipeline
