// Internals shared by the two exact 1-D k-means solvers (kmeans_1d.cc, kmeans_1d_layered.cc):
// prefix sums, the vectorised row minimum, input checks and the result built from a partition.
// Not part of the quant API.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "base/status.h"
#include "quant/kmeans_1d.h"

namespace anec::quant::kmeans_internal {

#if defined(__GNUC__)
// Everything on the DP's hot path is inlined into each target clone of Boundaries16/32 below.
#define ANEC_INLINE inline __attribute__((always_inline))
#define ANEC_INLINE_LAMBDA __attribute__((always_inline))
#define ANEC_NOINLINE inline __attribute__((noinline))
#else
#define ANEC_INLINE inline
#define ANEC_INLINE_LAMBDA
#define ANEC_NOINLINE inline
#endif

// Prefix sums over the first i values (i = 0..n) of w, w*x, w*x^2 with x centred on the weighted
// mean, so that cluster costs S2 - S1^2/W cancel as little as possible.
struct PrefixSums {
  std::vector<double> w, s1, s2;
};

// The weighted mean, summed in long double. A function of its own, never inlined: inlined into
// its callers, GCC kept these two sums in memory (an 80-bit store and reload per value on each
// add chain: 30 instead of 13-15 TSC cycles per value for the prefix sums, ~6% of Kmeans1D on
// SmolLM2's groups); alone, they stay in x87 registers. Same operations in the same order either
// way, so the same bits.
ANEC_NOINLINE long double WeightedMean(std::span<const double> x, std::span<const double> w) {
  long double tw = 0, twx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    tw += w[i];
    twx += static_cast<long double>(w[i]) * x[i];
  }
  return twx / tw;
}

inline PrefixSums BuildPrefixSums(std::span<const double> x, std::span<const double> w) {
  const size_t n = x.size();
  const long double centre = WeightedMean(x, w);
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

#if defined(__GNUC__) && !defined(__clang__)
// Four lanes of candidate values and their indices (GCC vector extensions).
typedef double Lanes4d __attribute__((vector_size(32)));
typedef int64_t Lanes4i __attribute__((vector_size(32)));

// The minimum of four lanes, ties to the smaller index, value and index from the same lane: by
// shuffles, no branch on the values (a loop over the lanes mispredicted about once a row).
// Shared by ScanRow and ScanRowPruned.
ANEC_INLINE RowMin LeftmostMinOfLanes(Lanes4d vbest, Lanes4i vidx) {
  for (const Lanes4i perm : {Lanes4i{1, 0, 3, 2}, Lanes4i{2, 3, 0, 1}}) {
    const Lanes4d ob = __builtin_shuffle(vbest, perm);
    const Lanes4i oi = __builtin_shuffle(vidx, perm);
    const Lanes4i take = (ob < vbest) | ((ob == vbest) & (oi < vidx));
    vbest = take ? ob : vbest;
    vidx = take ? oi : vidx;
  }
  return {vbest[0], static_cast<int32_t>(vidx[0])};
}
#endif

ANEC_INLINE RowMin ScanRow(const double* a, const double* s1, const double* w, double s1i,
                           double wi, int32_t jlo, int32_t jhi) {
#if defined(__GNUC__) && !defined(__clang__)  // GCC vector extensions, incl. ?: on vectors
  // Four lanes, each keeping its own leftmost minimum; the reduction below then returns exactly
  // the scalar loop's answer (same IEEE operations per element, no contraction possible in
  // a - d*d/(x - y)). From 4 candidates on, no branch depends on the values: the last partial
  // vector is replaced by one ending at jhi (overlapping the previous; in each lane the indices
  // still increase, so strict < keeps each lane's leftmost), and the lanes are reduced by
  // shuffles (the minimum, ties to the smaller index, value and index from the same lane). The
  // band DP's rows mostly scan 4-30 candidates, where the scalar tail's and the reduction's
  // mispredicted branches cost more than the evaluations.
  if (jhi - jlo + 1 >= 4) {
    typedef double V __attribute__((vector_size(32)));
    typedef int64_t I __attribute__((vector_size(32)));
    const double inf = std::numeric_limits<double>::infinity();
    V vbest = {inf, inf, inf, inf};
    I vidx = {0, 0, 0, 0};
    const I lane = {0, 1, 2, 3};
    const V vs1i = {s1i, s1i, s1i, s1i}, vwi = {wi, wi, wi, wi};
    auto step = [&](int32_t j) ANEC_INLINE_LAMBDA {
      V va, vs1, vw;
      std::memcpy(&va, a + j, sizeof(V));
      std::memcpy(&vs1, s1 + j, sizeof(V));
      std::memcpy(&vw, w + j, sizeof(V));
      const V d1 = vs1i - vs1;
      const V v = va - d1 * d1 / (vwi - vw);
      const I lt = v < vbest;
      vbest = lt ? v : vbest;
      vidx = lt ? lane + j : vidx;
    };
    int32_t j = jlo;
    for (; j + 3 <= jhi; j += 4) step(j);
    if (j <= jhi) step(jhi - 3);
    return LeftmostMinOfLanes(vbest, vidx);
  }
#endif
  double best = std::numeric_limits<double>::infinity();
  int32_t best_j = jlo;
  for (int32_t j = jlo; j <= jhi; ++j) {
    const double d1 = s1i - s1[j];
    const double v = a[j] - d1 * d1 / (wi - w[j]);
    if (v < best) {
      best = v;
      best_j = j;
    }
  }
  return {best, best_j};
}

// Compiled twice on x86-64 (AVX2 and baseline) and picked at load time; both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ANEC_DP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ANEC_DP_CLONES
#endif

// Checks Kmeans1D's REQUIRES; `who` names the caller in the messages.
Status ValidateInput(std::span<const double> values, std::span<const double> weights, int k,
                     const char* who);

// Centroids and SSE of the partition with the given cluster starts, computed directly in long
// double (not from the prefix sums).
Kmeans1DResult ResultFromBoundaries(std::span<const double> values, std::span<const double> weights,
                                    std::vector<int32_t> cluster_begin);

}  // namespace anec::quant::kmeans_internal
