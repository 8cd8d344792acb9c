// The sampling flags `anec run` and `anec chat` share, and their validation.
#pragma once

#include <CLI/CLI.hpp>

#include "base/status.h"
#include "runtime/generation.h"

namespace anec::cli {

struct SamplingFlags {
  int max_tokens = 256;
  float temperature = 0.7f;
  float top_p = 0.9f;
  int top_k = 0;
  int64_t seed = -1;
};

// Declares --max-tokens, --temperature, --top-p, --top-k and --seed on `sub`.
void AddSamplingFlags(CLI::App* sub, SamplingFlags* flags);

// Checks the values (errors name the flag and the allowed range) and fills GenerationOptions;
// seed -1 means a random seed.
Result<runtime::GenerationOptions> ToGenerationOptions(const SamplingFlags& flags);

}  // namespace anec::cli
