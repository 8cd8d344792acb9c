// IEEE binary16 (fp16) and bfloat16 conversions used by palettization.
//
// Core ML stores lookup tables as fp16, so every weight is brought to fp16 before clustering.
// All conversions round to nearest, ties to even; fp16 overflow becomes +-Inf (the palettizer then
// rejects the tensor with a message naming it), NaN stays NaN. Values are passed as raw bit
// patterns (uint16_t).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/half.h"

namespace anec::quant {

// The scalar conversions are base/half.h's (one implementation for the whole repo).
using anec::FloatToHalf;
using anec::HalfToFloat;
inline float Bf16ToFloat(uint16_t bits) { return anec::BF16ToFloat(bits); }
inline uint16_t FloatToBf16(float value) { return anec::FloatToBF16(value); }

// bf16 -> fp16 in one rounding (bf16 -> fp32 is exact).
inline uint16_t Bf16ToHalf(uint16_t bits) { return FloatToHalf(Bf16ToFloat(bits)); }

std::vector<uint16_t> FloatsToHalf(std::span<const float> values);
std::vector<uint16_t> Bf16sToHalf(std::span<const uint16_t> bf16_bits);
std::vector<float> HalfsToFloat(std::span<const uint16_t> fp16_bits);

// True for fp16 Inf and NaN (all-ones exponent).
inline bool HalfIsNonFinite(uint16_t bits) { return (bits & 0x7C00u) == 0x7C00u; }

// A total order key for finite fp16 bit patterns: key(a) < key(b) iff value(a) < value(b), and
// -0 and +0 share the key of +0 (0x8000). Keys of finite values lie in [0x0400, 0xFBFF]; 0x7FFF is
// unused.
inline uint16_t HalfOrderKey(uint16_t bits) {
  if (bits == 0x8000u) return 0x8000u;
  return (bits & 0x8000u) ? static_cast<uint16_t>(0x7FFFu - (bits & 0x7FFFu))
                          : static_cast<uint16_t>(0x8000u + bits);
}
// Inverse of HalfOrderKey (returns +0 for key 0x8000).
inline uint16_t HalfFromOrderKey(uint16_t key) {
  return key >= 0x8000u ? static_cast<uint16_t>(key - 0x8000u)
                        : static_cast<uint16_t>(0x8000u | (0x7FFFu - key));
}

}  // namespace anec::quant

namespace anec::quant {
// Double -> fp16, rounded once to nearest (ties to even), so a double centroid is not rounded
// twice through float.
uint16_t DoubleToHalf(double value);
}  // namespace anec::quant
