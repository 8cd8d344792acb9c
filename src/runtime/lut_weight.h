// A constexpr_lut_to_dense constant kept compressed: packed n-bit indices plus lookup tables.
//
// Semantics (Core ML iOS18 constexpr_lut_to_dense): indices uintN[d0..dR-1], lut
// T[g0..gR-1, 2^N, VECTOR_SIZE]; each gk divides dk and selects the table for a block of
// dk/gk positions along axis k; with VECTOR_SIZE > 1 every index expands to VECTOR_SIZE
// consecutive outputs along `vector_axis`. Matmul kernels decode one row at a time straight from
// the packed bits (DecodeRow), so a palettized model is never expanded as a whole; anything else
// that needs the values gets Dense(), built once on first use.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "runtime/tensor.h"

namespace anec::runtime {

class LutWeight {
 public:
  // `packed`: LSB-first bit stream of NumElements(indices_shape) values of `bits` bits, kept
  // alive by `keep_alive`. `lut`: a dense fp16/fp32/int8/uint8 tensor of rank
  // indices rank + 2. Validates every shape rule above.
  static Result<std::shared_ptr<LutWeight>> Create(std::span<const uint8_t> packed,
                                                   std::shared_ptr<const void> keep_alive, int bits,
                                                   Shape indices_shape, Tensor lut,
                                                   std::optional<int64_t> vector_axis);

  DType dtype() const { return lut_.dtype(); }
  const Shape& shape() const { return out_shape_; }
  int bits() const { return bits_; }
  size_t compressed_bytes() const { return packed_.size() + lut_.nbytes(); }

  // The index stored for flat element i of the indices tensor.
  uint32_t IndexAt(int64_t i) const;

  // True when rows along axis 0 can be decoded directly: VECTOR_SIZE == 1 and a float table.
  bool RowDecodable() const { return row_decodable_; }
  // Row `row` of the weight seen as [shape[0], size / shape[0]], as fp32 (table values are
  // exact in fp32). REQUIRES: RowDecodable(), 0 <= row < shape()[0].
  void DecodeRow(int64_t row, float* out) const;
  // True when DotRow decodes in registers: 4- or 6-bit indices with one table per row, rows
  // starting on a byte; or 2-, 3- or 4-bit indices whose tables change every 16 or 32 columns
  // (carried GGUF blocks, DotLutBlocked).
  bool FastDot() const { return fast_dot_; }
  // sum_c x[c] * row `row` [c] in fp32. REQUIRES: FastDot(); x holds size / shape[0] values.
  float DotRow(int64_t row, const float* x) const;
  // out[r] = DotRow(r, x) + (bias ? bias[r] : 0) for r in [begin, end): the one-token GEMV in
  // one call (the byte-lookup kernel loops over the rows itself). Each row's packed indices and,
  // when its tables change along the row, its tables are prefetched `ahead` rows before they
  // are read. REQUIRES: FastDot(); 0 <= begin <= end <= shape()[0].
  void DotRows(int64_t begin, int64_t end, const float* x, int64_t ahead, const float* bias,
               float* out) const;
  // Bytes of packed indices per row (rows start on a byte when FastDot()).
  int64_t packed_row_bytes() const { return cols_ * bits_ / 8; }

  // The full dense tensor (dtype of the table), built on first call; thread-safe.
  const Tensor& Dense() const;

 private:
  LutWeight() = default;
  Tensor Expand() const;
  // Hints the CPU to start reading what DotRow streams for `row` (rows outside are ignored).
  // Always inlined: as a separate function whose only effect is prefetching, GCC's IPA judged
  // it free of side effects and deleted the calls from DotRows (LUT4 decode ran 25% slower).
  inline __attribute__((always_inline)) void PrefetchRow(int64_t row) const;
  // n values of 2, 3, 4 or 6 bits from the byte-aligned `q` through `table`.
  void DecodeAligned(const uint8_t* q, const float* table, int64_t n, float* out) const;

  std::span<const uint8_t> packed_;
  std::shared_ptr<const void> keep_alive_;
  int bits_ = 0;
  Shape indices_shape_, out_shape_;
  Tensor lut_;
  int64_t vector_axis_ = 0, vector_size_ = 1, palette_ = 0;
  bool row_decodable_ = false;
  // Row decoding: fp32 copy of the tables; table offset of row r is row_table_[r]; when tables
  // also vary along columns, col_table_[c] is added (else empty).
  std::vector<int64_t> gstride_;
  std::vector<float> table_f32_;
  std::vector<int64_t> row_table_;
  std::vector<int32_t> col_table_;
  // SplitHalfTable of every table (128 bytes each, table t at 128 t) when DotRow uses the
  // byte-lookup kernel (fp16 tables, HasLutByteLookup()); else empty.
  std::vector<uint8_t> split_tables_;
  int64_t col_block_ = 0;
  // DotRow over column blocks: block b's table is at row_table_[row] + block_table_[b] (empty
  // when DotRow takes one table per row).
  std::vector<int32_t> block_table_;
  bool fast_dot_ = false;  // > 0: col_table_ is constant on aligned runs of this many columns
  int64_t cols_ = 0;

  mutable std::once_flag dense_once_;
  mutable Tensor dense_;
};

}  // namespace anec::runtime
