#include "quant/palettize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "quant/fp16.h"

namespace anec::quant {
namespace {

// The compiler's rounding to half (IEEE nearest even, one rounding from double) as the reference:
// _Float16. Clang 14 has none on x86 (nor working __fp16 conversions without compiler-rt): there
// DoubleToHalf, which fp16_test.cc checks against an independent reference, stands in.
double RefRoundToHalf(double x) {
#if defined(__clang__) && __clang_major__ < 15
  return HalfToFloat(DoubleToHalf(x));
#else
  return static_cast<double>(static_cast<_Float16>(x));
#endif
}

std::vector<uint16_t> RandomHalfs(std::mt19937_64& rng, size_t n, double sigma) {
  std::normal_distribution<float> normal(0.0f, static_cast<float>(sigma));
  std::vector<uint16_t> out(n);
  for (auto& b : out) b = FloatToHalf(normal(rng));
  return out;
}

std::vector<uint16_t> Halfs(std::initializer_list<float> values) {
  std::vector<uint16_t> out;
  for (float v : values) out.push_back(FloatToHalf(v));
  return out;
}

// SSE of the dequantized tensor, recomputed from scratch.
double DirectSse(const std::vector<uint16_t>& w, const LutResult& r) {
  const std::vector<float> q = DequantizeToFloat(r);
  double sse = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double d = static_cast<double>(HalfToFloat(w[i])) - q[i];
    sse += d * d;
  }
  return sse;
}

// Plain O(k n^2) optimum over a group's distinct values (count-weighted), returning the optimal
// real-valued SSE and the SSE of that partition once its centroids are rounded to fp16.
struct Reference {
  double optimal_sse, rounded_sse;
};
Reference PlainOptimum(const std::vector<uint16_t>& group, int k) {
  std::map<double, double> hist;
  for (uint16_t b : group) hist[HalfToFloat(b)] += 1;  // -0 and +0 collapse to one key
  std::vector<double> x, w;
  for (auto [v, c] : hist) {
    x.push_back(v);
    w.push_back(c);
  }
  const int n = static_cast<int>(x.size());
  k = std::min(k, n);
  // cost[j][i] and mean[j][i] of values [j, i), by running sums from each start j.
  std::vector<std::vector<double>> cost_of(n + 1, std::vector<double>(n + 1, 0.0));
  std::vector<std::vector<double>> mean_of(n + 1, std::vector<double>(n + 1, 0.0));
  for (int j = 0; j < n; ++j) {
    long double sw = 0, swx = 0, swxx = 0;
    for (int i = j; i < n; ++i) {
      sw += w[i], swx += w[i] * x[i], swxx += w[i] * x[i] * x[i];
      mean_of[j][i + 1] = static_cast<double>(swx / sw);
      cost_of[j][i + 1] = static_cast<double>(std::max<long double>(0, swxx - swx * swx / sw));
    }
  }
  auto cost = [&](int j, int i, double* mean) {
    if (mean) *mean = mean_of[j][i];
    return cost_of[j][i];
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> d(k + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int>> arg(k + 1, std::vector<int>(n + 1, 0));
  for (int i = 1; i <= n; ++i) d[1][i] = cost(0, i, nullptr);
  for (int m = 2; m <= k; ++m) {
    for (int i = m; i <= n; ++i) {
      for (int j = m - 1; j < i; ++j) {
        const double v = d[m - 1][j] + cost(j, i, nullptr);
        if (v < d[m][i]) d[m][i] = v, arg[m][i] = j;
      }
    }
  }
  double rounded = 0;
  for (int m = k, i = n; m >= 1; --m) {
    const int j = arg[m][i];
    double mean;
    cost(j, i, &mean);
    const double c = RefRoundToHalf(mean);  // reference rounding
    for (int t = j; t < i; ++t) rounded += w[t] * (x[t] - c) * (x[t] - c);
    i = j;
  }
  return {d[k][n], rounded};
}

TEST(Palettize, TwoObviousClustersPerTensor) {
  const auto w = Halfs({0, 0, 1, 1, 10, 10, 11, 11});
  auto r = Palettize(w, 2, 4, {.bits = 1, .group_size = 0, .threads = 1}, {}, "t");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->group_size, 2);
  EXPECT_EQ(r->lut_fp16, Halfs({0.5, 10.5}));
  EXPECT_EQ(r->indices, (std::vector<uint8_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_DOUBLE_EQ(r->sse, 2.0);
  EXPECT_DOUBLE_EQ(r->mse, 0.25);
  EXPECT_NEAR(r->snr_db, 10 * std::log10((2 + 200 + 242) / 2.0), 1e-12);
}

TEST(Palettize, FewDistinctValuesAreExactAndPadTheTable) {
  // Group 0 has three distinct values (with -0 == +0), group 1 has one.
  std::vector<uint16_t> w = Halfs({-2, 0, 3, 3, 7, 7, 7, 7});
  w[1] = 0x8000;  // -0
  auto r = Palettize(w, 4, 2, {.bits = 2, .group_size = 2, .threads = 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lut_fp16, Halfs({-2, 0, 3, 3, 7, 7, 7, 7}));
  EXPECT_EQ(r->sse, 0.0);
  EXPECT_TRUE(std::isinf(r->snr_db));
  std::vector<uint16_t> back = DequantizeToHalf(*r);
  EXPECT_EQ(back[1], 0x0000);  // -0 comes back as +0, the same value
  back[1] = 0x8000;
  EXPECT_EQ(back, w);
}

TEST(Palettize, SignedZerosShareOneIndex) {
  std::vector<uint16_t> w = {0x8000, 0x0000, FloatToHalf(1), FloatToHalf(2)};
  auto r = Palettize(w, 1, 4, {.bits = 1, .group_size = 0, .threads = 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->indices[0], r->indices[1]);
}

TEST(Palettize, MatchesPlainOptimumOnRandomGroups) {
  std::mt19937_64 rng(11);
  for (int bits : {1, 2, 3, 4, 6, 8}) {
    for (int trial = 0; trial < 3; ++trial) {
      const int rows = 8, cols = 24 + 16 * trial;
      const int group = trial == 0 ? 0 : (trial == 1 ? 4 : 2);
      const auto w = RandomHalfs(rng, rows * cols, 0.02);
      auto r = Palettize(w, rows, cols, {.bits = bits, .group_size = group, .threads = 2});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      const int g = group == 0 ? rows : group;
      double optimal = 0, rounded = 0;
      for (int first = 0; first < rows; first += g) {
        std::vector<uint16_t> part(w.begin() + first * cols, w.begin() + (first + g) * cols);
        const Reference ref = PlainOptimum(part, 1 << bits);
        optimal += ref.optimal_sse;
        rounded += ref.rounded_sse;
      }
      // Never better than the real-valued optimum (a lower bound for any table), never worse than
      // the optimal partition with its centroids rounded to fp16.
      const double tol = 1e-9 * rounded + 1e-15;
      EXPECT_LE(r->sse, rounded + tol) << "bits " << bits << " trial " << trial;
      EXPECT_NEAR(r->sse, DirectSse(w, *r), tol);
      EXPECT_GE(r->sse, optimal - tol) << "bits " << bits << " trial " << trial;
      for (size_t gi = 0; gi < r->lut_fp16.size(); ++gi) {  // tables ascend within a group
        if (gi % (1u << bits) != 0) {
          EXPECT_LE(HalfToFloat(r->lut_fp16[gi - 1]), HalfToFloat(r->lut_fp16[gi]));
        }
      }
    }
  }
}

TEST(Palettize, EveryIndexIsTheNearestEntry) {
  std::mt19937_64 rng(12);
  const auto w = RandomHalfs(rng, 32 * 64, 0.05);
  auto r = Palettize(w, 32, 64, {.bits = 3, .group_size = 8, .threads = 2});
  ASSERT_TRUE(r.ok());
  for (size_t e = 0; e < w.size(); ++e) {
    const size_t g = e / (8 * 64);
    const double x = HalfToFloat(w[e]);
    const double chosen = std::fabs(x - HalfToFloat(r->lut_fp16[g * 8 + r->indices[e]]));
    for (int t = 0; t < 8; ++t) {
      ASSERT_LE(chosen, std::fabs(x - HalfToFloat(r->lut_fp16[g * 8 + t]))) << e;
    }
  }
}

TEST(Palettize, ThreadCountDoesNotChangeAnyBit) {
  std::mt19937_64 rng(13);
  const int rows = 64, cols = 256;
  const auto w = RandomHalfs(rng, rows * cols, 0.02);
  std::vector<float> imp(w.size());
  std::uniform_real_distribution<float> u(0.0f, 2.0f);
  for (auto& v : imp) v = u(rng);
  for (bool weighted : {false, true}) {
    std::span<const float> importance =
        weighted ? std::span<const float>(imp) : std::span<const float>();
    auto one = Palettize(w, rows, cols, {.bits = 4, .group_size = 8, .threads = 1}, importance);
    auto four = Palettize(w, rows, cols, {.bits = 4, .group_size = 8, .threads = 4}, importance);
    ASSERT_TRUE(one.ok() && four.ok());
    EXPECT_EQ(one->lut_fp16, four->lut_fp16);
    EXPECT_EQ(one->indices, four->indices);
    EXPECT_EQ(std::bit_cast<uint64_t>(one->sse), std::bit_cast<uint64_t>(four->sse));
    EXPECT_EQ(std::bit_cast<uint64_t>(one->weighted_sse),
              std::bit_cast<uint64_t>(four->weighted_sse));
  }
}

TEST(Palettize, ImportanceWeightsPullTheTable) {
  // Eight distinct values, two table entries; only 0.5 and 3.0 matter, so both are exact.
  const auto w = Halfs({0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0});
  const std::vector<float> imp = {1, 0, 0, 0, 1, 0, 0, 0};
  auto r = Palettize(w, 1, 8, {.bits = 1, .group_size = 0, .threads = 1}, imp);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lut_fp16, Halfs({0.5, 3.0}));
  EXPECT_EQ(r->weighted_sse, 0.0);
  EXPECT_GT(r->sse, 0.0);
  auto plain = Palettize(w, 1, 8, {.bits = 1, .group_size = 0, .threads = 1});
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->lut_fp16, r->lut_fp16);
  EXPECT_LT(plain->sse, r->sse);  // unweighted optimum has the lower plain error
  // All-zero importance falls back to plain clustering.
  auto zero =
      Palettize(w, 1, 8, {.bits = 1, .group_size = 0, .threads = 1}, std::vector<float>(8, 0.0f));
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->lut_fp16, plain->lut_fp16);
}

TEST(Palettize, ColumnImportanceEqualsTheSameValueOnEveryRow) {
  std::mt19937_64 rng(17);
  const int rows = 32, cols = 48;
  const auto w = RandomHalfs(rng, rows * cols, 0.02);
  std::vector<float> per_column(cols), per_element(w.size());
  std::uniform_real_distribution<float> u(0.0f, 3.0f);
  for (auto& v : per_column) v = u(rng);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) per_element[r * cols + c] = per_column[c];
  }
  const LutConfig cfg{.bits = 3, .group_size = 8, .threads = 2};
  auto a = Palettize(w, rows, cols, cfg, per_column);
  auto b = Palettize(w, rows, cols, cfg, per_element);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString();
  EXPECT_EQ(a->lut_fp16, b->lut_fp16);
  EXPECT_EQ(a->indices, b->indices);
  EXPECT_EQ(std::bit_cast<uint64_t>(a->weighted_sse), std::bit_cast<uint64_t>(b->weighted_sse));
  auto plain = Palettize(w, rows, cols, cfg);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->indices, a->indices);  // the weighting changed the tables
  // A bad column value names its row and column.
  per_column[5] = -1;
  auto bad = Palettize(w, rows, cols, cfg, per_column, "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("importance [0, 5]"), std::string::npos);
}

TEST(Palettize, RejectsBadConfigurationsWithNamedErrors) {
  const auto w = Halfs({1, 2, 3, 4, 5, 6});
  for (int bits : {0, 5, 7, 9}) {
    auto r = Palettize(w, 3, 2, {.bits = bits, .group_size = 0, .threads = 1}, {}, "layers.0.q");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("layers.0.q"), std::string::npos);
    EXPECT_NE(r.status().message().find("bits"), std::string::npos);
  }
  auto r = Palettize(w, 3, 2, {.bits = 4, .group_size = 2, .threads = 1}, {}, "mlp.up");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not divide"), std::string::npos);
  EXPECT_NE(r.status().message().find("mlp.up"), std::string::npos);
  EXPECT_FALSE(Palettize(w, 4, 2, {.bits = 4, .group_size = 0, .threads = 1}).ok());
  EXPECT_FALSE(Palettize(w, 3, 2, {.bits = 4, .group_size = 0, .threads = -1}).ok());
  EXPECT_FALSE(
      Palettize(w, 3, 2, {.bits = 4, .group_size = 0, .threads = 1}, std::vector<float>(5, 1.0f))
          .ok());
  const std::vector<float> negative = {1, 1, 1, -1, 1, 1};
  r = Palettize(w, 3, 2, {.bits = 1, .group_size = 0, .threads = 1}, negative, "o");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("importance [1, 1]"), std::string::npos);
}

