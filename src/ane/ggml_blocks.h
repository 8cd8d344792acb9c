// GGUF Q4_0 / Q4_1 / Q8_0 blocks as Core ML iOS18 constexpr inputs, without re-quantizing
// (`anec convert --preserve-quant`, docs/GGUF_FORMAT.md "Carrying blocks into Core ML"):
//   Q8_0 -> constexpr_blockwise_shift_scale(data int8 = q, scale fp16 = d)        exact
//   Q4_0 -> constexpr_blockwise_shift_scale(data int4 = q - 8, scale fp16 = d)    exact
//   Q4_1 -> constexpr_lut_to_dense(indices uint4 = q, lut fp16 = one 16-entry table per block,
//           entry q = fp16(d*q + m) computed by io::DequantizeGgml, so it rounds exactly as the
//           fp16 conversion path does). d*q + m has no integer offset, hence a table.
// One scale / table covers a block of 32 consecutive columns of one row.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/gguf_file.h"
#include "mil/program_builder.h"

namespace anec::ane {

struct PreservedBlocks {
  std::string op;            // "constexpr_blockwise_shift_scale" or "constexpr_lut_to_dense"
  std::string first_param;   // "data" or "indices"
  std::string second_param;  // "scale" or "lut"
  mil::Tensor first;         // int8/int4 data or uint4 indices, of `shape`
  mil::Tensor second;        // fp16 scale [rows, cols/32, 1...] or lut [rows, cols/32, 1..., 16, 1]
};

// Rows [row_begin, row_end) of a [rows, cols] tensor of `type` stored as `bytes` (row-major
// blocks). `shape` is the constexpr output: [row_end - row_begin, cols, 1, ..., 1].
// Errors: an unsupported type, a shape or byte count that does not match.
Result<PreservedBlocks> EncodeGgmlBlocks(io::GgmlType type, std::span<const uint8_t> bytes,
                                         int64_t rows, int64_t cols, int64_t row_begin,
                                         int64_t row_end, const std::vector<int64_t>& shape);

// Stored bits per weight when a matrix of `type` is carried as above (scales and tables
// included): Q4_0 4.5, Q4_1 12 (a 16-entry fp16 table per 32 weights), Q8_0 8.5; 0 for a type
// that is not carried (it is converted like any other weight). For size planning.
double CarriedBitsPerWeight(io::GgmlType type);

}  // namespace anec::ane
