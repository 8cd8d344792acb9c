// The path choice of row_kernels.h (CPUID, and the tests' switch to the portable path) and its
// LUT kernels: decoding rows of 2/3/4/6-bit indices and the fused LUT dots. The dense fp32 / fp16
// kernels are in row_kernels_dense.cc, the VBMI byte-lookup dots in row_kernels_byte_lookup.cc.
#include "runtime/row_kernels.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "runtime/x86_intrinsics.h"  // nothing here reads an uninitialized value

namespace anec::runtime {
namespace {

using Path = SimdPath;

Path Current() { return RowKernelSimdPath(); }

// Value c of an LSB-first packed stream of `bits`-bit values; reads only the bytes it needs.
inline uint32_t Packed(const uint8_t* q, int64_t c, int bits) {
  uint64_t bit = static_cast<uint64_t>(c) * static_cast<uint64_t>(bits);
  size_t byte = bit >> 3;
  uint32_t word = q[byte];
  if ((bit & 7) + static_cast<uint64_t>(bits) > 8) word |= static_cast<uint32_t>(q[byte + 1]) << 8;
  return (word >> (bit & 7)) & ((1u << bits) - 1);
}

void DecodePortable(const uint8_t* q, const float* table, int64_t from, int64_t cols, int bits,
                    float* out) {
  for (int64_t c = from; c < cols; ++c) out[c] = table[Packed(q, c, bits)];
}


#if defined(__x86_64__)
#define ANEC_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define ANEC_AVX2 __attribute__((target("avx2,fma,f16c")))


// 8 indices per step: the two 8-entry halves of the table through permutes, bit 3 picks one.
ANEC_AVX2 int64_t DecodeLut4Avx2(const uint8_t* q, const float* table, int64_t cols, float* out) {
  const __m256 lo = _mm256_loadu_ps(table), hi = _mm256_loadu_ps(table + 8);
  const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i fifteen = _mm256_set1_epi32(15);
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    uint32_t word;
    std::memcpy(&word, q + c / 2, 4);
    __m256i idx = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)), shifts), fifteen);
    __m256 a = _mm256_permutevar8x32_ps(lo, idx), b = _mm256_permutevar8x32_ps(hi, idx);
    __m256 pick_hi = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28));
    _mm256_storeu_ps(out + c, _mm256_blendv_ps(a, b, pick_hi));
  }
  return c;
}

// 8 indices (6 bytes) per step through a gather from the 64-entry table (L1-resident).
ANEC_AVX2 int64_t DecodeLut6Avx2(const uint8_t* q, const float* table, int64_t cols, float* out) {
  const __m256i shifts = _mm256_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18);
  const __m256i mask = _mm256_set1_epi32(63);
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    const uint8_t* g = q + c / 4 * 3;
    uint32_t a = g[0] | (static_cast<uint32_t>(g[1]) << 8) | (static_cast<uint32_t>(g[2]) << 16);
    uint32_t b = g[3] | (static_cast<uint32_t>(g[4]) << 8) | (static_cast<uint32_t>(g[5]) << 16);
    __m256i v = _mm256_setr_epi32(static_cast<int>(a), static_cast<int>(a), static_cast<int>(a),
                                  static_cast<int>(a), static_cast<int>(b), static_cast<int>(b),
                                  static_cast<int>(b), static_cast<int>(b));
    __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(v, shifts), mask);
    _mm256_storeu_ps(out + c, _mm256_i32gather_ps(table, idx, 4));
  }
  return c;
}


// 16 indices (8 bytes) per step: nibbles interleaved to bytes, widened, one 16-entry permute.
ANEC_AVX512 int64_t DecodeLut4Avx512(const uint8_t* q, const float* table, int64_t cols,
                                     float* out) {
  const __m512 t = _mm512_loadu_ps(table);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + c / 2));
    __m128i lo = _mm_and_si128(b, low4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
    __m512i idx = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    _mm512_storeu_ps(out + c, _mm512_permutexvar_ps(idx, t));
  }
  return c;
}

// vpshufb control for DecodeLut6Avx512: lane L, dword j <- bytes 3L, 3L+1, 3L+2 and a zero.
alignas(64) constexpr int8_t kLut6Shuffle[64] = {
    0, 1,  2,  -128, 0, 1,  2,  -128, 0, 1,  2,  -128, 0, 1,  2,  -128,
    3, 4,  5,  -128, 3, 4,  5,  -128, 3, 4,  5,  -128, 3, 4,  5,  -128,
    6, 7,  8,  -128, 6, 7,  8,  -128, 6, 7,  8,  -128, 6, 7,  8,  -128,
    9, 10, 11, -128, 9, 10, 11, -128, 9, 10, 11, -128, 9, 10, 11, -128};

