#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace anec::runtime {

int32_t ArgMax(std::span<const float> logits) {
  int32_t best = 0;
  float best_v = -INFINITY;
  bool found = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i])) continue;
    if (!found || logits[i] > best_v) {
      best = static_cast<int32_t>(i);
      best_v = logits[i];
      found = true;
    }
  }
  return best;
}

int32_t Sampler::Sample(std::span<const float> logits) {
  if (options_.temperature <= 0.0f || options_.top_k == 1) return ArgMax(logits);
  std::vector<int32_t> order;
  order.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isnan(logits[i]) && logits[i] != -INFINITY) order.push_back(static_cast<int32_t>(i));
  }
  if (order.empty()) return ArgMax(logits);
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  };
  size_t keep = order.size();
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < keep) {
    keep = static_cast<size_t>(options_.top_k);
    std::partial_sort(order.begin(), order.begin() + static_cast<long>(keep), order.end(), by_logit);
    order.resize(keep);
  } else {
    std::sort(order.begin(), order.end(), by_logit);
  }
  // Softmax of logits / T over the kept tokens (sorted, largest first).
  const double inv_t = 1.0 / static_cast<double>(options_.temperature);
  const double top = logits[static_cast<size_t>(order[0])];
  std::vector<double> p(order.size());
  double sum = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    p[i] = std::exp((logits[static_cast<size_t>(order[i])] - top) * inv_t);
    sum += p[i];
  }
  if (options_.top_p < 1.0f) {
    double cum = 0;
    size_t n = 0;
    while (n < p.size()) {
      cum += p[n++] / sum;
      if (cum >= options_.top_p) break;
    }
    p.resize(n);
    sum = std::accumulate(p.begin(), p.end(), 0.0);
  }
  std::uniform_real_distribution<double> uniform(0.0, sum);
  double r = uniform(rng_);
  for (size_t i = 0; i < p.size(); ++i) {
    if (r < p[i]) return order[i];
    r -= p[i];
  }
  return order[p.size() - 1];
}

}  // namespace anec::runtime
