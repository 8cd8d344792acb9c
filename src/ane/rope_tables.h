// Rotary position embedding tables, computed as Hugging Face transformers computes them.
//
// inv_freq[i] = 1 / theta^(2i / head_dim), i < head_dim/2, then adjusted by the checkpoint's
// rope_scaling:
//   linear: positions are divided by `factor` (same as inv_freq / factor);
//   llama3: per-frequency rule with low/high frequency factors (wavelength above
//           original_max/low_freq_factor -> inv_freq/factor; below original_max/high_freq_factor
//           -> unchanged; in between a smooth interpolation). NOT theta * factor.
//   frequency factors (GGUF rope_freqs.weight): inv_freq[i] / factors[i].
// The tables are cos/sin of position * inv_freq laid out [context, head_dim] with the frequency
// block repeated twice (HF's cat(freqs, freqs)), matching rotate_half. Everything is computed in
// double and rounded once to fp16 when stored.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_spec.h"

namespace anec::ane {

// head_dim/2 inverse frequencies after rope scaling.
std::vector<double> RopeInverseFrequencies(const model::ModelSpec& spec);

struct RopeTables {
  int64_t context = 0;
  int64_t head_dim = 0;
  std::vector<double> cos;  // [context, head_dim], row-major
  std::vector<double> sin;
};

RopeTables ComputeRopeTables(const model::ModelSpec& spec, int64_t context);

}  // namespace anec::ane
