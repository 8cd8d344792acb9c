#include "quant/kmeans_1d_penalized.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace anec::quant::kmeans_internal {
namespace {

// SSE + lambda * clusters of a partition, summed directly in long double.
long double PenalisedObjective(const std::vector<double>& x, const std::vector<double>& w,
                               const std::vector<int32_t>& begin, double lambda) {
  long double total = 0;
  for (size_t c = 0; c < begin.size(); ++c) {
    const size_t b = begin[c], e = c + 1 < begin.size() ? begin[c + 1] : x.size();
    long double sw = 0, swx = 0;
    for (size_t i = b; i < e; ++i) {
      sw += w[i];
      swx += static_cast<long double>(w[i]) * x[i];
    }
    const long double mean = swx / sw;
    for (size_t i = b; i < e; ++i) total += w[i] * (x[i] - mean) * (x[i] - mean);
    total += lambda;
  }
  return total;
}

// The queue and the scans solve the same penalised problem: same objective to rounding, and on
// these inputs (no exact ties) the same partition. Penalties from a few to a few hundred clusters
// reach the queue's vector probes, its galloping (long clusters) and its short tails (the last
// ends of small inputs).
TEST(Kmeans1DPenalized, QueueMatchesScans) {
  std::mt19937_64 rng(99);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> weight(0.5, 20.0);
  int compared = 0;
  for (int n : {2, 3, 5, 9, 40, 300, 2000}) {
    std::vector<double> x(n), w(n);
    for (int i = 0; i < n; ++i) {
      x[i] = i % 5 == 0 ? 10 * normal(rng) : normal(rng);  // mixed densities
      w[i] = weight(rng);
    }
    std::sort(x.begin(), x.end());
    const PrefixSums p = BuildPrefixSums(x, w);
    const double total = p.s2[n] - p.s1[n] * p.s1[n] / p.w[n];
    for (double clusters : {1.5, 4.0, 16.0, 64.0, 300.0}) {
      const double lambda = 6.75 * total / (clusters * clusters * clusters);
      std::vector<double> a(n + 1), f(n + 1), a2(n + 1);
      std::vector<int32_t> arg(n + 1), arg2(n + 1), qc(n + 2), qs(n + 2), by_scans, by_queue;
      ASSERT_TRUE(SolvePenalizedByScans(p, n, lambda, int64_t{1} << 40, a.data(), f.data(),
                                        arg.data(), by_scans));
      SolvePenalizedByQueue(p, n, lambda, a2.data(), arg2.data(), qc.data(), qs.data(), by_queue);
      ASSERT_FALSE(by_queue.empty());
      EXPECT_EQ(by_queue.front(), 0);
      EXPECT_TRUE(std::is_sorted(by_queue.begin(), by_queue.end()));
      const long double want = PenalisedObjective(x, w, by_scans, lambda);
      const long double got = PenalisedObjective(x, w, by_queue, lambda);
      EXPECT_NEAR(static_cast<double>(got), static_cast<double>(want),
                  1e-12 * static_cast<double>(want))
          << "n " << n << " clusters " << clusters;
      EXPECT_EQ(by_queue, by_scans) << "n " << n << " clusters " << clusters;
      EXPECT_EQ(a2[n], a[n]) << "n " << n << " clusters " << clusters;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 35);
}

// The cut in ScanRowPruned (tested every 12 candidates in its vector loop, then every 4, then per
// candidate) changes nothing: on every row of a penalised solve, scanned from the previous row's
// argmin as the solve does and from 0 (the longest rows, where the cut ends most scans), the
// value and the argmin are bit for bit those of the full scan, ScanRow. Row lengths 1 to ~n cover
// the vector loop's blocks of 12, its tail of 4 and the scalar tail.
TEST(Kmeans1DPenalized, PrunedScanMatchesFullScan) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> weight(0.5, 20.0);
  const int n = 600;
  std::vector<double> x(n), w(n);
  for (int i = 0; i < n; ++i) {
    x[i] = i % 7 == 0 ? 8 * normal(rng) : normal(rng);
    w[i] = weight(rng);
  }
  std::sort(x.begin(), x.end());
  const PrefixSums p = BuildPrefixSums(x, w);
  const double total = p.s2[n] - p.s1[n] * p.s1[n] / p.w[n];
  int64_t rows = 0, cut = 0;
  for (double clusters : {3.0, 12.0, 25.0, 60.0}) {
    const double lambda = 6.75 * total / (clusters * clusters * clusters);
    std::vector<double> a(n + 1), f(n + 1);
    std::vector<int32_t> arg(n + 1), begin;
    ASSERT_TRUE(SolvePenalizedByScans(p, n, lambda, int64_t{1} << 40, a.data(), f.data(),
                                      arg.data(), begin));
    for (int32_t i = 1; i <= n; ++i) {
      for (int32_t jlo : {arg[i - 1], int32_t{0}}) {
        const RowMin full = ScanRow(a.data(), p.s1.data(), p.w.data(), p.s1[i], p.w[i], jlo, i - 1);
        const RowMin pruned = ScanRowPruned(a.data(), f.data(), p.s1.data(), p.w.data(), p.s1[i],
                                            p.w[i], p.s2[i], jlo, i - 1);
        ASSERT_EQ(pruned.arg, full.arg) << "clusters " << clusters << " i " << i << " jlo " << jlo;
        ASSERT_EQ(pruned.value, full.value) << "clusters " << clusters << " i " << i;
        ++rows;
        // Rows whose last candidate is far from the argmin: the cut must have ended the scan.
        cut += i - 1 - full.arg > 24;
      }
    }
  }
  EXPECT_EQ(rows, 4 * 2 * n);
  EXPECT_GT(cut, n);  // long rows with the cut's work to do were among them
}

// SolvePenalizedByScans scans row i from opt(i-2) and again from opt(i-1) when the argmin
// found lies before it: bit for bit the chain of scans from opt(i-1). On sorted values (argmins
// monotone) the second scan is never needed; on unsorted ones the penalised DP is still defined
// (F nondecreasing, so ScanRowPruned's cut holds), but its argmins are not monotone, and many
// rows need the second scan: without it this test fails.
TEST(Kmeans1DPenalized, ScansFromTwoRowsBackMatchTheChain) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> weight(0.5, 20.0);
  const int n = 700;
  for (const bool sorted : {true, false}) {
    std::vector<double> x(n), w(n);
    for (int i = 0; i < n; ++i) {
      x[i] = normal(rng);
      w[i] = weight(rng);
    }
    if (sorted) std::sort(x.begin(), x.end());
    const PrefixSums p = BuildPrefixSums(x, w);
    const double total = p.s2[n] - p.s1[n] * p.s1[n] / p.w[n];
    int64_t rescanned = 0;
    for (double clusters : {4.0, 20.0, 60.0}) {
      const double lambda = 6.75 * total / (clusters * clusters * clusters);
      std::vector<double> a(n + 1), f(n + 1), want_a(n + 1), want_f(n + 1);
      std::vector<int32_t> arg(n + 1), want_arg(n + 1), begin;
      ASSERT_TRUE(SolvePenalizedByScans(p, n, lambda, int64_t{1} << 40, a.data(), f.data(),
                                        arg.data(), begin));
      want_a[0] = want_f[0] = 0;
      want_arg[0] = 0;
      for (int32_t i = 1; i <= n; ++i) {
        const int32_t lo = want_arg[i - 1], lo_before = i >= 2 ? want_arg[i - 2] : 0;
        const RowMin r = ScanRowPruned(want_a.data(), want_f.data(), p.s1.data(), p.w.data(),
                                       p.s1[i], p.w[i], p.s2[i], lo, i - 1);
        const RowMin wide =
            ScanRow(want_a.data(), p.s1.data(), p.w.data(), p.s1[i], p.w[i], lo_before, i - 1);
        rescanned += wide.arg < lo;
        want_a[i] = r.value + lambda;
        want_f[i] = want_a[i] + p.s2[i];
        want_arg[i] = r.arg;
      }
      for (int32_t i = 1; i <= n; ++i) {
        ASSERT_EQ(arg[i], want_arg[i])
            << "sorted " << sorted << " clusters " << clusters << " i " << i;
        ASSERT_EQ(a[i], want_a[i]) << "sorted " << sorted << " clusters " << clusters << " i " << i;
      }
    }
    if (sorted) {
      EXPECT_EQ(rescanned, 0);
    } else {
      EXPECT_GT(rescanned, 10);
    }
  }
}

}  // namespace
}  // namespace anec::quant::kmeans_internal
