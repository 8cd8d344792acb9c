// The byte-lookup LUT kernels of row_kernels.h (SplitHalfTable, DotLutSplit, DotLutSplitRows):
// 4- and 6-bit indices with fp16 tables looked up by vpermb on AVX-512 VBMI. Kept apart from
// row_kernels.cc, which holds the other per-row kernels and the path choice.
#include <algorithm>
#include <cstdint>

#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"  // nothing here reads an uninitialized value

namespace anec::runtime {
namespace {

#if defined(__x86_64__)
// Byte-lookup LUT dot (AVX-512 VBMI): 64 indices per step. vpermb gathers, for each qword, the
// bytes holding 8 consecutive indices; vpmultishiftqb moves index j of the qword to byte j;
// two vpermb look the 64 indices up in the table's low and high fp16 bytes (vpermb reads only
// the low 6 bits of an index byte: a 16-entry table repeated 4 times absorbs the 2 stray bits
// of 4-bit indices); unpacking the two halves gives fp16 weights, widened and multiplied.
// qword k = 2L + h holds columns 8g..8g+7 with g = L (h = 0) or 4 + L (h = 1), so that the
// in-lane unpacks produce columns 0..31 and 32..63 in order.
#define ANEC_AVX512VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))

struct ByteLookupControl {
  alignas(64) uint8_t gather[64];
  alignas(64) uint8_t shift[64];
};

constexpr ByteLookupControl MakeByteLookupControl(int bits) {
  ByteLookupControl c{};
  for (int k = 0; k < 8; ++k) {
    int g = k % 2 == 0 ? k / 2 : 4 + k / 2;
    for (int b = 0; b < 8; ++b) {
      // Bytes beyond a group's bits (b >= bits) are never read by the shifts that matter.
      c.gather[8 * k + b] = static_cast<uint8_t>(g * bits + std::min(b, bits - 1));
      c.shift[8 * k + b] = static_cast<uint8_t>(b * bits);
    }
  }
  return c;
}
constexpr ByteLookupControl kByteLookup4 = MakeByteLookupControl(4);
constexpr ByteLookupControl kByteLookup6 = MakeByteLookupControl(6);

template <int kBits>
ANEC_AVX512VBMI inline __attribute__((always_inline)) float DotLutVbmiBody(
    const float* x, const uint8_t* q, const uint8_t* split, int64_t cols, int64_t* done) {
  constexpr const ByteLookupControl& ctl = kBits == 4 ? kByteLookup4 : kByteLookup6;
  const __m512i gather = _mm512_load_si512(ctl.gather), shift = _mm512_load_si512(ctl.shift);
  const __m512i lo_table = _mm512_loadu_si512(split), hi_table = _mm512_loadu_si512(split + 64);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 64 <= cols; c += 64) {
    // Exactly the 8 * kBits bytes of this step, by plain loads: a masked zmm load here runs at
    // a third of the rate when the weights stream from memory (measured on Zen 4).
    const uint8_t* p = q + c / 8 * kBits;
    __m512i src = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    if constexpr (kBits == 6) {
      src = _mm512_inserti32x4(src, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32)), 2);
    }
    __m512i idx = _mm512_multishift_epi64_epi8(shift, _mm512_permutexvar_epi8(gather, src));
    __m512i lo = _mm512_permutexvar_epi8(idx, lo_table),
            hi = _mm512_permutexvar_epi8(idx, hi_table);
    __m512i a = _mm512_unpacklo_epi8(lo, hi), b = _mm512_unpackhi_epi8(lo, hi);
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_cvtph_ps(_mm512_castsi512_si256(a)), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16),
                         _mm512_cvtph_ps(_mm512_extracti64x4_epi64(a, 1)), s1);
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 32), _mm512_cvtph_ps(_mm512_castsi512_si256(b)),
                         s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 48),
                         _mm512_cvtph_ps(_mm512_extracti64x4_epi64(b, 1)), s1);
  }
  *done = c;
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// DotLutVbmi over rows [begin, end) in one call: the per-row calls, dispatch and prefetch
// bookkeeping cost a third of the kernel's time on 576-column rows (runtime_bench --gemv,
// SmolLM2's shapes, docs/RUNTIME.md "Per-op costs"). Rows whose columns are not a multiple of
// 64 finish their tail through DotLut4 / DotLut6, as DotLutSplit does.
template <int kBits>
ANEC_AVX512VBMI void DotLutVbmiRows(const LutRows& w, const float* x, int64_t begin, int64_t end,
                                    int64_t ahead, const float* bias, float* out) {
  const int64_t cols = w.cols;
  for (int64_t r = begin; r < end; ++r) {
    if (r + ahead < end) {
      const uint8_t* next = w.q + (r + ahead) * w.row_bytes;
      for (int64_t b = 0; b < w.row_bytes; b += 64) __builtin_prefetch(next + b);
    }
    const uint8_t* q = w.q + r * w.row_bytes;
    const int64_t table = w.row_table[r];
    int64_t done = 0;
    float s = DotLutVbmiBody<kBits>(x, q, w.split + (table >> w.palette_shift) * 128, cols, &done);
    if (done < cols) {
      const uint8_t* rest = q + done / 8 * kBits;
      s += kBits == 4 ? DotLut4(x + done, rest, w.tables + table, cols - done)
                      : DotLut6(x + done, rest, w.tables + table, cols - done);
    }
    out[r] = s + (bias != nullptr ? bias[r] : 0.0f);
  }
}

