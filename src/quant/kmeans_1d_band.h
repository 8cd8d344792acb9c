// The band DP's row sweep (Kmeans1D's band, kmeans_1d.cc). Internal; a header so that it
// inlines into kmeans_1d.cc's target clones and can be tested alone.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "quant/kmeans_1d_internal.h"

namespace anec::quant::kmeans_internal {

// Rows [lo, hi] of a band layer whose argmins lie in [opt_lo, opt_hi] (a few candidates): row i
// takes the leftmost minimum over [opt(i-1), min(opt_hi, i-1)], opt(lo-1) = opt_lo. Row by row
// that is a chain of short scans, each waiting for the previous row's argmin (a division's
// latency and a mispredicted branch or two per row). Four rows at a time instead, one lane per
// row, each over [opt(first row - 1), its own end] (candidates j >= i masked): no chain and no
// branch on the values. Wider ranges give the same answers whenever the four argmins come out
// nondecreasing: by induction, row i's leftmost minimum over the wider range lies in the narrow
// one, so it is also the narrow range's leftmost minimum. (Rounding could in principle break
// monotonicity; those rows are then redone one by one.) a, s1, w: prefix ends 0..n (ScanRow's
// arrays); cur, opt_m receive rows lo..hi. Requires 1 <= lo <= hi <= n, opt_lo <= opt_hi and
// opt_lo < lo.
ANEC_INLINE void SweepSpan(const double* a, const double* s1, const double* w, int32_t n,
                           int32_t lo, int32_t hi, int32_t opt_lo, int32_t opt_hi, double* cur,
                           int32_t* opt_m) {
  int32_t from = opt_lo;
  int32_t i = lo;
  auto one_by_one = [&](int32_t end) ANEC_INLINE_LAMBDA {
    for (; i <= end; ++i) {
      const int32_t jhi = std::min(opt_hi, i - 1);
      const RowMin r = ScanRow(a, s1, w, s1[i], w[i], std::min(from, jhi), jhi);
      cur[i] = r.value;
      opt_m[i] = r.arg;
      from = r.arg;
    }
  };
#if defined(__GNUC__) && !defined(__clang__)  // GCC vector extensions, as in ScanRow
  typedef double V __attribute__((vector_size(32)));
  typedef int64_t I __attribute__((vector_size(32)));
  const double inf = std::numeric_limits<double>::infinity();
  while (i + 1 <= hi && i + 3 <= n) {  // two rows or more left; s1, w readable up to i + 3
    const int32_t rows = std::min(4, hi - i + 1);
    V vs1, vw;
    std::memcpy(&vs1, s1 + i, sizeof(V));
    std::memcpy(&vw, w + i, sizeof(V));
    const I vi = {i, i + 1, i + 2, i + 3};
    V vbest = {inf, inf, inf, inf};
    I vidx = {from, from, from, from};
    const int32_t jend = std::min(opt_hi, i + rows - 2);
    for (int32_t j = from; j <= jend; ++j) {
      const V d1 = vs1 - s1[j];
      const V v = a[j] - d1 * d1 / (vw - w[j]);
      const I take = (v < vbest) & (vi > j);
      vbest = take ? v : vbest;
      vidx = take ? I{j, j, j, j} : vidx;
    }
    bool ok = vbest[0] < inf;
    for (int l = 1; l < rows; ++l) ok = ok && vbest[l] < inf && vidx[l] >= vidx[l - 1];
    if (!ok) {
      one_by_one(i + rows - 1);
      continue;
    }
    for (int l = 0; l < rows; ++l) {
      cur[i + l] = vbest[l];
      opt_m[i + l] = static_cast<int32_t>(vidx[l]);
    }
    from = static_cast<int32_t>(vidx[rows - 1]);
    i += rows;
  }
#else
  (void)n;  // the bound only the vector path needs
#endif
  one_by_one(hi);
}

}  // namespace anec::quant::kmeans_internal