// The 12 bytes at p in the low 12 bytes (plain loads: see DotLutVbmi on masked loads).
ANEC_AVX512 inline __m128i Load12(const uint8_t* p) {
  int64_t lo;
  int32_t hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 4);
  return _mm_insert_epi32(_mm_cvtsi64_si128(lo), hi, 2);
}

// 16 indices (12 bytes, 4 groups of 3) per step: each 128-bit lane gets one group's 3 bytes in
// all 4 dwords, shifted by 0/6/12/18; two 32-entry permutes and bit 5 pick the table entry.
ANEC_AVX512 int64_t DecodeLut6Avx512(const uint8_t* q, const float* table, int64_t cols,
                                     float* out) {
  const __m512 t0 = _mm512_loadu_ps(table), t1 = _mm512_loadu_ps(table + 16),
               t2 = _mm512_loadu_ps(table + 32), t3 = _mm512_loadu_ps(table + 48);
  const __m512i ctl = _mm512_load_si512(kLut6Shuffle);
  const __m512i shifts = _mm512_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18);
  const __m512i mask = _mm512_set1_epi32(63), bit5 = _mm512_set1_epi32(32);
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    __m128i b = Load12(q + c / 4 * 3);
    __m512i v = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(b), ctl);
    __m512i idx = _mm512_and_si512(_mm512_srlv_epi32(v, shifts), mask);
    __m512 lo = _mm512_permutex2var_ps(t0, idx, t1), hi = _mm512_permutex2var_ps(t2, idx, t3);
    _mm512_storeu_ps(out + c, _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, bit5), lo, hi));
  }
  return c;
}
// Fused decode + dot: the decoded values never leave registers.
ANEC_AVX512 float DotLut4Avx512(const float* x, const uint8_t* q, const float* table, int64_t cols,
                                int64_t* done) {
  const __m512 t = _mm512_loadu_ps(table);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c / 2));
    __m128i lo = _mm_and_si128(b, low4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
    __m512i i0 = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    __m512i i1 = _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_permutexvar_ps(i0, t), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16), _mm512_permutexvar_ps(i1, t), s1);
  }
  for (; c + 16 <= cols; c += 16) {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + c / 2));
    __m128i lo = _mm_and_si128(b, low4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
    __m512i idx = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_permutexvar_ps(idx, t), s0);
  }
  *done = c;
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// 16 table values for the 16 indices in the 12 bytes at g.
ANEC_AVX512 inline __m512 Lut6x16(const uint8_t* g, __m512 t0, __m512 t1, __m512 t2, __m512 t3,
                                  __m512i ctl, __m512i shifts) {
  __m128i b = Load12(g);
  __m512i v = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(b), ctl);
  __m512i idx = _mm512_and_si512(_mm512_srlv_epi32(v, shifts), _mm512_set1_epi32(63));
  __m512 lo = _mm512_permutex2var_ps(t0, idx, t1), hi = _mm512_permutex2var_ps(t2, idx, t3);
  return _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)), lo, hi);
}

ANEC_AVX512 float DotLut6Avx512(const float* x, const uint8_t* q, const float* table, int64_t cols,
                                int64_t* done) {
  const __m512 t0 = _mm512_loadu_ps(table), t1 = _mm512_loadu_ps(table + 16),
               t2 = _mm512_loadu_ps(table + 32), t3 = _mm512_loadu_ps(table + 48);
  const __m512i ctl = _mm512_load_si512(kLut6Shuffle);
  const __m512i shifts = _mm512_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    const uint8_t* g = q + c / 4 * 3;
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), Lut6x16(g, t0, t1, t2, t3, ctl, shifts), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16), Lut6x16(g + 12, t0, t1, t2, t3, ctl, shifts),
                         s1);
  }
  for (; c + 16 <= cols; c += 16) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c),
                         Lut6x16(q + c / 4 * 3, t0, t1, t2, t3, ctl, shifts), s0);
  }
  *done = c;
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#endif

// Portable tail of a fused LUT dot from column `from`.
float DotLutTail(const float* x, const uint8_t* q, const float* table, int64_t from, int64_t cols,
                 int bits) {
  float s = 0;
  for (int64_t c = from; c < cols; ++c) s += x[c] * table[Packed(q, c, bits)];
  return s;
}

