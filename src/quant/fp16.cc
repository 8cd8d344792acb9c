#include "quant/fp16.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace anec::quant {

std::vector<uint16_t> FloatsToHalf(std::span<const float> values) {
  std::vector<uint16_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = FloatToHalf(values[i]);
  return out;
}

std::vector<uint16_t> Bf16sToHalf(std::span<const uint16_t> bf16_bits) {
  std::vector<uint16_t> out(bf16_bits.size());
  for (size_t i = 0; i < bf16_bits.size(); ++i) out[i] = Bf16ToHalf(bf16_bits[i]);
  return out;
}

std::vector<float> HalfsToFloat(std::span<const uint16_t> fp16_bits) {
  std::vector<float> out(fp16_bits.size());
  for (size_t i = 0; i < fp16_bits.size(); ++i) out[i] = HalfToFloat(fp16_bits[i]);
  return out;
}

}  // namespace anec::quant

namespace anec::quant {

uint16_t DoubleToHalf(double value) {
  const uint16_t guess = FloatToHalf(static_cast<float>(value));
  if (!std::isfinite(value) || std::fabs(value) >= 65520.0) return guess;  // NaN / +-Inf
  // float rounding can land one fp16 step off only at a half-way point; check the neighbours.
  uint16_t best = guess;
  double best_err = std::fabs(static_cast<double>(HalfToFloat(guess)) - value);
  const uint16_t key = HalfOrderKey(guess);
  for (int d : {-1, 1}) {
    const int k = key + d;
    if (k < 0x0400 || k > 0xFBFF) continue;
    const uint16_t cand = HalfFromOrderKey(static_cast<uint16_t>(k));
    const double err = std::fabs(static_cast<double>(HalfToFloat(cand)) - value);
    if (err < best_err || (err == best_err && (cand & 1u) == 0 && (best & 1u) != 0)) {
      best = cand;
      best_err = err;
    }
  }
  if (best == 0 && std::signbit(value)) return 0x8000u;
  return best;
}

}  // namespace anec::quant
