#include "runtime/vector_exp.h"

#include <bit>
#include <cmath>

#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"

namespace anec::runtime {
namespace {

// exp(x) = 2^n exp(r) with n = nearest(x log2(e)) and r = x - n ln2, |r| <= ln2 / 2 (plus the
// rounding of x log2(e)). ln2 is split in two doubles so that r carries no error from it, and
// exp(r) is its Taylor series to r^11 / 11! (remainder below 2.2e-13 of exp(r) at |r| = 0.35,
// then rounding: about 1e-15 in all, where fp32 needs 6e-8).
constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 0.6931471805599453;      // double nearest ln 2
constexpr double kLn2Lo = 2.3190468138462996e-17;  // ln 2 - kLn2Hi
// exp(x) rounds to +inf in fp32 above 88.73 and to +0 below -103.98; clamping there keeps 2^n a
// normal double (n in [-150, 129]) without changing any fp32 result.
constexpr double kMinX = -104.0, kMaxX = 89.0;
// 1 / k! for k = 11 down to 2 (Horner order); the k = 1 and k = 0 terms are 1.
constexpr double kInvFactorial[] = {
    1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
    1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,     1.0 / 6.0,     1.0 / 2.0};

// 2^n for an integral double n in [-1022, 1023].
inline double Pow2(double n) {
  return std::bit_cast<double>(static_cast<uint64_t>(static_cast<int64_t>(n) + 1023) << 52);
}

inline float ExpOne(float xf) {
  if (std::isnan(xf)) return xf;
  const double x = std::fmin(std::fmax(static_cast<double>(xf), kMinX), kMaxX);
  const double n = std::nearbyint(x * kLog2e);
  const double r = std::fma(-n, kLn2Lo, std::fma(-n, kLn2Hi, x));
  double p = kInvFactorial[0];
  for (int k = 1; k < 10; ++k) p = std::fma(p, r, kInvFactorial[k]);
  p = std::fma(p, r, 1.0);
  p = std::fma(p, r, 1.0);
  return static_cast<float>(p * Pow2(n));
}

#if defined(__x86_64__)
#define ANEC_EXP_AVX512 __attribute__((target("avx512f")))
#define ANEC_EXP_AVX2 __attribute__((target("avx2,fma")))

// Eight values per step, the same operations as ExpOne (scalef by an integral n is the exact
// product by 2^n, as Pow2's), NaN inputs passed through by a mask.
ANEC_EXP_AVX512 int64_t ExpAvx512(const float* in, float* out, int64_t n) {
  const __m512d lo = _mm512_set1_pd(kMinX), hi = _mm512_set1_pd(kMaxX);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xf = _mm256_loadu_ps(in + i);
    const __m512d xd = _mm512_cvtps_pd(xf);
    const __m512d x = _mm512_min_pd(_mm512_max_pd(xd, lo), hi);
    const __m512d t = _mm512_mul_pd(x, _mm512_set1_pd(kLog2e));
    const __m512d k = _mm512_roundscale_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(kLn2Hi), x);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(kLn2Lo), r);
    __m512d p = _mm512_set1_pd(kInvFactorial[0]);
    for (int c = 1; c < 10; ++c) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kInvFactorial[c]));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    __m256 y = _mm512_cvtpd_ps(_mm512_scalef_pd(p, k));
    const __mmask8 nan = _mm512_cmp_pd_mask(xd, xd, _CMP_UNORD_Q);
    y = _mm512_castps512_ps256(
        _mm512_mask_mov_ps(_mm512_castps256_ps512(y), nan, _mm512_castps256_ps512(xf)));
    _mm256_storeu_ps(out + i, y);
  }
  return i;
}

// Four values per step; 2^n built from its bits as in Pow2. The same steps as ExpAvx512 in
// 4-wide intrinsics: a branch-free scalar body compiled for avx2 / avx512f was not vectorized
// by GCC 12 (-O3; tried 2026-12-08), and without this path AVX2 machines would call libm's fma
// 13 times per value.
ANEC_EXP_AVX2 int64_t ExpAvx2(const float* in, float* out, int64_t n) {
  const __m256d lo = _mm256_set1_pd(kMinX), hi = _mm256_set1_pd(kMaxX);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 xf = _mm_loadu_ps(in + i);
    const __m256d xd = _mm256_cvtps_pd(xf);
    // max/min return their second operand for a NaN: x clamps to a number, masked below.
    const __m256d x = _mm256_min_pd(_mm256_max_pd(xd, lo), hi);
    const __m256d t = _mm256_mul_pd(x, _mm256_set1_pd(kLog2e));
    const __m256d k = _mm256_round_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(kLn2Hi), x);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(kLn2Lo), r);
    __m256d p = _mm256_set1_pd(kInvFactorial[0]);
    for (int c = 1; c < 10; ++c) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(kInvFactorial[c]));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    const __m256i e = _mm256_slli_epi64(
        _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k)), _mm256_set1_epi64x(1023)),
        52);
    __m128 y = _mm256_cvtpd_ps(_mm256_mul_pd(p, _mm256_castsi256_pd(e)));
    y = _mm_blendv_ps(y, xf, _mm_cmpunord_ps(xf, xf));
    _mm_storeu_ps(out + i, y);
  }
  return i;
}
#endif

}  // namespace

void ExpN(const float* in, float* out, int64_t n) {
  int64_t done = 0;
#if defined(__x86_64__)
  // The row kernels' CPU check (and their test switch to the portable path).
  const SimdPath path = RowKernelSimdPath();
  if (path == SimdPath::kAvx512) {
    done = ExpAvx512(in, out, n);
  } else if (path == SimdPath::kAvx2) {
    done = ExpAvx2(in, out, n);
  }
#endif
  vector_exp_internal::ExpNPortable(in + done, out + done, n - done);
}

namespace vector_exp_internal {
void ExpNPortable(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = ExpOne(in[i]);
}
#if defined(__x86_64__)
void ExpNAvx2(const float* in, float* out, int64_t n) {
  const int64_t done = ExpAvx2(in, out, n);
  ExpNPortable(in + done, out + done, n - done);
}
#endif
}  // namespace vector_exp_internal

}  // namespace anec::runtime