TEST(Palettize, NonFiniteWeightsNameTheTensorAndElement) {
  std::mt19937_64 rng(14);
  auto w = RandomHalfs(rng, 16 * 8, 0.02);
  w[5 * 8 + 3] = 0x7E00;   // NaN at [5, 3]
  w[12 * 8 + 1] = 0xFC00;  // -Inf at [12, 1], in a later group
  for (int threads : {1, 4}) {
    auto r = Palettize(w, 16, 8, {.bits = 2, .group_size = 2, .threads = threads}, {}, "k_proj");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("k_proj"), std::string::npos);
    EXPECT_NE(r.status().message().find("[5, 3] is NaN"), std::string::npos)
        << r.status().message();
  }
  w[5 * 8 + 3] = 0;
  auto r = Palettize(w, 16, 8, {.bits = 2, .group_size = 0, .threads = 1}, {}, "k_proj");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("[12, 1] is Inf"), std::string::npos);
}

// Row scales: rows of one group at very different magnitudes. Without scales the small rows get
// a few of the table's entries; with them every row spans the table, so the error in the
// weights' own units drops, and the reported errors are those of the scaled reconstruction.
TEST(Palettize, RowScalesFitRowsOfDifferentMagnitude) {
  std::mt19937_64 rng(21);
  const int64_t rows = 16, cols = 64;
  std::vector<uint16_t> w = RandomHalfs(rng, rows * cols, 0.02);
  for (int64_t r = 0; r < rows; ++r) {
    const float f = std::ldexp(1.0f, static_cast<int>(r % 8) - 4);  // 1/16 .. 8
    for (int64_t c = 0; c < cols; ++c) {
      w[r * cols + c] = FloatToHalf(HalfToFloat(w[r * cols + c]) * f);
    }
  }
  const LutConfig plain{.bits = 3, .group_size = 8, .threads = 1};
  LutConfig scaled = plain;
  scaled.row_scale = true;
  auto a = Palettize(w, rows, cols, plain, {}, "w");
  auto b = Palettize(w, rows, cols, scaled, {}, "w");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->row_scale_fp16.empty());
  ASSERT_EQ(b->row_scale_fp16.size(), static_cast<size_t>(rows));
  EXPECT_LT(b->sse, 0.75 * a->sse);  // 0.51x here
  EXPECT_NEAR(b->sse, DirectSse(w, *b), 1e-12 * b->sse);
  EXPECT_EQ(b->weighted_sse, b->sse);  // no importance
  // The dense weight is the table entry times the row's scale, rounded to fp16.
  const std::vector<uint16_t> dense = DequantizeToHalf(*b);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; c += 7) {
      const size_t e = static_cast<size_t>(r * cols + c);
      const uint16_t entry = b->lut_fp16[static_cast<size_t>(r / 8) * 8 + b->indices[e]];
      EXPECT_EQ(dense[e], FloatToHalf(HalfToFloat(entry) * HalfToFloat(b->row_scale_fp16[r])));
    }
  }
  // Importance multiplies the row weight: a column with zero importance is ignored by the fit.
  std::vector<float> imp(cols, 1.0f);
  imp[0] = 0;
  auto c = Palettize(w, rows, cols, scaled, imp, "w");
  ASSERT_TRUE(c.ok());
  EXPECT_LT(c->weighted_sse, c->sse);
}

