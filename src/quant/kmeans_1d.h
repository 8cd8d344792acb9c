// Exact weighted 1-D k-means: the partition of sorted values into at most k clusters with the
// minimum possible sum of w_i * (x_i - centroid)^2.
//
// Optimal 1-D clusters are contiguous runs of the sorted values; cost(j, i), the weighted SSE of
// values [j, i), satisfies the quadrangle inequality (interval SSE is concave Monge). Kmeans1D:
//  1. Lagrangian relaxation: min SSE + lambda * clusters is a 1-D/1-D DP whose argmins are
//     monotone, solved in one pass: by row scans from the previous argmin while clusters are
//     short, else with a queue of candidate cluster starts, each owning the prefix ends where it
//     is best (a few comparisons per value whatever the length); any solution of it
//     with c clusters is an optimal c-partition. lambda starts from an estimate and is updated
//     (log-log secant) until c == k (done) or c is close enough to k that the band below costs
//     less than another pass: 1 to 2 passes on real weight groups.
//  2. Banded DP: optimal partitions for c and c+1 clusters interleave, so from an optimal
//     (k+d)-partition P the m-th start of some optimal k-partition lies in [p_m, p_{m+d}] (and
//     in [p_{m-d}, p_m] from a (k-d)-partition). The exact k-layer DP restricted to these bands
//     fills about d x n cells instead of (k-1) x (n-k+1).
//  If the search does not get within 16 clusters of k (many exact ties, e.g. duplicated values),
//  or if n > 768 k (long clusters make each pass cost more than the layered DP), the layered DP
//  (Kmeans1DLayered) runs instead. Costs come from prefix sums of w, w*x, w*x^2
//  over values centred on their weighted mean, accumulated in long double, stored as double.
//
// Memory: O(n) doubles and ints, plus the band's split table (about d x n ints). The layered DP
// keeps a (k-1) x (n-k+1) split table of 2-byte entries when n < 65535 (4 bytes otherwise): at
// most 32 MB for k = 256 and the 63,489 distinct finite fp16 values.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"

namespace anec::quant {

struct Kmeans1DResult {
  // Ascending weighted means, one per cluster; min(k, n) clusters (each non-empty).
  std::vector<double> centroids;
  // cluster_begin[c] is the index of the first value of cluster c (cluster_begin[0] == 0); the
  // cluster ends where the next begins (or at n).
  std::vector<int32_t> cluster_begin;
  // sum_i w_i (x_i - centroid(i))^2, computed directly (not from the DP's prefix sums).
  double sse = 0;
};

// How Kmeans1D found its answer (for tests and benchmarks).
struct Kmeans1DStats {
  int penalized_solves = 0;  // Lagrangian DP passes
  int band_gap = 0;          // |clusters of the bounding penalised solution - k|; 0: no band DP
  bool layered = false;      // fell back to Kmeans1DLayered
  int band_rows = 0;         // cells of the band DP (rows of its layers 2..k)
  int band_rows_given = 0;   // of those, taken from the bounding penalised solution (see .cc)
};

// REQUIRES (checked, InvalidArgument otherwise): values non-decreasing and finite; weights the
// same length, finite and > 0; 1 <= values.size() < 2^31; 1 <= k <= 65536.
Result<Kmeans1DResult> Kmeans1D(std::span<const double> values, std::span<const double> weights,
                                int k, Kmeans1DStats* stats = nullptr);

// The previous solver, kept as the reference for tests and benchmarks: the layered DP over all
// k layers and all prefixes, (k-1) x (n-k+1) cells (divide and conquer, then Knuth's bounds),
// O(k n log n). Same contract and same optimum (up to the choice among tied partitions).
Result<Kmeans1DResult> Kmeans1DLayered(std::span<const double> values,
                                       std::span<const double> weights, int k);

}  // namespace anec::quant
