#include "quant/kmeans_1d.h"

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

// Weighted SSE of values [b, e) around their weighted mean, summed directly in long double.
long double ClusterCost(const std::vector<double>& x, const std::vector<double>& w, int b, int e) {
  long double sw = 0, swx = 0;
  for (int i = b; i < e; ++i) {
    sw += w[i];
    swx += static_cast<long double>(w[i]) * x[i];
  }
  const long double mean = swx / sw;
  long double c = 0;
  for (int i = b; i < e; ++i) c += w[i] * (x[i] - mean) * (x[i] - mean);
  return c;
}

// Every way to cut n sorted values into exactly k contiguous non-empty runs.
long double BruteForceBest(const std::vector<double>& x, const std::vector<double>& w, int k) {
  const int n = static_cast<int>(x.size());
  long double best = std::numeric_limits<long double>::infinity();
  for (uint32_t mask = 0; mask < (1u << (n - 1)); ++mask) {  // bit b: cut after value b
    if (std::popcount(mask) != k - 1) continue;
    long double total = 0;
    int begin = 0;
    for (int b = 0; b < n - 1; ++b) {
      if (mask & (1u << b)) {
        total += ClusterCost(x, w, begin, b + 1);
        begin = b + 1;
      }
    }
    total += ClusterCost(x, w, begin, n);
    best = std::min(best, total);
  }
  return best;
}

// The textbook O(k n^2) dynamic program, with costs from a direct incremental mean/SSE update
// (no prefix sums, no monotonicity assumption).
long double PlainDp(const std::vector<double>& x, const std::vector<double>& w, int k) {
  const int n = static_cast<int>(x.size());
  k = std::min(k, n);
  std::vector<long double> cost(static_cast<size_t>(n) * (n + 1));  // cost[j*(n+1)+i], [j, i)
  for (int j = 0; j < n; ++j) {
    long double sw = 0, mean = 0, m2 = 0;
    for (int i = j; i < n; ++i) {  // weighted Welford update
      sw += w[i];
      const long double delta = x[i] - mean;
      mean += delta * w[i] / sw;
      m2 += w[i] * delta * (x[i] - mean);
      cost[static_cast<size_t>(j) * (n + 1) + i + 1] = m2;
    }
  }
  const long double inf = std::numeric_limits<long double>::infinity();
  std::vector<long double> prev(n + 1, inf), cur(n + 1, inf);
  for (int i = 1; i <= n; ++i) prev[i] = cost[i];
  for (int m = 2; m <= k; ++m) {
    std::fill(cur.begin(), cur.end(), inf);
    for (int i = m; i <= n; ++i) {
      for (int j = m - 1; j < i; ++j) {
        cur[i] = std::min(cur[i], prev[j] + cost[static_cast<size_t>(j) * (n + 1) + i]);
      }
    }
    std::swap(prev, cur);
  }
  return prev[n];
}

// The result must be self-consistent: sorted centroids that are the means of the runs it names,
// and an sse equal to the cost of those runs.
void ExpectConsistent(const Kmeans1DResult& r, const std::vector<double>& x,
                      const std::vector<double>& w, int k) {
  const int n = static_cast<int>(x.size());
  ASSERT_EQ(r.centroids.size(), static_cast<size_t>(std::min(k, n)));
  ASSERT_EQ(r.cluster_begin.size(), r.centroids.size());
  EXPECT_EQ(r.cluster_begin[0], 0);
  long double total = 0;
  for (size_t c = 0; c < r.cluster_begin.size(); ++c) {
    const int b = r.cluster_begin[c];
    const int e = c + 1 < r.cluster_begin.size() ? r.cluster_begin[c + 1] : n;
    ASSERT_LT(b, e) << "cluster " << c << " is empty";
    total += ClusterCost(x, w, b, e);
    if (c > 0) {
      EXPECT_LE(r.centroids[c - 1], r.centroids[c]);
    }
    EXPECT_GE(r.centroids[c], x[b]);
    EXPECT_LE(r.centroids[c], x[e - 1]);
  }
  EXPECT_NEAR(r.sse, static_cast<double>(total), 1e-12 * (1 + static_cast<double>(total)));
}