// Rows of equal maxima get s_r == 1 before refinement and the same result as without scales; an
// all-zero row keeps scale 1; a non-finite weight is still reported where it is.
TEST(Palettize, RowScalesOfEqualRowsChangeNothing) {
  std::mt19937_64 rng(22);
  const int64_t rows = 8, cols = 32;
  std::vector<uint16_t> w = RandomHalfs(rng, rows * cols, 0.02);
  for (int64_t r = 0; r < rows; ++r) w[r * cols] = FloatToHalf(0.25f);  // every row's max
  std::fill(w.begin() + 3 * cols, w.begin() + 4 * cols, uint16_t{0});   // row 3 all zero
  LutConfig scaled{.bits = 2, .group_size = 4, .threads = 1};
  scaled.row_scale = true;
  scaled.row_scale_iterations = 0;
  auto a = Palettize(w, rows, cols, {.bits = 2, .group_size = 4, .threads = 1}, {}, "w");
  auto b = Palettize(w, rows, cols, scaled, {}, "w");
  ASSERT_TRUE(a.ok() && b.ok());
  for (uint16_t s : b->row_scale_fp16) EXPECT_EQ(s, FloatToHalf(1.0f));
  EXPECT_EQ(a->lut_fp16, b->lut_fp16);
  EXPECT_EQ(a->indices, b->indices);
  EXPECT_EQ(a->sse, b->sse);
  w[5 * cols + 3] = 0x7E00;
  auto bad = Palettize(w, rows, cols, scaled, {}, "k_proj");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("[5, 3] is NaN"), std::string::npos)
      << bad.status().message();
  scaled.row_scale_iterations = 4;
  auto refined_bad = Palettize(w, rows, cols, scaled, {}, "k_proj");
  ASSERT_FALSE(refined_bad.ok());
  EXPECT_NE(refined_bad.status().message().find("[5, 3] is NaN"), std::string::npos);
  // Refined, the all-zero row still has scale 1.
  w[5 * cols + 3] = FloatToHalf(0.01f);
  auto refined = Palettize(w, rows, cols, scaled, {}, "w");
  ASSERT_TRUE(refined.ok());
  EXPECT_EQ(refined->row_scale_fp16[3], FloatToHalf(1.0f));
}

