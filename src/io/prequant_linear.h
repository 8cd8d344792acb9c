// One GPTQ / AWQ int4 linear layer: unpacking its packed tensors, dequantizing them, and
// presenting the int4 groups blockwise for Core ML without re-quantizing.
//
// Packing (docs/PREQUANT.md has the full description):
//   GPTQ: qweight int32 [in/8, out], nibble k (bits 4k..4k+3) of qweight[r, o] = q[8r + k, o];
//         qzeros int32 [groups, out/8], nibble k of qzeros[g, c] = zero[g, 8c + k] (minus one in
//         the v1 "gptq" checkpoint_format); scales [groups, out]; optional g_idx int32 [in].
//   AWQ gemm: qweight int32 [in, out/8], nibble k of qweight[i, c] = q[i, 8c + kAwqOrder[k]]
//         with kAwqOrder = {0, 2, 4, 6, 1, 3, 5, 7}; qzeros [groups, out/8] in the same order;
//         scales [groups, out].
// Dequantized W[o, i] = scale[g, o] * (q[i, o] - zero[g, o]) with g = g_idx[i] when g_idx is
// present, else i / group_size. It is computed in float32, where it is exact: the scale has at
// most 11 significant bits (fp16) or 8 (bf16) and q - zero is an integer in [-16, 15].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/prequant_config.h"
#include "io/tensor_source.h"

namespace anec::io {

// The int4 codes and group parameters of one linear, unpacked, in the checkpoint's input order.
struct Int4Linear {
  std::string name;  // the weight name presented to readers: "<prefix>.weight"
  int64_t out_features = 0;
  int64_t in_features = 0;
  int64_t num_groups = 0;
  std::vector<uint8_t> codes;  // [out, in], values 0..15
  std::vector<uint8_t> zeros;  // [out, num_groups], values 0..16 (16 only from GPTQ v1 "15 + 1")
  std::vector<float> scales;   // [out, num_groups], exact values of the stored scales
  TensorDType scale_dtype = TensorDType::kF16;  // how the scales were stored
  std::vector<int32_t> group_of_input;          // [in]: g_idx, or i / group_size
};

// What Core ML's constexpr_blockwise_shift_scale needs:
//   dense[o, j] = scale[o, j / block_size] * (data[o, j] - offset[o, j / block_size]).
// `data` columns are in `input_permutation` order: column j holds input feature
// input_permutation[j] (empty = identity). With GPTQ act-order the groups are not contiguous in
// the input order; sorting the inputs by group makes them contiguous, and the model then has to
// gather its activation x[input_permutation] before this matmul (or the equivalent reordering).
struct Int4Blockwise {
  std::string name;
  int64_t out_features = 0;
  int64_t in_features = 0;
  int64_t block_size = 0;         // input features per block; in_features % block_size == 0
  int64_t num_blocks = 0;         // in_features / block_size
  std::vector<uint8_t> data;      // [out, in], one 4-bit code (0..15) per byte
  std::vector<uint16_t> scales;   // [out, num_blocks], fp16 bits
  std::vector<uint8_t> offsets;   // [out, num_blocks], 0..16
  bool offsets_fit_uint4 = true;  // false if some offset is 16: use an fp16 offset instead
  std::vector<int32_t> input_permutation;
};

// Names of the tensors that make up the quantized linear `prefix`.
struct PrequantTensorNames {
  std::string qweight, qzeros, scales, g_idx, weight;
  explicit PrequantTensorNames(const std::string& prefix)
      : qweight(prefix + ".qweight"),
        qzeros(prefix + ".qzeros"),
        scales(prefix + ".scales"),
        g_idx(prefix + ".g_idx"),
        weight(prefix + ".weight") {}
};

// Shape of the dequantized weight [out, in], derived from the tensor infos and checked for
// consistency (dtypes, qzeros/scales shapes vs qweight, group count vs group_size, g_idx length).
// Cheap: reads no data. Errors (kInvalidArgument) name the tensor, expected and found shapes.
Result<TensorInfo> PrequantWeightInfo(const PrequantConfig& cfg, const TensorSource& src,
                                      const std::string& prefix);

// Reads and unpacks one linear. Also checks every g_idx value is a valid group.
Result<Int4Linear> ReadInt4Linear(const PrequantConfig& cfg, const TensorSource& src,
                                  const std::string& prefix);

// W[out, in] as float32 (exact, see above).
std::vector<float> DequantizeInt4(const Int4Linear& linear);

// The blockwise form. Unsupported (with the reason) when the groups cannot be made contiguous
// blocks of equal size (in % group size != 0, or act-order groups of unequal sizes), or when
// the scales are not exactly representable in fp16 (e.g. bf16 scales).
Result<Int4Blockwise> ToBlockwise(const Int4Linear& linear);

// Expands a blockwise weight back to W[out, in] in the original input order, float32 (exact).
std::vector<float> ExpandBlockwise(const Int4Blockwise& b);

// The same groups as 16-entry lookup tables, for constexpr_lut_to_dense with one LUT per
// (output row, block): lut[(o * num_blocks + blk) * 16 + k] = fp16(scale * (k - offset)), with
// `b.data` as the indices (in `b.input_permutation` order). Each entry is rounded once to fp16,
// exactly what an fp16 evaluation of the blockwise form gives for that code.
std::vector<uint16_t> BlockwiseToLuts(const Int4Blockwise& b);

}  // namespace anec::io
