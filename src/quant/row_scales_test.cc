#include "quant/row_scales.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/fp16.h"

namespace anec::quant {
namespace {

struct Problem {
  int64_t rows = 8, cols = 96;
  std::vector<float> w, importance;
  std::vector<double> table, scales;
  std::vector<uint8_t> indices;
};

// Rows of different magnitudes and shapes, a table fitted to none of them, nearest indices.
Problem MakeProblem(uint64_t seed, int entries) {
  std::mt19937_64 rng(seed);
  Problem p;
  const size_t n = static_cast<size_t>(p.rows * p.cols);
  p.w.resize(n);
  p.importance.resize(n);
  p.indices.resize(n);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.1f, 3.0f);
  for (int64_t r = 0; r < p.rows; ++r) {
    const float size = uniform(rng);
    for (int64_t c = 0; c < p.cols; ++c) {
      p.w[static_cast<size_t>(r * p.cols + c)] = size * normal(rng) * (c % 5 == 0 ? 2.0f : 1.0f);
    }
  }
  for (float& v : p.importance) v = uniform(rng);
  for (int t = 0; t < entries; ++t) p.table.push_back(-3.0 + 6.0 * (t + 0.5) / entries);
  p.scales.assign(static_cast<size_t>(p.rows), 1.0);
  for (size_t e = 0; e < n; ++e) {
    size_t best = 0;
    for (size_t t = 1; t < p.table.size(); ++t) {
      if (std::fabs(p.w[e] - p.table[t]) < std::fabs(p.w[e] - p.table[best])) best = t;
    }
    p.indices[e] = static_cast<uint8_t>(best);
  }
  return p;
}

double Error(const Problem& p) {
  return ScaledError(p.w, p.importance, p.rows, p.cols, p.table, p.scales, p.indices);
}

TEST(RefineRowScalesTest, EveryRoundLowersTheErrorAndKeepsTheTableAscending) {
  for (const int entries : {4, 16, 64}) {
    Problem p = MakeProblem(31 + entries, entries);
    double last = Error(p);
    const double start = last;
    for (int round = 0; round < 6; ++round) {
      RefineRowScales(p.w, p.importance, p.rows, p.cols, p.table, p.scales, p.indices, 1);
      const double now = Error(p);
      EXPECT_LE(now, last * (1 + 1e-12)) << entries << " entries, round " << round;
      last = now;
      EXPECT_TRUE(std::is_sorted(p.table.begin(), p.table.end()));
    }
    EXPECT_LT(last, 0.7 * start) << entries << " entries";
  }
}

// After a round each index is its value's nearest entry, and each entry the weighted
// least-squares value of its members: moving either raises the error.
TEST(RefineRowScalesTest, ARoundEndsAtThePartialMinima) {
  Problem p = MakeProblem(41, 16);
  RefineRowScales(p.w, p.importance, p.rows, p.cols, p.table, p.scales, p.indices, 3);
  const double base = Error(p);
  for (size_t t = 0; t < p.table.size(); ++t) {
    for (const double step : {-1e-3, 1e-3}) {
      Problem q = p;
      q.table[t] += step;
      EXPECT_GE(Error(q), base * (1 - 1e-12)) << "entry " << t;
    }
  }
  for (size_t e = 0; e < p.w.size(); e += 13) {
    const double s = p.scales[e / static_cast<size_t>(p.cols)];
    const double v = p.w[e] / s;
    for (size_t t = 0; t < p.table.size(); ++t) {
      EXPECT_LE(std::fabs(v - p.table[p.indices[e]]), std::fabs(v - p.table[t]) + 1e-12);
    }
  }
  // The scales are then least-squares for the next round's table and indices, so another round
  // still lowers the error.
  RefineRowScales(p.w, p.importance, p.rows, p.cols, p.table, p.scales, p.indices, 1);
  EXPECT_LE(Error(p), base * (1 + 1e-12));
}

TEST(RefineRowScalesTest, ZeroImportanceAndZeroRowsAreLeftAlone) {
  Problem p = MakeProblem(51, 8);
  for (int64_t c = 0; c < p.cols; ++c) {
    p.w[static_cast<size_t>(2 * p.cols + c)] = 0.0f;           // row 2 all zero
    p.importance[static_cast<size_t>(5 * p.cols + c)] = 0.0f;  // row 5 does not count
  }
  p.scales[2] = 0.5;
  p.scales[5] = 2.0;
  RefineRowScales(p.w, p.importance, p.rows, p.cols, p.table, p.scales, p.indices, 2);
  EXPECT_EQ(p.scales[2], 0.5);
  EXPECT_EQ(p.scales[5], 2.0);
  for (double s : p.scales) EXPECT_GT(s, 0);
}

TEST(InitialRowScalesTest, MaxOverTheMedianMaximum) {
  // Row maxima 1, 2, 4 and an all-zero row: median of the nonzero maxima is 2.
  const std::vector<float> w = {0.5f, -1.0f, 2.0f, 0.0f, 0.0f, -4.0f, 0.0f, 0.0f};
  std::vector<uint16_t> h;
  for (float v : w) h.push_back(FloatToHalf(v));
  const std::vector<uint16_t> s = InitialRowScales(h, 4, 2);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(HalfToFloat(s[0]), 0.5f);
  EXPECT_EQ(HalfToFloat(s[1]), 1.0f);
  EXPECT_EQ(HalfToFloat(s[2]), 2.0f);
  EXPECT_EQ(HalfToFloat(s[3]), 1.0f);
}

}  // namespace
}  // namespace anec::quant