template <int kBits>
ANEC_AVX512VBMI float DotLutVbmi(const float* x, const uint8_t* q, const uint8_t* split,
                                 int64_t cols, int64_t* done) {
  return DotLutVbmiBody<kBits>(x, q, split, cols, done);
}

bool DetectVbmi() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi");
}
#endif

bool ByteLookupAvailable() {
#if defined(__x86_64__)
  static const bool vbmi = DetectVbmi();
  return vbmi && RowKernelsUseAvx512();  // false while the portable kernels are forced
#else
  return false;
#endif
}

}  // namespace

bool HasLutByteLookup() { return ByteLookupAvailable(); }

void SplitHalfTable(const Half* table, int entries, uint8_t* out) {
  for (int i = 0; i < 64; ++i) {
    Half h = table[i % entries];
    out[i] = static_cast<uint8_t>(h & 0xFF);
    out[64 + i] = static_cast<uint8_t>(h >> 8);
  }
}

float DotLutSplit(const float* x, const uint8_t* q, const uint8_t* split, const float* table,
                  int64_t cols, int bits) {
  int64_t done = 0;
  float s = 0;
#if defined(__x86_64__)
  if (ByteLookupAvailable()) {
    s = bits == 4 ? DotLutVbmi<4>(x, q, split, cols, &done)
                  : DotLutVbmi<6>(x, q, split, cols, &done);
  }
#endif
  if (done == cols) return s;
  // The last cols % 64 columns (or all, without VBMI) through the fp32-table path.
  const uint8_t* rest = q + done / 8 * bits;
  return s + (bits == 4 ? DotLut4(x + done, rest, table, cols - done)
                        : DotLut6(x + done, rest, table, cols - done));
}

void DotLutSplitRows(const LutRows& w, const float* x, int64_t begin, int64_t end, int64_t ahead,
                     const float* bias, float* out) {
#if defined(__x86_64__)
  if (ByteLookupAvailable()) {
    if (w.bits == 4) {
      DotLutVbmiRows<4>(w, x, begin, end, ahead, bias, out);
    } else {
      DotLutVbmiRows<6>(w, x, begin, end, ahead, bias, out);
    }
    return;
  }
#endif
  for (int64_t r = begin; r < end; ++r) {
    if (r + ahead < end) {
      const uint8_t* next = w.q + (r + ahead) * w.row_bytes;
      for (int64_t b = 0; b < w.row_bytes; b += 64) __builtin_prefetch(next + b);
    }
    const int64_t table = w.row_table[r];
    out[r] = DotLutSplit(x, w.q + r * w.row_bytes, w.split + (table >> w.palette_shift) * 128,
                         w.tables + table, w.cols, w.bits) +
             (bias != nullptr ? bias[r] : 0.0f);
  }
}

}  // namespace anec::runtime
