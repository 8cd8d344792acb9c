#include "runtime/half.h"

#include <memory>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace anec::runtime {
namespace {

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void HalfToFloatF16c(const Half* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) out[i] = HalfToFloatFast(in[i]);
}
__attribute__((target("avx,f16c"))) void FloatToHalfF16c(const float* in, Half* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  for (; i < n; ++i) out[i] = FloatToHalf(in[i]);
}
bool HasF16c() {
  static const bool has = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return has;
}
#endif

}  // namespace

float HalfToFloat(Half h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return BitsFloat(sign | 0x7f800000 | (mant << 13));  // inf / NaN
  if (exp == 0) {
    if (mant == 0) return BitsFloat(sign);
    // Subnormal: value = mant * 2^-24.
    float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

Half FloatToHalf(float f) {
  uint32_t u = FloatBits(f);
  uint32_t sign = (u >> 16) & 0x8000;
  uint32_t abs = u & 0x7fffffff;
  if (abs >= 0x7f800000) {  // inf or NaN
    return static_cast<Half>(sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0));
  }
  if (abs >= 0x477ff000) return static_cast<Half>(sign | 0x7c00);  // rounds to >= 65520: inf
  if (abs < 0x38800000) {  // below the smallest normal fp16 (2^-14): subnormal or zero
    // Scale so the subnormal step 2^-24 becomes 1, then round to nearest even in fp32.
    float scaled = BitsFloat(abs) * 16777216.0f;
    // Adding 2^23 makes the fp32 mantissa hold the rounded integer (nearest even).
    float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return static_cast<Half>(sign | static_cast<uint32_t>(rounded));
  }
  // Normal: rebias exponent, round mantissa from 23 to 10 bits (nearest even).
  uint32_t mant_odd = (abs >> 13) & 1;
  abs += 0xfff + mant_odd;
  return static_cast<Half>(sign | ((abs - 0x38000000) >> 13));
}

const float* HalfToFloatTable() {
  static const std::unique_ptr<float[]> table = [] {
    auto t = std::make_unique<float[]>(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = HalfToFloat(static_cast<Half>(i));
    return t;
  }();
  return table.get();
}

void HalfToFloatN(const Half* in, float* out, int64_t n) {
#if defined(__x86_64__)
  if (HasF16c()) return HalfToFloatF16c(in, out, n);
#endif
  const float* t = HalfToFloatTable();
  for (int64_t i = 0; i < n; ++i) out[i] = t[in[i]];
}

void FloatToHalfN(const float* in, Half* out, int64_t n) {
#if defined(__x86_64__)
  if (HasF16c()) return FloatToHalfF16c(in, out, n);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToHalf(in[i]);
}

}  // namespace anec::runtime
