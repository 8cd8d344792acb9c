// SIMD inner loops of the weight path (weight_matrix.h): one weight row decoded from its stored
// form (packed 4-bit / 6-bit LUT indices) into fp32, and fp32 dot products with an fp32 or an
// fp16 row. Each entry point picks, once per process, the widest code the CPU runs (AVX-512,
// AVX2 + FMA + F16C, or portable C++), so the build needs no -march flag and runs on any
// x86-64 or aarch64.
//
// Decoding is exact: a table value is copied, never recomputed. Dot products accumulate in fp32
// in a fixed order per code path (results may differ from a sequential sum by rounding only).
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/half.h"

namespace anec::runtime {

// out[c] = table[index c] for c < cols, index c being bits [4c, 4c + 4) of q (LSB first).
// REQUIRES: q holds (cols * 4 + 7) / 8 readable bytes; table has 16 entries.
void DecodeLut4Row(const uint8_t* q, const float* table, int64_t cols, float* out);
// As DecodeLut4Row with 6-bit indices (bits [6c, 6c + 6)); table has 64 entries.
// REQUIRES: q holds (cols * 6 + 7) / 8 readable bytes.
void DecodeLut6Row(const uint8_t* q, const float* table, int64_t cols, float* out);

// As DecodeLut4Row with 2-bit (4 entries, 4 indices per byte) and 3-bit indices (8 entries, 8
// indices in every 3 bytes): carried GGUF Q2_K / Q3_K weights (ane/ggml_blocks.h).
// REQUIRES: q holds (cols * bits + 7) / 8 readable bytes.
void DecodeLut2Row(const uint8_t* q, const float* table, int64_t cols, float* out);
void DecodeLut3Row(const uint8_t* q, const float* table, int64_t cols, float* out);

// sum_c x[c] * table[index c] in fp32, decoded in registers (LUT GEMV of one token).
// REQUIRES: as DecodeLut4Row / DecodeLut6Row.
float DotLut4(const float* x, const uint8_t* q, const float* table, int64_t cols);
float DotLut6(const float* x, const uint8_t* q, const float* table, int64_t cols);

// Byte-lookup form of a 16- or 64-entry fp16 table for DotLutSplit: 128 bytes, the low bytes
// of the entries then the high bytes, 64 each (a 16-entry table repeated 4 times).
void SplitHalfTable(const Half* table, int entries, uint8_t* out);
// True when DotLutSplit runs its byte-lookup kernel (AVX-512 VBMI): 64 indices per step,
// weights looked up as fp16 bytes by vpermb, about twice the rate of DotLut4/DotLut6.
bool HasLutByteLookup();
// As DotLut4 / DotLut6 (bits 4 or 6): `split` is SplitHalfTable of the same table, `table` its
// fp32 copy (used for the columns past the last multiple of 64, and without VBMI).
// REQUIRES: as DotLut4 / DotLut6; table values are exact fp16 values.
float DotLutSplit(const float* x, const uint8_t* q, const uint8_t* split, const float* table,
                  int64_t cols, int bits);

// A LUT matrix as DotLutSplitRows reads it: row r's `bits`-bit indices start at q + r *
// row_bytes; its table is tables + row_table[r] (fp32) and split + (row_table[r] >>
// palette_shift) * 128 (SplitHalfTable of the same entries; tables of 2^palette_shift entries,
// a shift because a division per row cost as much as a tenth of a 576-column row).
struct LutRows {
  const uint8_t* q = nullptr;
  int64_t row_bytes = 0;
  const uint8_t* split = nullptr;
  const float* tables = nullptr;
  const int64_t* row_table = nullptr;
  int palette_shift = 0;
  int64_t cols = 0;
  int bits = 0;
};
// out[r] = DotLutSplit of row r with x, plus bias[r] when bias is not null, for r in [begin,
// end), each row's indices prefetched `ahead` rows before it is read (the one-token GEMV).
// Same bits as DotLutSplit row by row. REQUIRES: as DotLutSplit for every row.
void DotLutSplitRows(const LutRows& w, const float* x, int64_t begin, int64_t end, int64_t ahead,
                     const float* bias, float* out);

// sum_c x[c] * table_b[index c] over a row whose table changes every `block` columns, table_b
// starting at tables + block_tables[c / block] (carried GGUF blocks: Q4_1 / Q4_K at 4 bits per
// 32 columns, Q2_K / Q3_K at 2 / 3 bits per 16). Decoded in registers on AVX-512; elsewhere
// decoded block by block, then DotF32. Sums in DotF32's order, so the result has the bits DotF32
// gives on the decoded row (a carried matrix gives the logits of its fp16 conversion).
// REQUIRES: bits 2, 3 or 4; block a positive multiple of 16 dividing cols; q holds
// cols * bits / 8 bytes; each table has 2^bits entries.
float DotLutBlocked(const float* x, const uint8_t* q, const float* tables,
                    const int32_t* block_tables, int64_t block, int64_t cols, int bits);
// As DotLutBlocked, with the tables also given as fp16 (`half_tables`, same offsets; what the
// converter stores): on AVX-512 each block's table is read as fp16 and widened in registers,
// so a Q4_1 block of 32 weights reads 16 + 32 bytes instead of 16 + 64 (decode is bound by
// those bytes). Elsewhere the fp32 `tables` are used. REQUIRES: as DotLutBlocked; half_tables
// holds the fp16 values of `tables`.
float DotLutBlockedHalf(const float* x, const uint8_t* q, const Half* half_tables,
                        const float* tables, const int32_t* block_tables, int64_t block,
                        int64_t cols, int bits);

// sum_i a[i] * b[i] in fp32.
float DotF32(const float* a, const float* b, int64_t n);
// sum_i x[i] * float(w[i]) in fp32 (fp16 -> fp32 is exact).
float DotF16(const float* x, const Half* w, int64_t n);

// A register tile of a GEMM: out[i * ldo + r] = sum_c x[i * k + c] * w[r][c] for i < m (rows of
// x, 1 <= m <= 4) and r < 4 (four weight rows of k values each). Accumulates in fp32.
void DotTile(const float* x, int64_t m, const float* const* w, int64_t k, float* out, int64_t ldo);

// out[i] += a * float(y[i]) for i < n (fp32 multiply-add per element).
void AxpyF16(float a, const Half* y, float* out, int64_t n);

// Which path the entry points above take on this CPU: "avx512", "avx2" or "portable".
const char* RowKernelPath();
// The same as a value, for the other SIMD kernels of the runtime (they follow the same choice,
// and the same test switch below). Inline: the dense kernels ask once per weight row.
enum class SimdPath { kPortable, kAvx2, kAvx512 };
namespace row_kernels_internal {
SimdPath DetectSimdPath();  // from CPUID, once
inline std::atomic<bool> force_portable{false};
}  // namespace row_kernels_internal
inline SimdPath RowKernelSimdPath() {
  static const SimdPath best = row_kernels_internal::DetectSimdPath();
  return row_kernels_internal::force_portable.load(std::memory_order_relaxed) ? SimdPath::kPortable
                                                                              : best;
}
// RowKernelPath() == "avx512", without building a string (for per-row dispatch).
bool RowKernelsUseAvx512();
// Tests: forces the portable path (true) or the CPU's best (false) for later calls.
void ForcePortableRowKernels(bool portable);

}  // namespace anec::runtime
