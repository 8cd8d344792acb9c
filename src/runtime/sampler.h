// Next-token sampling: greedy, or temperature with top-k / top-p (nucleus) filtering, drawn from
// a seeded std::mt19937_64 so a run is reproducible from its seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace anec::runtime {

struct SamplingOptions {
  float temperature = 0.0f;  // <= 0: greedy (argmax)
  int top_k = 0;             // <= 0: no limit
  float top_p = 1.0f;        // >= 1: no nucleus cut
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplingOptions options) : options_(options), rng_(options.seed) {}
  // REQUIRES: !logits.empty(). NaN logits are never chosen (unless all are NaN: returns 0).
  int32_t Sample(std::span<const float> logits);

 private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
};

// Index of the largest logit (the first one on ties).
int32_t ArgMax(std::span<const float> logits);

}  // namespace anec::runtime
