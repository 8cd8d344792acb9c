#include "runtime/half.h"

#include <memory>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace anec::runtime {
namespace {

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
  static const bool has = CpuHasF16c() && __builtin_cpu_supports("avx");
  return has;
}
#endif

}  // namespace

bool CpuHasF16c() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
#else
  return false;
#endif
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
