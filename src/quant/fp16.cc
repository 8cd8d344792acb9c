#include "quant/fp16.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace anec::quant {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t out;
  if (exp == 0x1Fu) {
    out = sign | 0x7F800000u | (mant << 13);  // Inf / NaN (payload kept)
  } else if (exp != 0) {
    out = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    out = sign;
  } else {
    // Subnormal: value = mant * 2^-24; normalise into a float.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    out = sign | ((112u - static_cast<uint32_t>(e)) << 23) | ((mant & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(out);
}

uint16_t FloatToHalf(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((f >> 16) & 0x8000u);
  const uint32_t abs = f & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {  // Inf or NaN
    return abs == 0x7F800000u ? static_cast<uint16_t>(sign | 0x7C00u)
                              : static_cast<uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x1FFu));
  }
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds past 65504
  if (abs >= 0x38800000u) {  // normal fp16 range (>= 2^-14)
    const uint32_t mant_rounded = abs + 0xFFFu + ((abs >> 13) & 1u);  // round to nearest even
    return static_cast<uint16_t>(sign | ((mant_rounded - 0x38000000u) >> 13));
  }
  if (abs < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25): to zero
  // Subnormal result: value / 2^-24 rounded to nearest even integer.
  const uint32_t exp = abs >> 23;  // biased float exponent, 102..112
  const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - exp;  // 14..24: mant * 2^(exp-150) / 2^-24 = mant >> (126-exp)
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

float Bf16ToFloat(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t FloatToBf16(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((f >> 16) | 0x40u);  // NaN
  return static_cast<uint16_t>((f + 0x7FFFu + ((f >> 16) & 1u)) >> 16);
}

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
