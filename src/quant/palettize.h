// Palettization (LUT quantization) of a weight matrix for Core ML's constexpr_lut_to_dense.
//
// A [rows = Cout, cols = Cin] fp16 weight is split into groups of `group_size` consecutive rows
// (one group for per-tensor). Each group gets a table of 2^bits fp16 entries chosen by exact
// weighted 1-D k-means (kmeans_1d.h) over the group's histogram of distinct fp16 values (-0 and +0
// count as 0), and every element gets the uint8 index of its NEAREST table entry. Rounding the
// optimal centroids to fp16 and re-assigning to the nearest rounded entry can only lower the error
// below that of the optimal partition with rounded centroids, so the result is never worse than
// exact k-means followed by the rounding Core ML forces (docs/QUANTIZATION.md).
//
// Groups run on a std::thread pool; each group is computed from its own rows only and totals are
// summed in group order, so the output is bit-identical for every thread count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace anec::quant {

struct LutConfig {
  int bits = 4;        // 1, 2, 3, 4, 6 or 8: 2^bits table entries
  int group_size = 0;  // rows per table; 0 = one table for the whole tensor. Must divide rows.
  int threads = 0;     // worker threads; 0 = std::thread::hardware_concurrency()
  // Per-output-channel scales (coremltools' enable_per_channel_scale): row r is divided by
  // s_r = max|w_r| / M (M: the median of the rows' max |w|; s_r == 1 for an all-zero row) before
  // the tables are fitted, so that every row of a group spans the table; the k-means then weighs
  // row r's values by s_r^2 (times any importance), i.e. it minimises the error in the weight's
  // own units. The dense weight is lut[...] * s_r; on the Neural Engine the scale is applied to
  // the matmul's output (docs/QUANTIZATION.md, "Per-channel scales").
  bool row_scale = false;
  // With row_scale at 6 bits or fewer: rounds of alternating least squares over each group's
  // scales, indices and table (row_scales.h) after the first fit, followed by an exact k-means
  // for the new scales; the result with the lower error is kept. 0 keeps s_r = max|w_r| / M.
  // (At 8 bits the error is ~60x smaller than at 6 and the rounds would only add time.)
  int row_scale_iterations = 4;
  // Tables an earlier call fitted (LutResult::lut_fp16 and ::input_hash), e.g. `--lut auto`'s
  // plan, which palettizes every matrix at 4, 6 and 8 bits before the writer needs one of them.
  // When `tables_input_hash` equals this call's LutResult::input_hash (same weights, importance,
  // bits, group and row scales) the k-means is skipped and the elements are assigned to these
  // tables: the result is the one fitting would give. Otherwise they are ignored and the tables
  // are fitted. REQUIRES: `tables` outlives the call.
  std::span<const uint16_t> tables = {};
  uint64_t tables_input_hash = 0;
  // With row_scale: the scales that came with `tables` (LutResult::row_scale_fp16).
  std::span<const uint16_t> row_scales = {};
};

struct LutResult {
  int64_t rows = 0, cols = 0;
  int bits = 0;
  int group_size = 0;  // as resolved: rows for per-tensor
  // [num_groups][2^bits] fp16 bit patterns, ascending within a group; when a group has fewer
  // than 2^bits distinct values the spare slots repeat its largest value.
  std::vector<uint16_t> lut_fp16;
  // rows*cols, row-major like the input, each < 2^bits (unpacked; the writer packs them).
  std::vector<uint8_t> indices;
  // With LutConfig::row_scale: one fp16 scale per row (s_r above, refined), else empty.
  std::vector<uint16_t> row_scale_fp16;
  // Plain (unweighted) error of the dequantized tensor (scales applied) against the fp16 input.
  double sse = 0;
  double mse = 0;
  double snr_db = 0;  // 10*log10(sum x^2 / sse); +inf when sse == 0
  // sum_i importance_i (x_i - q_i)^2, the minimised objective (== sse without importance).
  double weighted_sse = 0;
  // A hash of everything the tables depend on (weights, importance, bits, group, row scales and
  // their iterations), for LutConfig::tables. Never 0.
  uint64_t input_hash = 0;
  bool reused_tables = false;  // the tables came from LutConfig::tables

  int64_t num_groups() const { return group_size > 0 ? rows / group_size : 0; }
};

// Palettizes `fp16_weights` (row-major [rows, cols] fp16 bit patterns). `importance`, if not
// empty, holds one finite weight >= 0 per element, or one per column (the same for every row:
// calibrated input-channel importance, channel_importance.h), and turns the objective into
// sum_i importance_i (x_i - c)^2; a group whose importances are all zero is clustered unweighted.
// Errors (InvalidArgument) name `tensor_name`: bits not in {1,2,3,4,6,8}, group_size not
// dividing rows, size mismatches, NaN/Inf weights (with the element's row and column), bad
// importance values.
Result<LutResult> Palettize(std::span<const uint16_t> fp16_weights, int64_t rows, int64_t cols,
                            const LutConfig& config, std::span<const float> importance = {},
                            std::string_view tensor_name = "");

// The dense fp16 tensor the LUT encodes: lut[group(row)][indices[row, col]], times
// row_scale[row] (rounded to fp16) when there are row scales.
std::vector<uint16_t> DequantizeToHalf(const LutResult& lut);
std::vector<float> DequantizeToFloat(const LutResult& lut);

}  // namespace anec::quant
