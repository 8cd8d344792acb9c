// DotLutBlocked (row_kernels.h): the register-decoding dot for rows whose LUT changes every 16 or
// 32 columns. Kept apart from row_kernels.cc, which holds the per-row-table kernels.
#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"  // nothing here reads an uninitialized value

namespace anec::runtime {
namespace {

// The row decoded to fp32 block by block, then one DotF32 over it: the path of CPUs without
// AVX-512, summing in DotF32's order like the register path below.
float DotBlocksDecoded(const float* x, const uint8_t* q, const float* tables,
                       const int32_t* block_tables, int64_t block, int64_t cols, int bits) {
  auto decode = bits == 2 ? DecodeLut2Row : bits == 3 ? DecodeLut3Row : DecodeLut4Row;
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; c += block) {
    decode(q + c * bits / 8, tables + block_tables[c / block], block, row.data() + c);
  }
  return DotF32(x, row.data(), cols);
}

#if defined(__x86_64__)
#define ANEC_AVX512_BLOCKED __attribute__((target("avx512f,avx512bw,avx512vl")))

// 16 indices of `bits` bits starting at byte p, as dwords.
template <int kBits>
ANEC_AVX512_BLOCKED inline __m512i Indices16(const uint8_t* p) {
  if constexpr (kBits == 4) {  // 8 bytes: low nibbles are the even columns
    const __m128i low4 = _mm_set1_epi8(0x0F);
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    __m128i lo = _mm_and_si128(b, low4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
    return _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
  } else if constexpr (kBits == 2) {  // 4 bytes: index j at bits 2j
    uint32_t word;
    std::memcpy(&word, p, 4);
    const __m512i shifts =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(word)), shifts),
                            _mm512_set1_epi32(3));
  } else {  // 3 bits, 6 bytes: two 24-bit groups of 8 indices, index j at bits 3j of its group
    const uint32_t g0 = p[0] | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16);
    const uint32_t g1 = p[3] | (uint32_t{p[4]} << 8) | (uint32_t{p[5]} << 16);
    const __m512i v = _mm512_inserti64x4(_mm512_set1_epi32(static_cast<int>(g0)),
                                         _mm256_set1_epi32(static_cast<int>(g1)), 1);
    const __m512i shifts =
        _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 0, 3, 6, 9, 12, 15, 18, 21);
    return _mm512_and_si512(_mm512_srlv_epi32(v, shifts), _mm512_set1_epi32(7));
  }
}

// A table of 2^kBits entries in the low lanes. Only those entries are loaded (masked), so the
// last table is not over-read.
template <int kBits>
ANEC_AVX512_BLOCKED inline __m512 LoadTable(const float* t) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (1 << kBits)) - 1), t);
}
template <int kBits>
ANEC_AVX512_BLOCKED inline __m512 LoadTable(const Half* t) {
  return _mm512_cvtph_ps(
      _mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << (1 << kBits)) - 1), t));
}

template <int kBits, typename Table>
ANEC_AVX512_BLOCKED float DotBlockedAvx512(const float* x, const uint8_t* q, const Table* tables,
                                           const int32_t* block_tables, int64_t block,
                                           int64_t cols) {
  // Columns [32j, 32j + 16) go to s0 and [32j + 16, 32j + 32) to s1, and the two are added at
  // the end, as DotF32 and DotF16 sum: a carried matrix gives the very logits of the same
  // weights converted to fp16 (pipeline's PreserveQuantTest).
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  for (int64_t b = 0; b < cols; b += block) {
    const __m512 t = LoadTable<kBits>(tables + block_tables[b / block]);
    for (int64_t c = b; c < b + block; c += 16) {
      const __m512 w = _mm512_permutexvar_ps(Indices16<kBits>(q + c * kBits / 8), t);
      if ((c & 16) == 0) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), w, s0);
      } else {
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), w, s1);
      }
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#endif

}  // namespace

namespace {

template <typename Table>
float DotBlocked(const float* x, const uint8_t* q, const Table* avx512_tables, const float* tables,
                 const int32_t* block_tables, int64_t block, int64_t cols, int bits) {
#if defined(__x86_64__)
  if (RowKernelsUseAvx512()) {
    switch (bits) {
      case 2:
        return DotBlockedAvx512<2>(x, q, avx512_tables, block_tables, block, cols);
      case 3:
        return DotBlockedAvx512<3>(x, q, avx512_tables, block_tables, block, cols);
      default:
        return DotBlockedAvx512<4>(x, q, avx512_tables, block_tables, block, cols);
    }
  }
#else
  (void)avx512_tables;
#endif
  return DotBlocksDecoded(x, q, tables, block_tables, block, cols, bits);
}

}  // namespace

float DotLutBlocked(const float* x, const uint8_t* q, const float* tables,
                    const int32_t* block_tables, int64_t block, int64_t cols, int bits) {
  return DotBlocked(x, q, tables, tables, block_tables, block, cols, bits);
}

float DotLutBlockedHalf(const float* x, const uint8_t* q, const Half* half_tables,
                        const float* tables, const int32_t* block_tables, int64_t block,
                        int64_t cols, int bits) {
  return DotBlocked(x, q, half_tables, tables, block_tables, block, cols, bits);
}

}  // namespace anec::runtime