void ExpectOptimal(double got, long double want) {
  const double tol = 1e-9 * (1e-300 + static_cast<double>(want)) + 1e-12;
  EXPECT_NEAR(got, static_cast<double>(want), tol);
}

// Sorted random values; `levels` > 0 draws integers in [0, levels) to create duplicates and
// exact ties; weights are 1 or random in (0.1, 5).
void MakeInput(std::mt19937_64& rng, int n, int levels, bool weighted, std::vector<double>* x,
               std::vector<double>* w) {
  std::normal_distribution<double> normal(0.0, 0.02);
  std::uniform_int_distribution<int> level(0, std::max(levels - 1, 0));
  std::uniform_real_distribution<double> weight(0.1, 5.0);
  x->resize(n);
  w->resize(n);
  for (int i = 0; i < n; ++i) {
    (*x)[i] = levels > 0 ? level(rng) : normal(rng);
    (*w)[i] = weighted ? weight(rng) : 1.0;
  }
  std::sort(x->begin(), x->end());
}

TEST(Kmeans1D, MatchesExhaustiveSearchOnTinyInputs) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 400; ++trial) {
    const int n = 2 + trial % 11;               // 2..12 values
    const int k = 2 + (trial / 11) % (n - 1);   // 2..n clusters
    const int levels = trial % 3 == 0 ? 4 : 0;  // a third with heavy duplicates
    std::vector<double> x, w;
    MakeInput(rng, n, levels, trial % 2 == 1, &x, &w);
    auto r = Kmeans1D(x, w, k);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectConsistent(*r, x, w, k);
    ExpectOptimal(r->sse, BruteForceBest(x, w, k));
  }
}

TEST(Kmeans1D, MatchesPlainDynamicProgram) {
  std::mt19937_64 rng(2);
  const int ks[] = {2, 3, 4, 7, 8, 16, 33, 64, 100, 256};
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 20 + static_cast<int>(rng() % 280);
    const int k = ks[trial % 10];
    const int levels = trial % 4 == 0 ? 50 : (trial % 4 == 1 ? 7 : 0);
    std::vector<double> x, w;
    MakeInput(rng, n, levels, trial % 3 == 0, &x, &w);
    auto r = Kmeans1D(x, w, k);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectConsistent(*r, x, w, k);
    ExpectOptimal(r->sse, PlainDp(x, w, k));
  }
}

TEST(Kmeans1D, LargerInputsUseBothLayerStrategiesAndStayOptimal) {
  // Hundreds of values make the solver switch from divide and conquer to Knuth's bounds.
  std::mt19937_64 rng(3);
  for (int k : {5, 16, 64}) {
    std::vector<double> x, w;
    MakeInput(rng, 700, 0, k == 16, &x, &w);
    auto r = Kmeans1D(x, w, k);
    ASSERT_TRUE(r.ok());
    ExpectConsistent(*r, x, w, k);
    ExpectOptimal(r->sse, PlainDp(x, w, k));
  }
}

TEST(Kmeans1D, Fp16HistogramsLikePalettizationStayOptimal) {
  // What Palettize hands the solver: the distinct fp16 values of Gaussian weights with their
  // counts as weights (many Knuth layers, mostly 1-2 candidates per row, count-valued weights).
  std::mt19937_64 rng(6);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (int k : {16, 64}) {
    std::map<double, double> histogram;
    for (int e = 0; e < 2500; ++e) histogram[HalfToFloat(FloatToHalf(normal(rng))) + 0.0] += 1;
    std::vector<double> x, w;
    for (const auto& [value, count] : histogram) {
      x.push_back(value);
      w.push_back(count);
    }
    ASSERT_GT(x.size(), 300u);
    auto r = Kmeans1D(x, w, k);
    ASSERT_TRUE(r.ok());
    ExpectConsistent(*r, x, w, k);
    // The O(k n^2) plain DP at k = 16; at k = 64 (4x its cost: 16 of this test's 20 s under the
    // sanitizers) the layered DP, itself checked against the plain DP above.
    if (k == 16) {
      ExpectOptimal(r->sse, PlainDp(x, w, k));
    } else {
      auto layered = Kmeans1DLayered(x, w, k);
      ASSERT_TRUE(layered.ok());
      ExpectOptimal(r->sse, layered->sse);
    }
  }
}

