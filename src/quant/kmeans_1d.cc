#include "quant/kmeans_1d.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace anec::quant {
namespace {

// Knuth layers are used while they scan fewer than this many times the cells that divide and
// conquer scanned (see OptimalBoundaries).
constexpr int64_t kKnuthFactor = 4;

// Prefix sums over the first i values (i = 0..n) of w, w*x, w*x^2 with x centred on the weighted
// mean, so that cluster costs S2 - S1^2/W cancel as little as possible.
struct PrefixSums {
  std::vector<double> w, s1, s2;
};

PrefixSums BuildPrefixSums(std::span<const double> x, std::span<const double> w) {
  const size_t n = x.size();
  long double tw = 0, twx = 0;
  for (size_t i = 0; i < n; ++i) {
    tw += w[i];
    twx += static_cast<long double>(w[i]) * x[i];
  }
  const long double centre = twx / tw;
  PrefixSums p;
  p.w.resize(n + 1);
  p.s1.resize(n + 1);
  p.s2.resize(n + 1);
  long double aw = 0, a1 = 0, a2 = 0;
  p.w[0] = p.s1[0] = p.s2[0] = 0;
  for (size_t i = 0; i < n; ++i) {
    const long double xc = static_cast<long double>(x[i]) - centre;
    aw += w[i];
    a1 += w[i] * xc;
    a2 += w[i] * xc * xc;
    p.w[i + 1] = static_cast<double>(aw);
    p.s1[i + 1] = static_cast<double>(a1);
    p.s2[i + 1] = static_cast<double>(a2);
  }
  return p;
}

// Row minimum of the DP for one prefix end i: min over j in [jlo, jhi] of
// a[j] - (s1i - s1[j])^2 / (wi - w[j]) with a[j] = D_{m-1}(j) - S2(j). Leftmost argmin, so that
// the split points stay monotone when costs tie.
struct RowMin {
  double value;
  int32_t arg;
};

#if defined(__GNUC__)
// Everything on the DP's hot path is inlined into each target clone of Boundaries16/32 below.
#define ANEC_INLINE inline __attribute__((always_inline))
#define ANEC_INLINE_LAMBDA __attribute__((always_inline))
#else
#define ANEC_INLINE inline
#define ANEC_INLINE_LAMBDA
#endif

ANEC_INLINE RowMin ScanRow(const double* a, const double* s1, const double* w, double s1i,
                           double wi, int32_t jlo, int32_t jhi) {
  double best = std::numeric_limits<double>::infinity();
  int32_t best_j = jlo;
  int32_t j = jlo;
#if defined(__GNUC__) && !defined(__clang__)  // GCC vector extensions, incl. ?: on vectors
  // Four lanes, each keeping its own leftmost minimum; the reduction below then returns exactly
  // the scalar loop's answer (same IEEE operations per element, no contraction possible in
  // a - d*d/(x - y)). Short scans stay scalar: there the loop's latency, not its width, counts.
  if (jhi - jlo + 1 >= 8) {
    typedef double V __attribute__((vector_size(32)));
    typedef int64_t I __attribute__((vector_size(32)));
    const double inf = std::numeric_limits<double>::infinity();
    V vbest = {inf, inf, inf, inf};
    I vidx = {0, 0, 0, 0};
    I vj = {j, j + 1, j + 2, j + 3};
    const I four = {4, 4, 4, 4};
    const V vs1i = {s1i, s1i, s1i, s1i}, vwi = {wi, wi, wi, wi};
    for (; j + 3 <= jhi; j += 4) {
      V va, vs1, vw;
      std::memcpy(&va, a + j, sizeof(V));
      std::memcpy(&vs1, s1 + j, sizeof(V));
      std::memcpy(&vw, w + j, sizeof(V));
      const V d1 = vs1i - vs1;
      const V v = va - d1 * d1 / (vwi - vw);
      const I lt = v < vbest;
      vbest = lt ? v : vbest;
      vidx = lt ? vj : vidx;
      vj += four;
    }
    for (int l = 0; l < 4; ++l) {
      if (vbest[l] < best || (vbest[l] == best && vidx[l] < best_j)) {
        best = vbest[l];
        best_j = static_cast<int32_t>(vidx[l]);
      }
    }
  }
#endif
  for (; j <= jhi; ++j) {
    const double d1 = s1i - s1[j];
    const double v = a[j] - d1 * d1 / (wi - w[j]);
    if (v < best) {
      best = v;
      best_j = j;
    }
  }
  return {best, best_j};
}

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

// Compiled twice on x86-64 (AVX2 and baseline) and picked at load time; both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ANEC_DP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ANEC_DP_CLONES
#endif
ANEC_DP_CLONES std::vector<int32_t> Boundaries16(const PrefixSums& p, int32_t n, int32_t k) {
  return OptimalBoundaries<uint16_t>(p, n, k);
}
ANEC_DP_CLONES std::vector<int32_t> Boundaries32(const PrefixSums& p, int32_t n, int32_t k) {
  return OptimalBoundaries<int32_t>(p, n, k);
}

}  // namespace

Result<Kmeans1DResult> Kmeans1D(std::span<const double> values, std::span<const double> weights,
                                int k) {
  const size_t n = values.size();
  if (n == 0 || n >= (size_t{1} << 31)) {
    return InvalidArgument("Kmeans1D: expected 1 to 2^31-1 values, got {}", n);
  }
  if (weights.size() != n) {
    return InvalidArgument("Kmeans1D: {} values but {} weights; pass one weight per value", n,
                           weights.size());
  }
  if (k < 1 || k > 65536) return InvalidArgument("Kmeans1D: k must be in [1, 65536], got {}", k);
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) {
      return InvalidArgument("Kmeans1D: value {} is {}; values must be finite", i, values[i]);
    }
    if (i > 0 && values[i] < values[i - 1]) {
      return InvalidArgument(
          "Kmeans1D: values must be sorted ascending, but value {} ({}) < "
          "value {} ({})",
          i, values[i], i - 1, values[i - 1]);
    }
    if (!(weights[i] > 0) || !std::isfinite(weights[i])) {
      return InvalidArgument("Kmeans1D: weight {} is {}; weights must be finite and > 0", i,
                             weights[i]);
    }
  }

  const int32_t nn = static_cast<int32_t>(n);
  const int32_t clusters = std::min<int32_t>(k, nn);
  Kmeans1DResult out;
  if (clusters == nn) {
    out.cluster_begin.resize(n);
    for (int32_t i = 0; i < nn; ++i) out.cluster_begin[i] = i;
  } else if (clusters == 1) {
    out.cluster_begin = {0};
  } else {
    const PrefixSums p = BuildPrefixSums(values, weights);
    out.cluster_begin = n < 65535 ? Boundaries16(p, nn, clusters) : Boundaries32(p, nn, clusters);
  }

  out.centroids.resize(out.cluster_begin.size());
  long double sse = 0;
  for (size_t c = 0; c < out.cluster_begin.size(); ++c) {
    const size_t b = out.cluster_begin[c];
    const size_t e = c + 1 < out.cluster_begin.size() ? out.cluster_begin[c + 1] : n;
    long double sw = 0, swx = 0;
    for (size_t i = b; i < e; ++i) {
      sw += weights[i];
      swx += static_cast<long double>(weights[i]) * values[i];
    }
    const long double mean = swx / sw;
    out.centroids[c] = static_cast<double>(mean);
    for (size_t i = b; i < e; ++i) {
      const long double d = values[i] - mean;
      sse += weights[i] * d * d;
    }
  }
  out.sse = static_cast<double>(sse);
  return out;
}

}  // namespace anec::quant
