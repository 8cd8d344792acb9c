#include "ane/rope_tables.h"

#include <cmath>
#include <numbers>

namespace anec::ane {

std::vector<double> RopeInverseFrequencies(const model::ModelSpec& spec) {
  const int64_t dim = spec.head_dim;
  std::vector<double> inv(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    inv[static_cast<size_t>(i)] =
        1.0 / std::pow(spec.rope_theta, static_cast<double>(2 * i) / static_cast<double>(dim));
  }
  const model::RopeScaling& rs = spec.rope_scaling;
  switch (rs.type) {
    case model::RopeScalingType::kNone:
      break;
    case model::RopeScalingType::kLinear:
      for (double& f : inv) f /= rs.factor;
      break;
    case model::RopeScalingType::kLlama3: {
      const double old_ctx = static_cast<double>(rs.original_max_position_embeddings);
      const double low_freq_wavelen = old_ctx / rs.low_freq_factor;
      const double high_freq_wavelen = old_ctx / rs.high_freq_factor;
      for (double& f : inv) {
        const double wavelen = 2.0 * std::numbers::pi / f;
        if (wavelen > low_freq_wavelen) {
          f = f / rs.factor;
        } else if (wavelen >= high_freq_wavelen) {
          // Medium band: interpolate between the scaled and unscaled frequency.
          const double smooth =
              (old_ctx / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
          f = (1.0 - smooth) * f / rs.factor + smooth * f;
        }
      }
      break;
    }
    case model::RopeScalingType::kFrequencyFactors:
      // ModelSpec's contract: head_dim/2 positive factors (checked where they are read).
      for (size_t i = 0; i < inv.size() && i < rs.frequency_factors.size(); ++i) {
        inv[i] /= rs.frequency_factors[i];
      }
      break;
  }
  return inv;
}

RopeTables ComputeRopeTables(const model::ModelSpec& spec, int64_t context) {
  RopeTables t;
  t.context = context;
  t.head_dim = spec.head_dim;
  const std::vector<double> inv = RopeInverseFrequencies(spec);
  const int64_t half = spec.head_dim / 2;
  t.cos.resize(static_cast<size_t>(context * spec.head_dim));
  t.sin.resize(t.cos.size());
  for (int64_t p = 0; p < context; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * inv[static_cast<size_t>(i)];
      const double c = std::cos(angle), s = std::sin(angle);
      const size_t row = static_cast<size_t>(p * spec.head_dim);
      t.cos[row + static_cast<size_t>(i)] = c;
      t.cos[row + static_cast<size_t>(i + half)] = c;
      t.sin[row + static_cast<size_t>(i)] = s;
      t.sin[row + static_cast<size_t>(i + half)] = s;
    }
  }
  return t;
}

}  // namespace anec::ane
