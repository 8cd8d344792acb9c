#include "runtime/dot_rows.h"

#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"  // nothing here reads an uninitialized value

namespace anec::runtime {
namespace {

#if defined(__x86_64__)
#define ANEC_DOT_ROWS __attribute__((target("avx512f,avx512bw,avx512vl")))

// Lane r of the result: the sum of the 16 lanes of acc[r].
ANEC_DOT_ROWS __m512 TransposeSum16(const __m512* acc) {
  // Pairs of rows: per 128-bit block, row 2i in lanes 0 and 2, row 2i + 1 in lanes 1 and 3.
  __m512 s[8];
  for (int i = 0; i < 8; ++i) {
    s[i] = _mm512_add_ps(_mm512_unpacklo_ps(acc[2 * i], acc[2 * i + 1]),
                         _mm512_unpackhi_ps(acc[2 * i], acc[2 * i + 1]));
  }
  // Quads: per block, rows 4q..4q+3 in lanes 0..3 (one partial sum per block).
  __m512 u[4];
  for (int q = 0; q < 4; ++q) {
    const __m512d a = _mm512_castps_pd(s[2 * q]), b = _mm512_castps_pd(s[2 * q + 1]);
    u[q] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // Across blocks: block q of the result sums the 4 blocks of u[q].
  const __m512 w01 =
      _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x44), _mm512_shuffle_f32x4(u[0], u[1], 0xEE));
  const __m512 w23 =
      _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x44), _mm512_shuffle_f32x4(u[2], u[3], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w01, w23, 0x88), _mm512_shuffle_f32x4(w01, w23, 0xDD));
}

// 16 rows at a time; returns how many rows were done (a multiple of 16).
ANEC_DOT_ROWS int64_t DotF16RowsAvx512(const float* x, const Half* rows, int64_t row_stride,
                                       int64_t count, int64_t k, float* out) {
  int64_t j = 0;
  for (; j + 16 <= count; j += 16) {
    __m512 acc[16];
    for (int r = 0; r < 16; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 16) {
      const __mmask16 m = k - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (k - c)) - 1);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + c);
      const Half* base = rows + j * row_stride + c;
      for (int r = 0; r < 16; ++r) {
        const __m512 w = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, base + r * row_stride));
        acc[r] = _mm512_fmadd_ps(xv, w, acc[r]);
      }
    }
    _mm512_storeu_ps(out + j, TransposeSum16(acc));
  }
  return j;
}
// AxpyF16Rows with the output row in kV registers of 16 lanes.
template <int kV>
ANEC_DOT_ROWS void AxpyF16RowsAvx512(const float* a, int64_t count, const Half* rows,
                                     int64_t row_stride, float* out) {
  __m512 acc[kV];
  for (int v = 0; v < kV; ++v) acc[v] = _mm512_loadu_ps(out + 16 * v);
  for (int64_t r = 0; r < count; ++r) {
    if (a[r] == 0.0f) continue;
    const __m512 av = _mm512_set1_ps(a[r]);
    const Half* row = rows + r * row_stride;
    for (int v = 0; v < kV; ++v) {
      const __m512 y =
          _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 16 * v)));
      acc[v] = _mm512_fmadd_ps(av, y, acc[v]);  // AxpyF16Avx512's operation
    }
  }
  for (int v = 0; v < kV; ++v) _mm512_storeu_ps(out + 16 * v, acc[v]);
}
#endif

}  // namespace

void AxpyF16Rows(const float* a, int64_t count, const Half* rows, int64_t row_stride, float* out,
                 int64_t n) {
#if defined(__x86_64__)
  if (RowKernelsUseAvx512() && n % 16 == 0 && n >= 16 && n <= 128) {
    using Kernel = void (*)(const float*, int64_t, const Half*, int64_t, float*);
    static constexpr Kernel kByVectors[8] = {
        AxpyF16RowsAvx512<1>, AxpyF16RowsAvx512<2>, AxpyF16RowsAvx512<3>, AxpyF16RowsAvx512<4>,
        AxpyF16RowsAvx512<5>, AxpyF16RowsAvx512<6>, AxpyF16RowsAvx512<7>, AxpyF16RowsAvx512<8>};
    kByVectors[n / 16 - 1](a, count, rows, row_stride, out);
    return;
  }
#endif
  for (int64_t r = 0; r < count; ++r) {
    if (a[r] != 0.0f) AxpyF16(a[r], rows + r * row_stride, out, n);
  }
}

void DotF16Rows(const float* x, const Half* rows, int64_t row_stride, int64_t count, int64_t k,
                float* out) {
  int64_t j = 0;
#if defined(__x86_64__)
  if (RowKernelsUseAvx512()) j = DotF16RowsAvx512(x, rows, row_stride, count, k, out);
#endif
  for (; j < count; ++j) out[j] = DotF16(x, rows + j * row_stride, k);
}

}  // namespace anec::runtime
