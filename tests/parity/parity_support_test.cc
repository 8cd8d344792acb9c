// The measures the parity tests rely on, and the reference loader on the committed fixtures.
#include "parity_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace anec::parity {
namespace {

TEST(ParityMeasuresTest, KlDivergenceMatchesHandComputedValue) {
  // p = softmax(0, ln 3) = (1/4, 3/4); q = uniform: KL = 1/4 ln(1/2) + 3/4 ln(3/2).
  const std::vector<float> p = {0.0f, static_cast<float>(std::log(3.0))};
  const std::vector<float> q = {5.0f, 5.0f};
  EXPECT_NEAR(KlDivergence(p, q), 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-7);
  EXPECT_NEAR(KlDivergence(p, p), 0.0, 1e-12);
  // Invariant to a constant shift of either logit vector.
  const std::vector<float> p_shifted = {100.0f, 100.0f + static_cast<float>(std::log(3.0))};
  EXPECT_NEAR(KlDivergence(p_shifted, q), KlDivergence(p, q), 1e-5);
}

TEST(ParityMeasuresTest, ArgmaxTakesTheFirstOfTies) {
  EXPECT_EQ(Argmax(std::vector<float>{1, 3, 3, 2}), 1);
  EXPECT_EQ(Argmax(std::vector<float>{-1, -2}), 0);
}

TEST(ParityMeasuresTest, MaxAbsDiffReportsNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_DOUBLE_EQ(MaxAbsDiff(std::vector<float>{1, 2}, std::vector<float>{1.5f, 0}), 2.0);
  EXPECT_TRUE(std::isnan(MaxAbsDiff(std::vector<float>{1, nan}, std::vector<float>{1, 2})));
}

TEST(ParityReferenceTest, EveryFixtureHasThreePromptsWithLogitsPerPosition) {
  for (const char* name :
       {"llama_untied", "llama3_tied", "llama_linear_rope", "qwen2_tied", "qwen3_headdim",
        "mistral_window", "phi3_fused", "r1_distill_qwen", "r1_distill_llama"}) {
    auto ref = LoadReference(FixtureDir(name));
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    ASSERT_EQ(ref->prompts.size(), 3u) << name;
    std::vector<size_t> lengths;
    for (const ReferencePrompt& p : ref->prompts) {
      lengths.push_back(p.ids.size());
      EXPECT_EQ(p.greedy.size(), 32u) << name;
    }
    EXPECT_EQ(lengths, (std::vector<size_t>{5, 13, 29})) << name;
  }
}

TEST(ParityReferenceTest, MissingReferenceNamesTheFile) {
  auto ref = LoadReference(FixtureDir("no_such_case"));
  ASSERT_FALSE(ref.ok());
  EXPECT_NE(ref.status().ToString().find("reference.json"), std::string::npos);
}

}  // namespace
}  // namespace anec::parity