// The refinement (LutConfig::row_scale_iterations, row_scales.h) never raises the objective and,
// on rows of different shapes sharing a table, lowers it; the reported errors stay those of the
// scaled reconstruction. At 8 bits it does not run.
TEST(Palettize, RefinedRowScalesLowerTheError) {
  std::mt19937_64 rng(24);
  const int64_t rows = 32, cols = 128;
  std::vector<uint16_t> w = RandomHalfs(rng, rows * cols, 0.02);
  for (int64_t r = 0; r < rows; ++r) {  // one outlier per row at a random size: maxima mislead
    const float f = std::uniform_real_distribution<float>(0.3f, 3.0f)(rng);
    w[r * cols + (r * 7) % cols] = FloatToHalf(0.05f * f);
  }
  std::vector<float> imp(cols);
  for (float& v : imp) v = std::uniform_real_distribution<float>(0.1f, 2.0f)(rng);
  for (const int bits : {2, 4, 6}) {
    LutConfig first{.bits = bits, .group_size = 8, .threads = 1};
    first.row_scale = true;
    first.row_scale_iterations = 0;
    LutConfig refined = first;
    refined.row_scale_iterations = 4;
    auto a = Palettize(w, rows, cols, first, imp, "w");
    auto b = Palettize(w, rows, cols, refined, imp, "w");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LT(b->weighted_sse, 0.98 * a->weighted_sse) << bits << " bits";
    EXPECT_NE(a->row_scale_fp16, b->row_scale_fp16);
    EXPECT_NE(a->input_hash, b->input_hash);
    EXPECT_NEAR(b->sse, DirectSse(w, *b), 1e-12 * b->sse);
  }
  LutConfig eight{.bits = 8, .group_size = 8, .threads = 1};
  eight.row_scale = true;
  eight.row_scale_iterations = 0;
  auto c = Palettize(w, rows, cols, eight, imp, "w");
  eight.row_scale_iterations = 4;
  auto d = Palettize(w, rows, cols, eight, imp, "w");
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_EQ(c->row_scale_fp16, d->row_scale_fp16);
  EXPECT_EQ(c->indices, d->indices);
}