float DotLutGeneric(const float* x, const uint8_t* q, const float* table, int64_t cols, int bits) {
  float buf[256];
  float total = 0;
  // Decode in pieces of 256 (byte-aligned for 4 and 6 bits), dot each piece.
  for (int64_t c = 0; c < cols; c += 256) {
    int64_t n = std::min<int64_t>(256, cols - c);
    const uint8_t* qc = q + c * bits / 8;
    if (bits == 4) {
      DecodeLut4Row(qc, table, n, buf);
    } else {
      DecodeLut6Row(qc, table, n, buf);
    }
    total += DotF32(x + c, buf, n);
  }
  return total;
}

}  // namespace

float DotLut4(const float* x, const uint8_t* q, const float* table, int64_t cols) {
#if defined(__x86_64__)
  if (Current() == Path::kAvx512) {
    int64_t done = 0;
    float s = DotLut4Avx512(x, q, table, cols, &done);
    return s + DotLutTail(x, q, table, done, cols, 4);
  }
#endif
  return DotLutGeneric(x, q, table, cols, 4);
}

float DotLut6(const float* x, const uint8_t* q, const float* table, int64_t cols) {
#if defined(__x86_64__)
  if (Current() == Path::kAvx512) {
    int64_t done = 0;
    float s = DotLut6Avx512(x, q, table, cols, &done);
    return s + DotLutTail(x, q, table, done, cols, 6);
  }
#endif
  return DotLutGeneric(x, q, table, cols, 6);
}

void DecodeLut2Row(const uint8_t* q, const float* table, int64_t cols, float* out) {
  int64_t c = 0;
  for (; c + 4 <= cols; c += 4, ++q) {
    const unsigned b = *q;
    out[c] = table[b & 3];
    out[c + 1] = table[(b >> 2) & 3];
    out[c + 2] = table[(b >> 4) & 3];
    out[c + 3] = table[b >> 6];
  }
  for (int shift = 0; c < cols; ++c, shift += 2) out[c] = table[(*q >> shift) & 3];
}

void DecodeLut3Row(const uint8_t* q, const float* table, int64_t cols, float* out) {
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8, q += 3) {
    const uint32_t v = q[0] | (uint32_t{q[1]} << 8) | (uint32_t{q[2]} << 16);
    for (int k = 0; k < 8; ++k) out[c + k] = table[(v >> (3 * k)) & 7];
  }
  if (c < cols) {  // fewer than 8 left: only the bytes they use are readable
    const int64_t bytes = ((cols - c) * 3 + 7) / 8;
    uint32_t v = 0;
    for (int64_t i = 0; i < bytes; ++i) v |= uint32_t{q[i]} << (8 * i);
    for (int k = 0; c < cols; ++c, ++k) out[c] = table[(v >> (3 * k)) & 7];
  }
}

void DecodeLut4Row(const uint8_t* q, const float* table, int64_t cols, float* out) {
  int64_t c = 0;
#if defined(__x86_64__)
  switch (Current()) {
    case Path::kAvx512:
      c = DecodeLut4Avx512(q, table, cols, out);
      break;
    case Path::kAvx2:
      c = DecodeLut4Avx2(q, table, cols, out);
      break;
    case Path::kPortable:
      break;
  }
#endif
  DecodePortable(q, table, c, cols, 4, out);
}

void DecodeLut6Row(const uint8_t* q, const float* table, int64_t cols, float* out) {
  int64_t c = 0;
#if defined(__x86_64__)
  switch (Current()) {
    case Path::kAvx512:
      c = DecodeLut6Avx512(q, table, cols, out);
      break;
    case Path::kAvx2:
      c = DecodeLut6Avx2(q, table, cols, out);
      break;
    case Path::kPortable:
      break;
  }
#endif
  DecodePortable(q, table, c, cols, 6, out);
}


namespace row_kernels_internal {
SimdPath DetectSimdPath() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    return SimdPath::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && CpuHasF16c()) {
    return SimdPath::kAvx2;
  }
#endif
  return SimdPath::kPortable;
}
}  // namespace row_kernels_internal

const char* RowKernelPath() {
  switch (Current()) {
    case Path::kAvx512:
      return "avx512";
    case Path::kAvx2:
      return "avx2";
    case Path::kPortable:
      return "portable";
  }
  return "portable";
}

bool RowKernelsUseAvx512() { return Current() == Path::kAvx512; }

void ForcePortableRowKernels(bool portable) {
  row_kernels_internal::force_portable.store(portable, std::memory_order_relaxed);
}

}  // namespace anec::runtime
