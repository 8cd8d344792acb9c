#include "cli/sampling_flags.h"

#include <random>
#include <string>

namespace anec::cli {

void AddSamplingFlags(CLI::App* sub, SamplingFlags* f) {
  sub->add_option("--max-tokens", f->max_tokens,
                  "Most tokens to generate (default " + std::to_string(f->max_tokens) + ")");
  sub->add_option("--temperature", f->temperature, "Sampling temperature; 0 = greedy (default 0.7)");
  sub->add_option("--top-p", f->top_p, "Nucleus sampling mass (default 0.9)");
  sub->add_option("--top-k", f->top_k, "Sample among the k most likely tokens; 0 = all (default 0)");
  sub->add_option("--seed", f->seed, "Random seed for sampling (default: random)");
}

Result<runtime::GenerationOptions> ToGenerationOptions(const SamplingFlags& f) {
  if (f.max_tokens < 1) return InvalidArgument("--max-tokens must be >= 1, got {}", f.max_tokens);
  if (f.temperature < 0) return InvalidArgument("--temperature must be >= 0, got {}", f.temperature);
  if (f.top_p <= 0 || f.top_p > 1) return InvalidArgument("--top-p must be in (0, 1], got {}", f.top_p);
  if (f.top_k < 0) return InvalidArgument("--top-k must be >= 0, got {}", f.top_k);
  runtime::GenerationOptions gen;
  gen.max_tokens = f.max_tokens;
  gen.sampling.temperature = f.temperature;
  gen.sampling.top_p = f.top_p;
  gen.sampling.top_k = f.top_k;
  gen.sampling.seed = f.seed >= 0 ? static_cast<uint64_t>(f.seed) : std::random_device{}();
  return gen;
}

}  // namespace anec::cli