// Tables handed back with their input hash give exactly the result of fitting (the k-means is
// skipped); with any other input (weights, importance, bits, group, row scales) they are ignored.
TEST(Palettize, ReusedTablesGiveTheFittedResult) {
  std::mt19937_64 rng(23);
  const int64_t rows = 16, cols = 96;
  const std::vector<uint16_t> w = RandomHalfs(rng, rows * cols, 0.02);
  std::vector<float> imp(cols);
  for (float& v : imp) v = std::uniform_real_distribution<float>(0.1f, 2.0f)(rng);
  for (const bool row_scale : {false, true}) {
    LutConfig cfg{.bits = 4, .group_size = 8, .threads = 1};
    cfg.row_scale = row_scale;
    auto fitted = Palettize(w, rows, cols, cfg, imp, "w");
    ASSERT_TRUE(fitted.ok());
    EXPECT_NE(fitted->input_hash, 0u);
    EXPECT_FALSE(fitted->reused_tables);
    LutConfig again = cfg;
    again.tables = fitted->lut_fp16;
    again.tables_input_hash = fitted->input_hash;
    again.row_scales = fitted->row_scale_fp16;
    auto reused = Palettize(w, rows, cols, again, imp, "w");
    ASSERT_TRUE(reused.ok());
    EXPECT_TRUE(reused->reused_tables);
    EXPECT_EQ(reused->input_hash, fitted->input_hash);
    EXPECT_EQ(reused->lut_fp16, fitted->lut_fp16);
    EXPECT_EQ(reused->indices, fitted->indices);
    EXPECT_EQ(reused->row_scale_fp16, fitted->row_scale_fp16);
    EXPECT_EQ(reused->sse, fitted->sse);
    EXPECT_EQ(reused->weighted_sse, fitted->weighted_sse);

    // Each input the tables depend on, changed: fitted afresh, as without tables.
    std::vector<uint16_t> w2 = w;
    w2[5] = FloatToHalf(HalfToFloat(w2[5]) + 0.01f);
    std::vector<float> imp2 = imp;
    imp2[3] *= 2;
    LutConfig other_group = again, other_scale = again, other_bits = again;
    other_group.group_size = 4;
    other_scale.row_scale = !row_scale;
    other_bits.bits = 3;
    struct Case {
      const std::vector<uint16_t>* w;
      const std::vector<float>* imp;
      LutConfig cfg;
    };
    LutConfig other_iterations = again, no_scales = again;
    other_iterations.row_scale_iterations = 1;
    no_scales.row_scales = {};
    std::vector<Case> cases = {Case{&w2, &imp, again}, Case{&w, &imp2, again},
                               Case{&w, &imp, other_group}, Case{&w, &imp, other_scale},
                               Case{&w, &imp, other_bits}};
    if (row_scale) {
      cases.push_back({&w, &imp, other_iterations});
      cases.push_back({&w, &imp, no_scales});  // tables without their scales: fitted afresh
    }
    for (const Case& c : cases) {
      auto got = Palettize(*c.w, rows, cols, c.cfg, *c.imp, "w");
      LutConfig plain = c.cfg;
      plain.tables = {};
      auto want = Palettize(*c.w, rows, cols, plain, *c.imp, "w");
      ASSERT_TRUE(got.ok() && want.ok());
      EXPECT_FALSE(got->reused_tables);
      if (!c.cfg.row_scales.empty()) {
        EXPECT_NE(got->input_hash, fitted->input_hash);
      }
      EXPECT_EQ(got->lut_fp16, want->lut_fp16);
      EXPECT_EQ(got->indices, want->indices);
    }
  }
}

}  // namespace
}  // namespace anec::quant
