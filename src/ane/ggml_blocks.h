// GGUF block types as Core ML iOS18 constexpr inputs, without re-quantizing
// (`anec convert --preserve-quant`, docs/GGUF_FORMAT.md "Carrying blocks into Core ML").
// Every form below decompresses to exactly the fp16 values the fp16 conversion path stores
// (io::DequantizeGgml in fp32, rounded to fp16 once):
//   Q8_0 -> constexpr_blockwise_shift_scale(data int8 = q,      scale fp16 = d per 32)
//   Q4_0 -> constexpr_blockwise_shift_scale(data int4 = q - 8,  scale fp16 = d per 32)
//   Q5_0 -> constexpr_blockwise_shift_scale(data int8 = q - 16, scale fp16 = d per 32)
//     d*(q - z) is an exact product of an fp16 and a small integer, rounded once to fp16 by
//     both fp16 and fp32 evaluation.
//   Q4_1, Q4_K -> constexpr_lut_to_dense(indices uint4 = q, one 16-entry fp16 table per 32)
//   Q2_K       -> constexpr_lut_to_dense(indices uint2 = q, one  4-entry fp16 table per 16)
//   Q3_K       -> constexpr_lut_to_dense(indices uint3 = q, one  8-entry fp16 table per 16)
//     a table entry is the fp16 value the reference dequantizer gives for that code in that
//     sub-block (entries for codes the sub-block never uses are 0). These types add a per-block
//     minimum (d*q + m) or a scale product d*s that is not an fp16 number, so no shift-scale
//     form is exact for them (docs/GGUF_FORMAT.md has the argument).
// Q5_1, Q5_K, Q6_K are not carried: their exact table forms would be larger than fp16.
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
  mil::Tensor first;         // int8/int4 data or uint2/3/4 indices, of `shape`
  mil::Tensor second;        // fp16 scale [rows, cols/G, 1...] or lut [rows, cols/G, 1..., 2^b, 1]
};

// Rows [row_begin, row_end) of a [rows, cols] tensor of `type` stored as `bytes` (row-major
// blocks). `shape` is the constexpr output: [row_end - row_begin, cols, 1, ..., 1].
// Errors: a type that is not carried, a shape or byte count that does not match.
Result<PreservedBlocks> EncodeGgmlBlocks(io::GgmlType type, std::span<const uint8_t> bytes,
                                         int64_t rows, int64_t cols, int64_t row_begin,
                                         int64_t row_end, const std::vector<int64_t>& shape);

// Stored bits per weight when a matrix of `type` is carried as above (scales and tables
// included): Q4_0 4.5, Q5_0 and Q8_0 8.5, Q4_1 and Q4_K 12, Q2_K 6, Q3_K 11; 0 for a type that
// is not carried (it is converted like any other weight). For size planning.
double CarriedBitsPerWeight(io::GgmlType type);

// Why a quantized `type` is not carried (empty for carried and plain float types): one line
// for the conversion log.
std::string NotCarriedReason(io::GgmlType type);

}  // namespace anec::ane
