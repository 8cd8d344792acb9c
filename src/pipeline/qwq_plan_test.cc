// The chunk plan for QwQ-32B's shapes (issue: QwQ's large size). Prints the plans so the figures
// in docs/PIPELINE.md can be checked: ctest -R pipeline_tests -V, or
// pipeline_tests --gtest_filter='QwqPlan*'.
#include <gtest/gtest.h>

#include <cstdio>

#include "pipeline/chunk_plan.h"
#include "pipeline/published_shapes_test_util.h"

namespace anec::pipeline {
namespace {

void PrintPlan(const char* label, const model::ModelSpec& s, const LutPlan& lut, int64_t n) {
  SizePlan p = EstimateSizes(s, SplitLayers(s.num_layers, n), lut, 1024);
  std::printf("%s: %lld chunks of %lld-%lld layers, largest chunk %s, embeddings %s, LM head %s\n",
              label, static_cast<long long>(n), static_cast<long long>(s.num_layers / n),
              static_cast<long long>((s.num_layers + n - 1) / n), HumanBytes(p.largest()).c_str(),
              HumanBytes(p.embeddings).c_str(), HumanBytes(p.lm_head).c_str());
}

TEST(QwqPlanTest, DefaultLutsDoNotFitIosBecauseOfTheEmbeddings) {
  LutPlan lut;  // anec's defaults: FFN and LM head 6 bits, embeddings fp16
  lut.ffn = 6;
  lut.lmhead = 6;
  auto ios = AutoChunkCount(QwQ32B(), lut, 1024, Target::kIOS);
  ASSERT_FALSE(ios.ok());
  std::printf("iOS, default LUTs: %s\n", ios.status().message().c_str());
  EXPECT_NE(ios.status().message().find("embeddings model would be 1.56 GB"), std::string::npos);
  EXPECT_NE(ios.status().message().find("--lut-embed"), std::string::npos);
}

TEST(QwqPlanTest, PlansWithinBudgets) {
  LutPlan lut;
  lut.ffn = 6;
  lut.lmhead = 6;
  lut.embed = 6;
  auto ios = AutoChunkCount(QwQ32B(), lut, 1024, Target::kIOS);
  ASSERT_TRUE(ios.ok()) << ios.status().ToString();
  PrintPlan("iOS, LUT6 everywhere", QwQ32B(), lut, *ios);
  auto mac = AutoChunkCount(QwQ32B(), lut, 1024, Target::kMacOS);
  ASSERT_TRUE(mac.ok());
  PrintPlan("macOS, LUT6 everywhere", QwQ32B(), lut, *mac);
  EXPECT_LT(*mac, *ios);
  for (int64_t n : {*ios, *mac}) {
    Target t = n == *ios ? Target::kIOS : Target::kMacOS;
    SizePlan p = EstimateSizes(QwQ32B(), SplitLayers(64, n), lut, 1024);
    EXPECT_LE(p.largest(), TargetBudgetBytes(t));
    EXPECT_LE(p.embeddings, TargetBudgetBytes(t));
    EXPECT_LE(p.lm_head, TargetBudgetBytes(t));
  }
  // One chunk fewer would not fit: auto picks the smallest count.
  SizePlan fewer = EstimateSizes(QwQ32B(), SplitLayers(64, *ios - 1), lut, 1024);
  EXPECT_GT(fewer.largest(), TargetBudgetBytes(Target::kIOS));
  // The shared KV state of the ANEMLL contract: [2*64, 8, 1024, 128] fp16 = 256 MiB.
  EXPECT_EQ(2ull * 64 * 8 * 1024 * 128 * 2, 268435456ull);
}

// Qwen's QwQ-32B-AWQ release: int4, group 128, carried as it is (4 + 20/128 stored bits per
// weight). Planned at its real size, it needs fewer files than at the LUT6 estimate.
TEST(QwqPlanTest, AwqReleasePlansAtItsCarriedSize) {
  LutPlan lut;
  lut.embed = 6;
  lut.ffn = 6;  // ignored for the carried matrices
  lut.lmhead = 6;
  lut.ffn_carried_bits = 4.0 + 20.0 / 128;
  auto ios = AutoChunkCount(QwQ32B(), lut, 1024, Target::kIOS);
  ASSERT_TRUE(ios.ok()) << ios.status().ToString();
  PrintPlan("iOS, AWQ int4 carried (embeddings, LM head LUT6)", QwQ32B(), lut, *ios);
  auto mac = AutoChunkCount(QwQ32B(), lut, 1024, Target::kMacOS);
  ASSERT_TRUE(mac.ok());
  PrintPlan("macOS, AWQ int4 carried (embeddings, LM head LUT6)", QwQ32B(), lut, *mac);
  LutPlan lut6 = lut;
  lut6.ffn_carried_bits = 0;
  EXPECT_LT(*ios, AutoChunkCount(QwQ32B(), lut6, 1024, Target::kIOS).value());
  // A layer: q, o 5120x5120; k, v 1024x5120; gate, up, down 27648x5120 = 487.6 M weights,
  // 253.3 MB at 4.156 bits, plus the rope tables (0.5 MB), norms, biases and program allowance.
  SizePlan one = EstimateSizes(QwQ32B(), SplitLayers(64, 64), lut, 1024);
  EXPECT_NEAR(static_cast<double>(one.chunks[0]), 253.3e6 + 0.6e6, 0.2e6);
}

}  // namespace
}  // namespace anec::pipeline