TEST(Kmeans1D, HeavyTailedValuesStayOptimal) {
  // Cauchy samples make some Knuth layers overrun their scan budget, so those layers are
  // abandoned and redone by divide and conquer (seen by instrumenting the solver).
  std::mt19937_64 rng(5);
  std::cauchy_distribution<double> cauchy(0.0, 1.0);
  for (int k : {8, 16}) {
    std::vector<double> x(1000), w(1000, 1.0);
    for (double& v : x) v = cauchy(rng);
    std::sort(x.begin(), x.end());
    auto r = Kmeans1D(x, w, k);
    ASSERT_TRUE(r.ok());
    ExpectConsistent(*r, x, w, k);
    ExpectOptimal(r->sse, PlainDp(x, w, k));
  }
}

TEST(Kmeans1D, EquallySpacedValuesTieAndStillReachTheOptimum) {
  std::vector<double> x, w;
  for (int i = 0; i < 24; ++i) x.push_back(i);
  w.assign(x.size(), 1.0);
  for (int k = 2; k <= 24; ++k) {
    auto r = Kmeans1D(x, w, k);
    ASSERT_TRUE(r.ok());
    ExpectConsistent(*r, x, w, k);
    ExpectOptimal(r->sse, PlainDp(x, w, k));
  }
  // Three values, two clusters: {0}{1,2} and {0,1}{2} tie at 0.5.
  auto r = Kmeans1D(std::vector<double>{0, 1, 2}, std::vector<double>{1, 1, 1}, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->sse, 0.5);
}

TEST(Kmeans1D, FewerValuesThanClustersGivesEachItsOwnCentroid) {
  const std::vector<double> x = {-1.5, 0.25, 0.25, 3.0};
  const std::vector<double> w = {1, 2, 3, 4};
  auto r = Kmeans1D(x, w, 16);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->centroids, x);
  EXPECT_EQ(r->sse, 0.0);
}

TEST(Kmeans1D, WeightsMoveTheCentroid) {
  auto r = Kmeans1D(std::vector<double>{0, 1, 10}, std::vector<double>{1, 3, 1}, 2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->centroids.size(), 2u);
  EXPECT_DOUBLE_EQ(r->centroids[0], 0.75);  // (0*1 + 1*3) / 4
  EXPECT_DOUBLE_EQ(r->centroids[1], 10.0);
  EXPECT_DOUBLE_EQ(r->sse, 0.75);  // 1*0.75^2 + 3*0.25^2
}

TEST(Kmeans1D, RejectsBadInput) {
  const std::vector<double> ok_x = {0, 1, 2}, ok_w = {1, 1, 1};
  EXPECT_FALSE(Kmeans1D(std::vector<double>{}, std::vector<double>{}, 2).ok());
  EXPECT_FALSE(Kmeans1D(ok_x, std::vector<double>{1, 1}, 2).ok());
  EXPECT_FALSE(Kmeans1D(ok_x, ok_w, 0).ok());
  EXPECT_FALSE(Kmeans1D(std::vector<double>{2, 1, 0}, ok_w, 2).ok());
  EXPECT_FALSE(Kmeans1D(ok_x, std::vector<double>{1, 0, 1}, 2).ok());
  EXPECT_FALSE(Kmeans1D(ok_x, std::vector<double>{1, -1, 1}, 2).ok());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto r = Kmeans1D(std::vector<double>{0, nan, 2}, ok_w, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("finite"), std::string::npos);
}

// ---- Kmeans1D (Lagrangian search + banded DP) against the layered DP it replaces ----

