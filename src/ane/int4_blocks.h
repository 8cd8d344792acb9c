// GPTQ / AWQ int4 groups (io::Int4Blockwise, docs/PREQUANT.md) as the inputs of Core ML iOS18's
// constexpr_blockwise_shift_scale, without re-quantizing:
//   dense[o, j] = scale[o, j / block] * (data[o, j] - offset[o, j / block])
// data uint4 = the codes, scale fp16 = the group scales (exact in fp16, checked by ToBlockwise),
// offset = the zero points: uint4 (the dtype of data, as the op requires for integer offsets),
// or fp16 when some zero is 16 (GPTQ v1's stored 15 + 1), which fp16 holds exactly.
// One block is one quantization group of consecutive input features of one output row.
//
// Act-order (GPTQ desc_act): the columns of `data` are in group order, input feature
// b.input_permutation[j] at column j. `input_order` is its inverse, so that the weight in the
// checkpoint's input order is gather(dense, input_order, axis=1) (weight_emitter.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "io/prequant_linear.h"
#include "mil/program_builder.h"

namespace anec::ane {

struct Int4Constants {
  mil::Tensor data;                  // uint4, of `shape`
  mil::Tensor scale;                 // fp16 [rows, in / block, 1, ...]
  mil::Tensor offset;                // uint4 or fp16, the shape of `scale`
  std::vector<int32_t> input_order;  // empty, or [in]: column of `dense` holding input i
};

// Rows [row_begin, row_end) of `b`, for a constexpr output of `shape`
// ([row_end - row_begin, in, 1, ..., 1]). Errors name the weight: rows out of range, a shape
// that does not match, codes above 15 or offsets above 16 (a broken Int4Blockwise).
Result<Int4Constants> EncodeInt4Blockwise(const io::Int4Blockwise& b, int64_t row_begin,
                                          int64_t row_end, const std::vector<int64_t>& shape);

}  // namespace anec::ane
