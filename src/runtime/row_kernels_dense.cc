// The dense fp32 / fp16 row kernels of row_kernels.h (DotF32, DotF16, DotTile, AxpyF16): dot
// products and multiply-adds whose weights are stored as plain floats or halves. row_kernels.cc
// holds the path choice and the LUT kernels.
#include <cstdint>

#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"  // nothing here reads an uninitialized value

namespace anec::runtime {
namespace {

float DotF32Portable(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  }
  float total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

float DotF16Portable(const float* x, const Half* w, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) s[j] += x[i + j] * HalfToFloatFast(w[i + j]);
  }
  float total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) total += x[i] * HalfToFloatFast(w[i]);
  return total;
}

#if defined(__x86_64__)
#define ANEC_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define ANEC_AVX2 __attribute__((target("avx2,fma,f16c")))

ANEC_AVX2 float Sum8(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  return _mm_cvtss_f32(lo);
}

ANEC_AVX2 float DotF32Avx2(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  float total = Sum8(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

ANEC_AVX2 float DotF16Avx2(const float* x, const Half* w, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
    __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 8)));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), w0, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), w1, s1);
  }
  float total = Sum8(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) total += x[i] * HalfToFloatFast(w[i]);
  return total;
}

ANEC_AVX512 float DotF32Avx512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

ANEC_AVX512 float DotF16Avx512(const float* x, const Half* w, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i)));
    __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16)));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), w0, s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), w1, s1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 wv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + i));
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), wv, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// kM x 4 accumulators of 16 lanes: each x load is used 4 times, each w load kM times.
template <int kM>
ANEC_AVX512 void DotTileAvx512(const float* x, const float* const* w, int64_t k, float* out,
                               int64_t ldo) {
  __m512 acc[kM][4];
  for (int i = 0; i < kM; ++i) {
    for (int r = 0; r < 4; ++r) acc[i][r] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < k; c += 16) {
    const __mmask16 mask = k - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (k - c)) - 1);
    __m512 wv[4];
    for (int r = 0; r < 4; ++r) wv[r] = _mm512_maskz_loadu_ps(mask, w[r] + c);
    for (int i = 0; i < kM; ++i) {
      __m512 xv = _mm512_maskz_loadu_ps(mask, x + i * k + c);
      for (int r = 0; r < 4; ++r) acc[i][r] = _mm512_fmadd_ps(xv, wv[r], acc[i][r]);
    }
  }
  for (int i = 0; i < kM; ++i) {
    for (int r = 0; r < 4; ++r) out[i * ldo + r] = _mm512_reduce_add_ps(acc[i][r]);
  }
}

ANEC_AVX512 int64_t AxpyF16Avx512(float a, const Half* y, float* out, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 yv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i)));
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(av, yv, _mm512_loadu_ps(out + i)));
  }
  return i;
}

ANEC_AVX2 int64_t AxpyF16Avx2(float a, const Half* y, float* out, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 yv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i)));
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, yv, _mm256_loadu_ps(out + i)));
  }
  return i;
}
#endif

}  // namespace

float DotF32(const float* a, const float* b, int64_t n) {
#if defined(__x86_64__)
  switch (RowKernelSimdPath()) {
    case SimdPath::kAvx512:
      return DotF32Avx512(a, b, n);
    case SimdPath::kAvx2:
      return DotF32Avx2(a, b, n);
    case SimdPath::kPortable:
      break;
  }
#endif
  return DotF32Portable(a, b, n);
}

float DotF16(const float* x, const Half* w, int64_t n) {
#if defined(__x86_64__)
  switch (RowKernelSimdPath()) {
    case SimdPath::kAvx512:
      return DotF16Avx512(x, w, n);
    case SimdPath::kAvx2:
      return DotF16Avx2(x, w, n);
    case SimdPath::kPortable:
      break;
  }
#endif
  return DotF16Portable(x, w, n);
}

void DotTile(const float* x, int64_t m, const float* const* w, int64_t k, float* out, int64_t ldo) {
#if defined(__x86_64__)
  if (RowKernelSimdPath() == SimdPath::kAvx512) {
    switch (m) {
      case 1:
        return DotTileAvx512<1>(x, w, k, out, ldo);
      case 2:
        return DotTileAvx512<2>(x, w, k, out, ldo);
      case 3:
        return DotTileAvx512<3>(x, w, k, out, ldo);
      default:
        return DotTileAvx512<4>(x, w, k, out, ldo);
    }
  }
#endif
  for (int64_t i = 0; i < m; ++i) {
    for (int r = 0; r < 4; ++r) out[i * ldo + r] = DotF32(x + i * k, w[r], k);
  }
}

void AxpyF16(float a, const Half* y, float* out, int64_t n) {
  int64_t i = 0;
#if defined(__x86_64__)
  switch (RowKernelSimdPath()) {
    case SimdPath::kAvx512:
      i = AxpyF16Avx512(a, y, out, n);
      break;
    case SimdPath::kAvx2:
      i = AxpyF16Avx2(a, y, out, n);
      break;
    case SimdPath::kPortable:
      break;
  }
#endif
  for (; i < n; ++i) out[i] += a * HalfToFloatFast(y[i]);
}

}  // namespace anec::runtime