// The two solvers must reach the same optimum: Kmeans1D's SSE within 1e-10 relative of the
// layered DP's, and never above it beyond 1e-12 relative (ties may pick other partitions).
void ExpectSameOptimum(const std::vector<double>& x, const std::vector<double>& w, int k,
                       Kmeans1DStats* stats = nullptr) {
  auto fast = Kmeans1D(x, w, k, stats);
  auto ref = Kmeans1DLayered(x, w, k);
  ASSERT_TRUE(fast.ok() && ref.ok());
  ExpectConsistent(*fast, x, w, k);
  ExpectConsistent(*ref, x, w, k);
  EXPECT_NEAR(fast->sse, ref->sse, 1e-10 * ref->sse + 1e-300) << "n " << x.size() << " k " << k;
  EXPECT_LE(fast->sse, ref->sse * (1 + 1e-12) + 1e-300) << "n " << x.size() << " k " << k;
}

// Distinct fp16 values with counts of a group of dequantized 4-bit blocks (16 levels min + d*q
// per block of 32, like GGUF Q4_1), the data that made the layered DP slow.
void MakeDequantizedHistogram(std::mt19937_64& rng, int blocks, std::vector<double>* x,
                              std::vector<double>* w) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::map<double, double> hist;
  for (int b = 0; b < blocks; ++b) {
    float v[32];
    for (float& e : v) e = normal(rng);
    const float lo = *std::min_element(v, v + 32), hi = *std::max_element(v, v + 32);
    const float d = HalfToFloat(FloatToHalf((hi - lo) / 15)), m = HalfToFloat(FloatToHalf(lo));
    for (float e : v) {
      const int q = std::clamp(static_cast<int>(std::lround((e - m) / d)), 0, 15);
      hist[HalfToFloat(FloatToHalf(m + d * static_cast<float>(q))) + 0.0] += 1;
    }
  }
  x->clear();
  w->clear();
  for (const auto& [value, count] : hist) {
    x->push_back(value);
    w->push_back(count);
  }
}

