// The Lagrangian (penalised) pass of Kmeans1D, two ways: by row scans (cheaper while clusters
// are short) and by a queue of candidate starts (a few comparisons per value whatever the cluster
// length). Both return the same partition up to rounding ties. Internal to kmeans_1d.cc; a
// header only so that both inline into its target clones.
//
// The problem: min over partitions of [0, n) of SSE + lambda * (number of clusters), the 1-D/1-D
// DP F(i) = min_{j < i} F(j) + cost(j, i) + lambda. The matrix F(j) + cost(j, i) is Monge (cost
// satisfies the quadrangle inequality, F(j) only adds a column constant), so the leftmost argmin
// opt(i) is nondecreasing in i. a[j] holds F(j) - S2(j); arg[i] receives opt(i).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "quant/kmeans_1d_internal.h"

namespace anec::quant::kmeans_internal {

// Row minimum of the penalised DP over j in [jlo, jhi] (ScanRow's contract), cut short by the
// monotonicity of F: F(j) <= F(j+1) (dropping the last value from the last cluster of an optimal
// partition of [0, j+1) lowers neither its SSE nor its count), and cost >= 0, so once
// F(j) > the best F(j') + cost(j', i) found so far, no later j can win. f[j] = F(j). The margin
// covers rounding in the costs.
ANEC_INLINE RowMin ScanRowPruned(const double* a, const double* f, const double* s1,
                                 const double* w, double s1i, double wi, double s2i, int32_t jlo,
                                 int32_t jhi) {
  const double inf = std::numeric_limits<double>::infinity();
  auto beaten = [&](int32_t j, double best) ANEC_INLINE_LAMBDA {
    const double bound = best + s2i;
    return f[j] - bound > 1e-12 * (std::fabs(f[j]) + std::fabs(bound));
  };
  double best = inf;
  int32_t best_j = jlo;
  int32_t j = jlo;
#if defined(__GNUC__) && !defined(__clang__)  // GCC vector extensions, as in ScanRow
  // The 4-lane body repeats ScanRow's on purpose: shared as a struct with vector members, GCC 12
  // reports them "may be used uninitialized" in the target clones (-Werror), and a hot loop is
  // no place for a workaround (tried 2026-12-07).
  constexpr int kCutEvery = 3;  // vectors of 4 candidates between two tests of the cut
  if (jhi - jlo + 1 >= 8) {
    typedef double V __attribute__((vector_size(32)));
    typedef int64_t I __attribute__((vector_size(32)));
    V vbest = {inf, inf, inf, inf};
    I vidx = {0, 0, 0, 0};
    I vj = {j, j + 1, j + 2, j + 3};
    const I four = {4, 4, 4, 4};
    const V vs1i = {s1i, s1i, s1i, s1i}, vwi = {wi, wi, wi, wi};
    double running = inf;  // min over lanes so far
    bool cut = false;
    auto step = [&]() ANEC_INLINE_LAMBDA {
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
      j += 4;
    };
    // The cut is tested once per 12 candidates, not 4: the test (a horizontal minimum and a
    // branch) costs about as much as the evaluations, and candidates past the cut only lose, so
    // the result is the same. A/B on SmolLM2's LUT6 groups (L ~ 24, about 25 evaluations per
    // row): every 8 1.03x, every 12 1.04-1.06x, every 16 1.03x the test per 4.
    while (j + 4 * kCutEvery - 1 <= jhi) {
      if (beaten(j, running)) {
        cut = true;
        break;
      }
      for (int r = 0; r < kCutEvery; ++r) step();
      running = std::min(std::min(vbest[0], vbest[1]), std::min(vbest[2], vbest[3]));
    }
    while (!cut && j + 3 <= jhi) {
      if (beaten(j, running)) {
        cut = true;
      } else {
        step();
        running = std::min(std::min(vbest[0], vbest[1]), std::min(vbest[2], vbest[3]));
      }
    }
    // ScanRow's reduction by shuffles: with rows no longer waiting for the previous row's
    // argmin (SolvePenalizedByScans), 75 -> 64 TSC cycles per row against the loop over the
    // lanes (simulation, docs/QUANTIZATION.md); whole Kmeans1D 1.08x at k = 64, L ~ 26.
    const RowMin lanes = LeftmostMinOfLanes(vbest, vidx);
    best = lanes.value;
    best_j = lanes.arg;
    if (cut) return {best, best_j};
  }
#endif
  for (; j <= jhi; ++j) {
    if (beaten(j, best)) break;
    const double d1 = s1i - s1[j];
    const double v = a[j] - d1 * d1 / (wi - w[j]);
    if (v < best) {
      best = v;
      best_j = j;
    }
  }
  return {best, best_j};
}

// The penalised DP by row scans: row i scans j from opt(i-2) up, cut by ScanRowPruned. Scans cost
// the sum of the last clusters' lengths (less with the cut), so a penalty far too large (few,
// long clusters) could cost O(n^2): past `budget` evaluations the solve stops and returns false.
// Writes the cluster starts (ascending, begin[0] == 0) into `begin`. a, f: n + 1 doubles.
//
// Why opt(i-2), not opt(i-1): row i's scan then does not wait for row i-1's argmin (a division's
// latency plus a reduction, on the critical path of every row), so two rows overlap; the rows
// are long enough (the scans end at the cut, about 15 candidates in) that the row before's
// value a[i-1] is rarely read. The answer is the same: if the leftmost minimum over the wider
// range [opt(i-2), i-1] is at or after opt(i-1), it is also the leftmost minimum over
// [opt(i-1), i-1]; otherwise (rounding only: argmins are monotone) the row is scanned again from
// opt(i-1). TSC cycles per row on 20 synthetic dequantized groups at k ~ 64 (L ~ 26), min of 30:
// 81 -> 73.5 (from opt(i-3): 104, opt(i-4): 84).
ANEC_INLINE bool SolvePenalizedByScans(const PrefixSums& p, int32_t n, double lambda,
                                       int64_t budget, double* a, double* f, int32_t* arg,
                                       std::vector<int32_t>& begin) {
  const double* w = p.w.data();
  const double* s1 = p.s1.data();
  const double* s2 = p.s2.data();
  a[0] = f[0] = 0;
  int32_t lo = 0, lo_before = 0;  // opt(i-1), opt(i-2)
  int64_t evals = 0;
  for (int32_t i = 1; i <= n; ++i) {
    evals += i - lo;  // the budget as for scans from opt(i-1): the same solves give up
    if (evals > budget) return false;
    RowMin r = ScanRowPruned(a, f, s1, w, s1[i], w[i], s2[i], lo_before, i - 1);
    if (r.arg < lo) r = ScanRowPruned(a, f, s1, w, s1[i], w[i], s2[i], lo, i - 1);
    a[i] = r.value + lambda;
    f[i] = a[i] + s2[i];
    arg[i] = r.arg;
    lo_before = lo;
    lo = r.arg;
  }
  begin.clear();
  for (int32_t i = n; i > 0; i = arg[i]) begin.push_back(arg[i]);
  std::reverse(begin.begin(), begin.end());
  return true;
}

// a[j] - (s1[i] - s1[j])^2 / (w[i] - w[j]): candidate j's value for prefix end i, less S2(i).
// The same expression, hence the same bits, as ScanRow's.
ANEC_INLINE double CandidateValue(const double* a, const double* s1, const double* w, int32_t j,
                                  int32_t i) {
  const double d1 = s1[i] - s1[j];
  return a[j] - d1 * d1 / (w[i] - w[j]);
}

// Whether candidate j2 > j1 strictly beats j1 at prefix end e > j2: whether
// a[j2] - d2^2 / D2 < a[j1] - d1^2 / D1 (CandidateValue's), with both sides multiplied by the
// positive D1 D2, so that no division is needed (divisions were about a sixth of the queue's
// time). Rounding differs from the divided form only where the two values tie to within a few
// ulps; either answer is then an optimal argmin up to rounding, as with any tie.
ANEC_INLINE bool BeatsAt(const double* a, const double* s1, const double* w, int32_t j2, int32_t j1,
                         int32_t e) {
  const double d2 = s1[e] - s1[j2], d1 = s1[e] - s1[j1];
  const double D2 = w[e] - w[j2], D1 = w[e] - w[j1];
  return (a[j2] - a[j1]) * D1 * D2 < d2 * d2 * D1 - d1 * d1 * D2;
}

// Bit l set when BeatsAt(j2, j1, r + l), l = 0..7 (r + 7 <= n): the same operations, so the same
// bits.
ANEC_INLINE unsigned BeatsAt8(const double* a, const double* s1, const double* w, int32_t j2,
                              int32_t j1, int32_t r) {
#if defined(__GNUC__) && !defined(__clang__)  // GCC vector extensions, as in ScanRow
  typedef double V __attribute__((vector_size(32)));
  typedef int64_t I __attribute__((vector_size(32)));
  const double a21 = a[j2] - a[j1];
  const double s12 = s1[j2], s11 = s1[j1], w2 = w[j2], w1 = w[j1];
  V vs1a, vwa, vs1b, vwb;
  std::memcpy(&vs1a, s1 + r, sizeof(V));
  std::memcpy(&vwa, w + r, sizeof(V));
  std::memcpy(&vs1b, s1 + r + 4, sizeof(V));
  std::memcpy(&vwb, w + r + 4, sizeof(V));
  const V d2a = vs1a - s12, d1a = vs1a - s11, D2a = vwa - w2, D1a = vwa - w1;
  const V d2b = vs1b - s12, d1b = vs1b - s11, D2b = vwb - w2, D1b = vwb - w1;
  const I lo = a21 * D1a * D2a < d2a * d2a * D1a - d1a * d1a * D2a;
  const I hi = a21 * D1b * D2b < d2b * d2b * D1b - d1b * d1b * D2b;
  const I bit_lo = {1, 2, 4, 8}, bit_hi = {16, 32, 64, 128};
  const I m = (lo & bit_lo) | (hi & bit_hi);
  return static_cast<unsigned>((m[0] | m[1]) | (m[2] | m[3]));
#else
  unsigned m = 0;
  for (int l = 0; l < 8; ++l) m |= static_cast<unsigned>(BeatsAt(a, s1, w, j2, j1, r + l)) << l;
  return m;
#endif
}

// The first end in (lo, n] where candidate i beats t, or n + 1 if none (i loses to t at lo):
// galloping, then bisection.
ANEC_INLINE int32_t FirstWinAfter(const double* a, const double* s1, const double* w, int32_t n,
                                  int32_t i, int32_t t, int32_t lo) {
  int32_t hi = n;
  for (int32_t step = 1;; step *= 2) {
    if (n - lo <= step) {
      if (!BeatsAt(a, s1, w, i, t, n)) return n + 1;  // never better than t: never optimal
      break;
    }
    if (BeatsAt(a, s1, w, i, t, lo + step)) {
      hi = lo + step;
      break;
    }
    lo += step;
  }
  while (hi - lo > 1) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (BeatsAt(a, s1, w, i, t, mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

// The penalised DP with a queue of candidates instead of row scans. By the quadrangle inequality,
// once a later start j2 strictly beats an earlier j1 at some prefix end i, it strictly beats it at
// every later end too; so after F(j) is known, candidate j takes over a suffix of the ends still
// to come, found against the queue's last candidate alone: drop that candidate while j beats it
// at its first end, then find the first end where j wins. On weight groups that end is nearly
// always close to where the search starts (SmolLM2's Q8_0 head at k = 64: within 8 ends for 88%
// of the candidates, within 16 for 98%), so it is looked for 8 ends at a time (one comparison
// per end, no branch per end, BeatsAt8), then by galloping and bisection. Each row then costs a
// few comparisons whatever the cluster length, not a scan of about half a cluster. Strict
// comparisons keep the leftmost argmin, as a scan would. Writes the cluster starts (ascending,
// begin[0] == 0) into `begin`. a: n + 1 doubles; qc, qs: n + 2 ints of scratch (candidate, first
// end it owns).
//
// Measured against the version with divided comparisons and 4 + 4 ends (whole Kmeans1D on
// SmolLM2's Q8_0 head at LUT6, each group's fastest of 3 passes): 1.16x in all, about 1.09x from
// the division-free comparisons and 1.06x from the 8-end probe. Tried and not kept (table in
// docs/QUANTIZATION.md): comparing against the last two candidates at once and selecting without
// a branch (one drop is the most common case, 54%), less gain than this simple loop; the queue as
// a separate, not inlined function, 0.98x; two solves interleaved in one pass to overlap their
// dependency chains, 1.84x the time of one (so the pass is not latency-bound).
ANEC_INLINE void SolvePenalizedByQueue(const PrefixSums& p, int32_t n, double lambda, double* a,
                                       int32_t* arg, int32_t* qc, int32_t* qs,
                                       std::vector<int32_t>& begin) {
  const double* w = p.w.data();
  const double* s1 = p.s1.data();
  a[0] = 0;
  int32_t head = 0, tail = 1;  // queue qc/qs[head, tail): first ends strictly increasing
  qc[0] = 0;
  qs[0] = 1;
  qs[1] = n + 1;
  for (int32_t i = 1; i <= n; ++i) {
    // First ends are strictly increasing and every entry owns at least its first end, so the
    // owner advances by at most one entry per end; qs[tail] == n + 1 stops it at the last.
    head += qs[head + 1] <= i;
    const int32_t j = qc[head];
    a[i] = CandidateValue(a, s1, w, j, i) + lambda;
    arg[i] = j;
    if (i == n) break;
    // First end from which candidate i owns the rest, or n + 1 if it never wins.
    int32_t from = n + 1;
    while (true) {
      if (tail == head) {
        from = i + 1;
        break;
      }
      const int32_t t = qc[tail - 1];
      const int32_t lo = std::max(qs[tail - 1], i + 1);  // i loses to t at end lo, once checked
      if (lo + 7 <= n) {
        const unsigned m = BeatsAt8(a, s1, w, i, t, lo);
        if (m & 1u) {
          --tail;
          continue;
        }
        from = m != 0 ? lo + std::countr_zero(m) : FirstWinAfter(a, s1, w, n, i, t, lo + 7);
        break;
      }
      if (BeatsAt(a, s1, w, i, t, lo)) {
        --tail;
        continue;
      }
      from = FirstWinAfter(a, s1, w, n, i, t, lo);
      break;
    }
    if (from <= n) {
      qc[tail] = i;
      qs[tail] = from;
      ++tail;
    }
    qs[tail] = n + 1;
  }
  begin.clear();
  for (int32_t i = n; i > 0; i = arg[i]) begin.push_back(arg[i]);
  std::reverse(begin.begin(), begin.end());
}

}  // namespace anec::quant::kmeans_internal
