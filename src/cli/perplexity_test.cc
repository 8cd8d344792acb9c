#include "cli/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace anec::cli {
namespace {

TEST(KlDivergenceOfLogitsTest, MatchesTheDefinition) {
  // p = softmax(0, ln 3) = (1/4, 3/4); q = softmax(0, 0) = (1/2, 1/2).
  const std::vector<float> p = {0.0f, static_cast<float>(std::log(3.0))};
  const std::vector<float> q = {0.0f, 0.0f};
  const double expected = 0.25 * std::log(0.25 / 0.5) + 0.75 * std::log(0.75 / 0.5);
  EXPECT_NEAR(KlDivergenceOfLogits(p, q), expected, 1e-7);
  // Not symmetric: KL(q || p) is another number.
  const double reverse = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
  EXPECT_NEAR(KlDivergenceOfLogits(q, p), reverse, 1e-7);
}

TEST(KlDivergenceOfLogitsTest, IsZeroForTheSameDistributionWhateverTheShift) {
  std::vector<float> a(49152), b(49152);
  for (size_t v = 0; v < a.size(); ++v) {
    a[v] = static_cast<float>(std::sin(0.37 * static_cast<double>(v)) * 12.0);
    b[v] = a[v] + 5.0f;  // logits are defined up to a constant
  }
  EXPECT_EQ(KlDivergenceOfLogits(a, a), 0.0);
  EXPECT_NEAR(KlDivergenceOfLogits(a, b), 0.0, 1e-6);
  // Large logits do not overflow.
  for (float& x : b) x += 1e4f;
  EXPECT_TRUE(std::isfinite(KlDivergenceOfLogits(a, b)));
}

}  // namespace
}  // namespace anec::cli