TEST(Kmeans1DFast, MatchesLayeredDpOnRandomInputs) {
  std::mt19937_64 rng(1313);
  std::uniform_int_distribution<int> size(2, 2500);
  const int ks[] = {2, 3, 4, 7, 8, 16, 32, 64, 100, 128, 256};
  std::cauchy_distribution<double> cauchy(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  int fast_paths = 0, bands = 0;
  for (int t = 0; t < 240; ++t) {
    std::vector<double> x, w;
    const int kind = t % 6;
    const int n = size(rng);
    if (kind == 0) MakeInput(rng, n, 0, false, &x, &w);         // Gaussian
    if (kind == 1) MakeInput(rng, n, 0, true, &x, &w);          // Gaussian, weighted
    if (kind == 2) MakeInput(rng, n, n / 3 + 2, true, &x, &w);  // duplicates, ties
    if (kind == 3) MakeDequantizedHistogram(rng, n / 8 + 1, &x, &w);
    if (kind == 4 || kind == 5) {  // heavy tails; uniform
      x.resize(n);
      w.assign(n, 1.0);
      for (double& v : x) v = kind == 4 ? cauchy(rng) : uniform(rng);
      std::sort(x.begin(), x.end());
    }
    const int k = ks[t % std::size(ks)];
    Kmeans1DStats stats;
    ExpectSameOptimum(x, w, k, &stats);
    fast_paths += !stats.layered && stats.penalized_solves > 0;
    bands += stats.band_gap > 0;
  }
  // Most cases take the new path, and the band DP runs in many of them.
  EXPECT_GT(fast_paths, 180);
  EXPECT_GT(bands, 40);
}

TEST(Kmeans1DFast, MatchesLayeredDpOnDequantizedGroupsAtLut4AndLut6) {
  std::mt19937_64 rng(77);
  int solves64 = 0, bands = 0, band_rows = 0, given_rows = 0;
  for (int t = 0; t < 12; ++t) {
    std::vector<double> x, w;
    MakeDequantizedHistogram(rng, 144 + 100 * t, &x, &w);  // 8 rows x 576 .. 1,7k columns
    for (int k : {16, 64}) {
      Kmeans1DStats stats;
      ExpectSameOptimum(x, w, k, &stats);
      EXPECT_FALSE(stats.layered);
      if (k == 64) solves64 += stats.penalized_solves;
      bands += stats.band_gap > 0;
      band_rows += stats.band_rows;
      given_rows += stats.band_rows_given;
      EXPECT_LE(stats.band_rows_given, stats.band_rows);
    }
  }
  // Band DP rows taken from the bounding penalised solution (those whose prefix solution has
  // the layer's count): about 1 / (gap + 1) of them, so the optimum above was checked with that
  // path in use.
  EXPECT_GE(bands, 6);
  EXPECT_GT(given_rows, band_rows / 5);
  // The first penalty (a Panter-Dite estimate per group) lands close enough to k = 64 that a
  // second solve is rarely needed: 12 solves for these 12 groups (the fixed A = 3.4 D(1) guess
  // it replaced needed 20 here, and fails this).
  EXPECT_LE(solves64, 14);
}

// Dequantized groups (found among 3,000 seeds, about 1 in 1,000) where a solve returns the count
// of the bracket's end on its side again: without moving that end to the new penalty, the
// interpolation repeated the same penalty until the 12-solve limit (55, 60, 67, then 67 nine
// times on one of SmolLM2's ffn_gate groups). With it, 4 solves each.
TEST(Kmeans1DFast, RepeatedCountMovesTheBracket) {
  for (const auto& [seed, blocks] : {std::pair{149, 244}, {2080, 144}, {2579, 444}}) {
    std::mt19937_64 rng(seed);
    std::vector<double> x, w;
    MakeDequantizedHistogram(rng, blocks, &x, &w);
    Kmeans1DStats stats;
    ExpectSameOptimum(x, w, 64, &stats);
    EXPECT_LE(stats.penalized_solves, 5) << "seed " << seed;
  }
}

TEST(Kmeans1DFast, AdversarialInputs) {
  std::mt19937_64 rng(5);
  // All equal (every partition ties at SSE 0; the search cannot bracket k and falls back).
  {
    std::vector<double> x(50, 0.25), w(50, 1.0);
    Kmeans1DStats stats;
    ExpectSameOptimum(x, w, 4, &stats);
    EXPECT_TRUE(stats.layered);
  }
  // Fewer distinct values than clusters, but more items: equal values must be split.
  {
    std::vector<double> x = {1, 1, 1, 2, 2, 3, 3, 3, 3}, w(9, 1.0);
    for (int k = 1; k <= 9; ++k) ExpectSameOptimum(x, w, k);
  }
  // Equally spaced values with equal weights: many exactly tied partitions.
  for (int n : {17, 64, 65, 255, 1000}) {
    std::vector<double> x(n), w(n, 1.0);
    for (int i = 0; i < n; ++i) x[i] = i;
    for (int k : {2, 3, 16, 64}) ExpectSameOptimum(x, w, k);
  }
  // Tiny groups and k >= n.
  for (int n = 1; n <= 6; ++n) {
    std::vector<double> x, w;
    MakeInput(rng, n, 0, true, &x, &w);
    for (int k = 1; k <= 8; ++k) ExpectSameOptimum(x, w, k);
  }
  // Two far-apart tight clumps and one outlier: the first penalty guess is far too large
  // (one long cluster per clump): the row scans stop at their budget (k >= 128, short mean
  // clusters) and the search solves again with a smaller one.
  {
    std::vector<double> x, w;
    std::normal_distribution<double> clump(0.0, 1e-3);
    for (int i = 0; i < 1500; ++i) x.push_back(clump(rng));
    for (int i = 0; i < 1500; ++i) x.push_back(1 + clump(rng));
    x.push_back(30);
    std::sort(x.begin(), x.end());
    w.assign(x.size(), 1.0);
    for (int k : {3, 4, 16, 64, 128, 256}) ExpectSameOptimum(x, w, k);
  }
  // One huge weight among small ones; weights spanning 12 orders of magnitude.
  {
    std::vector<double> x, w;
    MakeInput(rng, 800, 0, false, &x, &w);
    w[400] = 1e9;
    for (int k : {4, 16, 64}) ExpectSameOptimum(x, w, k);
    std::uniform_real_distribution<double> exponent(-6, 6);
    for (double& v : w) v = std::pow(10.0, exponent(rng));
    for (int k : {4, 16, 64}) ExpectSameOptimum(x, w, k);
  }
  // Long mean clusters (n / k > 768) go to the layered DP directly.
  {
    std::vector<double> x, w;
    MakeInput(rng, 3200, 0, false, &x, &w);
    Kmeans1DStats stats;
    ExpectSameOptimum(x, w, 4, &stats);
    EXPECT_TRUE(stats.layered);
    EXPECT_EQ(stats.penalized_solves, 0);
  }
}

// Long mean clusters (n / k up to ~700, below the layered cut-off) and mixed densities: a new
// candidate's takeover end is then often far past the last candidate's first end, so the
// penalised solve's queue gallops and bisects instead of settling within its first 8 ends, and
// some candidates never win. Tiny n reaches the ends where fewer than 4 remain.
TEST(Kmeans1DFast, PenalisedQueueWithFarCrossoversAndShortTails) {
  std::mt19937_64 rng(4242);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int t = 0; t < 8; ++t) {
    std::vector<double> x, w;
    const int n = 1500 + 200 * t;
    for (int i = 0; i < n; ++i) {
      // Dense core, a sparse shoulder and a few far outliers, weights 1..50.
      const int part = i % 10;
      const double v = part < 7   ? 0.01 * normal(rng)
                       : part < 9 ? 0.5 * normal(rng)
                                  : 20 * normal(rng);
      x.push_back(v);
    }
    std::sort(x.begin(), x.end());
    std::uniform_int_distribution<int> count(1, 50);
    for (int i = 0; i < n; ++i) w.push_back(count(rng));
    for (int k : {4, 5, 8, 12}) {
      Kmeans1DStats stats;
      ExpectSameOptimum(x, w, k, &stats);
      EXPECT_FALSE(stats.layered) << "n " << n << " k " << k;
      EXPECT_GT(stats.penalized_solves, 0);
    }
  }
  for (int n = 7; n <= 14; ++n) {
    std::vector<double> x, w;
    MakeInput(rng, n, 0, true, &x, &w);
    for (int k = 2; k < n; ++k) ExpectSameOptimum(x, w, k);
  }
}

