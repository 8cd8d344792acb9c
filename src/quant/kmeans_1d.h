// Exact weighted 1-D k-means: the partition of sorted values into at most k clusters with the
// minimum possible sum of w_i * (x_i - centroid)^2.
//
// Optimal 1-D clusters are contiguous runs of the sorted values, so the problem is a dynamic
// program over prefixes: D_m(i) = min_j D_{m-1}(j) + cost(j, i), cost = weighted SSE of values
// [j, i). The cost satisfies the quadrangle inequality, so the optimal split opt_m(i) is
// nondecreasing in i and in m. Each layer is solved by divide and conquer over i (O(n log n)),
// or, once it is measured to be cheaper (usually from a handful of clusters on), by Knuth's bound
// opt_{m-1}(i) <= opt_m(i) <= opt_m(i+1); a Knuth layer that overruns a budget tied to the last
// divide-and-conquer layer is redone by divide and conquer, so the whole DP is O(k n log n).
// Costs come from prefix sums of w, w*x, w*x^2 over values centred on their weighted mean,
// accumulated in long double and stored as double.
//
// Memory: O(n) doubles plus the split-point table used to recover the partition, (k-1) x
// (n-k+1) entries of 2 bytes when n < 65535 (4 bytes otherwise): at most 32 MB for k = 256 and
// the 63,489 distinct finite fp16 values.
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

// REQUIRES (checked, InvalidArgument otherwise): values non-decreasing and finite; weights the
// same length, finite and > 0; 1 <= values.size() < 2^31; 1 <= k <= 65536.
Result<Kmeans1DResult> Kmeans1D(std::span<const double> values, std::span<const double> weights,
                                int k);

}  // namespace anec::quant
