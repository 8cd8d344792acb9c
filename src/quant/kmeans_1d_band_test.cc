#include "quant/kmeans_1d_band.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace anec::quant::kmeans_internal {
namespace {

// SweepSpan (four rows per vector, then a monotonicity check) gives bit for bit the answers of
// the row-by-row chain it replaces: row i the leftmost minimum of ScanRow over
// [opt(i-1), min(opt_hi, i-1)]. With prefix sums of sorted values the matrix is Monge whatever
// the column term a (the vector path's answers are monotone); of unsorted values it is not, and
// the wide ranges of the vector path answer differently on many rows (the fallback must redo
// them). Spans of 1 to 13 rows with 1 to 25 candidates (kSweepMaxCandidates), some ending at n
// (the scalar tail).
TEST(Kmeans1DBand, SweepSpanMatchesRowByRowScans) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> weight(0.5, 20.0);
  const int32_t n = 200;
  for (const bool sorted : {true, false}) {
    std::vector<double> x(n), w(n);
    for (int32_t i = 0; i < n; ++i) {
      x[i] = normal(rng);
      w[i] = weight(rng);
    }
    if (sorted) std::sort(x.begin(), x.end());
    const PrefixSums p = BuildPrefixSums(x, w);
    std::vector<double> a(n + 1);
    for (int32_t j = 0; j <= n; ++j) {
      a[j] = j == 0 ? 0 : -p.s1[j] * p.s1[j] / p.w[j] + normal(rng);
    }
    int wide_differs = 0;  // rows whose minimum over [opt_lo, ...] is elsewhere
    for (int trial = 0; trial < 3000; ++trial) {
      const int32_t rows = 1 + static_cast<int32_t>(rng() % 13);
      const int32_t cands = 1 + static_cast<int32_t>(rng() % 25);
      const int32_t hi = trial % 5 == 0 ? n : 20 + static_cast<int32_t>(rng() % (n - 20));
      const int32_t lo = std::max(hi - rows + 1, 2);
      const int32_t opt_lo = std::max(0, lo - 1 - static_cast<int32_t>(rng() % 30));
      const int32_t opt_hi = opt_lo + cands - 1;
      std::vector<double> want_v(n + 1, -1), got_v(n + 1, -1);
      std::vector<int32_t> want_j(n + 1, -1), got_j(n + 1, -1);
      int32_t from = opt_lo;
      for (int32_t i = lo; i <= hi; ++i) {
        const int32_t jhi = std::min(opt_hi, i - 1);
        const RowMin r =
            ScanRow(a.data(), p.s1.data(), p.w.data(), p.s1[i], p.w[i], std::min(from, jhi), jhi);
        const RowMin wide =
            ScanRow(a.data(), p.s1.data(), p.w.data(), p.s1[i], p.w[i], opt_lo, jhi);
        wide_differs += wide.arg != r.arg;
        want_v[i] = r.value;
        want_j[i] = r.arg;
        from = r.arg;
      }
      SweepSpan(a.data(), p.s1.data(), p.w.data(), n, lo, hi, opt_lo, opt_hi, got_v.data(),
                got_j.data());
      for (int32_t i = 0; i <= n; ++i) {
        ASSERT_EQ(got_j[i], want_j[i]) << "row " << i << " of [" << lo << ", " << hi << "]";
        ASSERT_EQ(got_v[i], want_v[i]) << "row " << i << " of [" << lo << ", " << hi << "]";
      }
    }
    if (sorted) {
      EXPECT_EQ(wide_differs, 0);
    } else {
      EXPECT_GT(wide_differs, 1000);
    }
  }
}

}  // namespace
}  // namespace anec::quant::kmeans_internal
