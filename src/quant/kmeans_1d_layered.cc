// The layered exact DP (see Kmeans1DLayered in kmeans_1d.h): every layer m = 2..k of
// D_m(i) = min_j D_{m-1}(j) + cost(j, i), by divide and conquer or Knuth's bounds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "quant/kmeans_1d.h"
#include "quant/kmeans_1d_internal.h"

namespace anec::quant {
namespace {

using kmeans_internal::PrefixSums;
using kmeans_internal::RowMin;
using kmeans_internal::ScanRow;

// Knuth layers are used while they scan fewer than this many times the cells that divide and
// conquer scanned (see OptimalBoundaries).
constexpr int64_t kKnuthFactor = 4;

// The layered DP; Index is the storage type of the split-point table.
template <typename Index>
ANEC_INLINE std::vector<int32_t> OptimalBoundaries(const PrefixSums& p, int32_t n, int32_t k) {
  const int32_t width = n - k + 1;  // prefixes i in [m, n - k + m] matter for layer m
  std::vector<Index> opt(static_cast<size_t>(k - 1) * width);  // layers 2..k
  auto opt_at = [&](int32_t m, int32_t i) ANEC_INLINE_LAMBDA -> Index& {
    return opt[static_cast<size_t>(m - 2) * width + (i - m)];
  };
  const double* w = p.w.data();
  const double* s1 = p.s1.data();
  const double* s2 = p.s2.data();

  std::vector<double> prev(n + 1), cur(n + 1), a(n + 1);
  for (int32_t i = 1; i <= width; ++i) {  // layer 1: one cluster over [0, i)
    prev[i] = s2[i] - s1[i] * s1[i] / w[i];
  }
  // Split point of layer m-1 at prefix i (clamped to the range that layer computed).
  auto prev_opt = [&](int32_t m, int32_t i) ANEC_INLINE_LAMBDA -> int32_t {
    if (m - 1 == 1) return 0;
    return static_cast<int32_t>(opt_at(m - 1, std::min(i, n - k + m - 1)));
  };

  bool use_knuth = false;
  int64_t last_dc_evals = 0;
  struct Span {
    int32_t lo, hi, opt_lo, opt_hi;
  };
  std::vector<Span> stack;
  for (int32_t m = 2; m <= k; ++m) {
    const int32_t lo = (m == k) ? n : m;
    const int32_t hi = n - k + m;
    for (int32_t j = m - 1; j <= hi - 1; ++j) a[j] = prev[j] - s2[j];
    auto solve = [&](int32_t i, int32_t jlo, int32_t jhi) ANEC_INLINE_LAMBDA {
      jlo = std::max(jlo, m - 1);
      jhi = std::min(jhi, i - 1);
      if (jlo > jhi) jlo = jhi;  // only reachable through rounding ties; stay in range
      const RowMin r = ScanRow(a.data(), s1, w, s1[i], w[i], jlo, jhi);
      cur[i] = r.value + s2[i];
      opt_at(m, i) = static_cast<Index>(r.arg);
      return r.arg;
    };
    // Knuth's scans are not bounded by O(n log n) per layer in theory, so a Knuth layer that
    // scans more than kKnuthFactor x the last divide-and-conquer layer is abandoned and redone by
    // divide and conquer: every layer then costs O(n log n), and the whole DP O(k n log n).
    bool solved = false;
    if (lo == hi) {
      solve(lo, prev_opt(m, lo), lo - 1);
      solved = true;
    } else if (use_knuth) {
      int64_t evals = 0;
      const int64_t budget = kKnuthFactor * last_dc_evals;
      // solve() and prev_opt() spelled out with row pointers, and the upper bound (the split just
      // found for row i + 1) kept in a register: this loop is most of the DP's time.
      // opt_m[i - m] is opt_m(i); opt_prev[i - (m-1)] is opt_{m-1}(i).
      Index* opt_m = &opt_at(m, m);
      const Index* opt_prev = m > 2 ? &opt_at(m - 1, m - 1) : nullptr;
      int32_t upper = hi - 1;
      int32_t i = hi;
      for (; i >= lo && evals <= budget; --i) {
        int32_t jlo = m - 1;
        if (m > 2) jlo = std::max<int32_t>(jlo, opt_prev[std::min(i, hi - 1) - (m - 1)]);
        const int32_t jhi = std::min(upper, i - 1);
        evals += std::max(1, jhi - jlo + 1);
        if (jlo > jhi) jlo = jhi;  // only reachable through rounding ties; stay in range
        const RowMin r = ScanRow(a.data(), s1, w, s1[i], w[i], jlo, jhi);
        cur[i] = r.value + s2[i];
        opt_m[i - m] = static_cast<Index>(r.arg);
        upper = r.arg;
      }
      solved = i < lo;
    }
    if (!solved) {
      int64_t dc_evals = 0;
      stack.clear();
      stack.push_back({lo, hi, m - 1, hi - 1});
      while (!stack.empty()) {
        const Span s = stack.back();
        stack.pop_back();
        const int32_t mid = s.lo + (s.hi - s.lo) / 2;
        const int32_t jlo = std::max(s.opt_lo, prev_opt(m, mid));
        const int32_t jhi = std::min(s.opt_hi, mid - 1);
        dc_evals += std::max(1, jhi - jlo + 1);
        const int32_t j = solve(mid, jlo, jhi);
        if (s.lo < mid) stack.push_back({s.lo, mid - 1, s.opt_lo, j});
        if (mid < s.hi) stack.push_back({mid + 1, s.hi, j, s.opt_hi});
      }
      last_dc_evals = dc_evals;
      // What Knuth's bounds would have scanned for this layer. Both counts usually shrink as m
      // grows. A Knuth step costs less than a divide-and-conquer step (no stack, wider and so
      // vectorised scans): the factor was measured on Llama-like weight groups. It only moves
      // the switch point; the choice is deterministic and depends on the data only.
      int64_t knuth_evals = 0;
      for (int32_t i = lo; i <= hi; ++i) {
        const int32_t upper = i == hi ? i - 1 : std::min<int32_t>(opt_at(m, i + 1), i - 1);
        knuth_evals += std::max(1, upper - std::max(m - 1, prev_opt(m, i)) + 1);
      }
      use_knuth = knuth_evals < kKnuthFactor * dc_evals;
    }
    std::swap(prev, cur);
  }

  std::vector<int32_t> begin(k);
  int32_t i = n;
  for (int32_t m = k; m >= 2; --m) {
    i = static_cast<int32_t>(opt_at(m, i));
    begin[m - 1] = i;
  }
  begin[0] = 0;
  return begin;
}

ANEC_DP_CLONES std::vector<int32_t> Boundaries16(const PrefixSums& p, int32_t n, int32_t k) {
  return OptimalBoundaries<uint16_t>(p, n, k);
}
ANEC_DP_CLONES std::vector<int32_t> Boundaries32(const PrefixSums& p, int32_t n, int32_t k) {
  return OptimalBoundaries<int32_t>(p, n, k);
}

}  // namespace

Result<Kmeans1DResult> Kmeans1DLayered(std::span<const double> values,
                                       std::span<const double> weights, int k) {
  ANEC_RETURN_IF_ERROR(kmeans_internal::ValidateInput(values, weights, k, "Kmeans1DLayered"));
  const int32_t n = static_cast<int32_t>(values.size());
  const int32_t clusters = std::min<int32_t>(k, n);
  std::vector<int32_t> begin;
  if (clusters == n) {
    begin.resize(n);
    for (int32_t i = 0; i < n; ++i) begin[i] = i;
  } else if (clusters == 1) {
    begin = {0};
  } else {
    const PrefixSums p = kmeans_internal::BuildPrefixSums(values, weights);
    begin = n < 65535 ? Boundaries16(p, n, clusters) : Boundaries32(p, n, clusters);
  }
  return kmeans_internal::ResultFromBoundaries(values, weights, std::move(begin));
}

}  // namespace anec::quant