// The palettized fp16 table built from Kmeans1D (Palettize: rounded centroids, nearest entry per
// value) is never worse than the same construction from the layered DP's partition.
TEST(Kmeans1DFast, PalettizedErrorNoHigherThanFromLayeredDp) {
  std::mt19937_64 rng(2024);
  for (int t = 0; t < 10; ++t) {
    std::vector<double> x, w;
    MakeDequantizedHistogram(rng, 144, &x, &w);
    for (int k : {16, 64}) {
      auto ref = Kmeans1DLayered(x, w, k);
      auto fast = Kmeans1D(x, w, k);
      ASSERT_TRUE(ref.ok() && fast.ok());
      auto fp16_sse = [&](const Kmeans1DResult& r) {
        std::vector<double> table;
        for (double c : r.centroids) table.push_back(HalfToFloat(DoubleToHalf(c)));
        long double sse = 0;
        for (size_t i = 0; i < x.size(); ++i) {
          double best = std::numeric_limits<double>::infinity();
          for (double e : table) best = std::min(best, (x[i] - e) * (x[i] - e));
          sse += w[i] * best;
        }
        return static_cast<double>(sse);
      };
      EXPECT_LE(fp16_sse(*fast), fp16_sse(*ref) * (1 + 1e-9)) << "k " << k;
    }
  }
}

}  // namespace
}  // namespace anec::quant
