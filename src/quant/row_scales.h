// Per-output-channel (row) scales for palettization (LutConfig::row_scale; docs/QUANTIZATION.md,
// "Per-channel (row) scales"). The dense weight of row r is s_r * table[index]: the table is
// fitted to the rows divided by their scales, so rows of one group that differ in magnitude all
// span it.
//
// InitialRowScales chooses s_r = max|w_r| / M (M the median of the rows' maxima). A group's
// scales, table and indices are then a joint least-squares problem, min sum_rc c_rc (w_rc -
// s_r T[idx_rc])^2; RefineRowScales alternates its three exact partial minimisations (each s_r
// for fixed indices and table, each index for fixed scales and table, each entry for fixed
// scales and indices), so the objective never rises. Palettize then fits the table again by exact
// k-means for the new scales and keeps whichever of the two results has the lower error.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace anec::quant {

// Scales for a [rows, cols] fp16 matrix: s_r = max|w_r| / M in fp16 (clamped to fp16's normal
// range); M is the median of the nonzero row maxima, so the scales sit around 1 and the
// matmul's outputs keep their usual fp16 range. Rows that are all zero or hold a non-finite
// value keep s_r = 1 (the latter so that the palettizer reports the value where it is).
std::vector<uint16_t> InitialRowScales(std::span<const uint16_t> fp16_weights, int64_t rows,
                                       int64_t cols);

// One group's least-squares refinement, in double. `w` and `importance` are the group's
// [rows, cols] weights and element weights c_rc >= 0; `table` (ascending, 2^bits entries),
// `scales` (rows, > 0) and `indices` (rows * cols) are the starting point and are updated in
// place by `iterations` rounds of: scales, then indices (nearest entry of w / s, ties to the lower
// entry), then entries (an entry nobody uses keeps its value). A row whose least-squares scale
// is not positive keeps its scale. The table stays ascending (each entry is a weighted mean of
// an interval of the normalised values).
// REQUIRES: sizes as stated; table.size() <= 256.
void RefineRowScales(std::span<const float> w, std::span<const float> importance, int64_t rows,
                     int64_t cols, std::span<double> table, std::span<double> scales,
                     std::span<uint8_t> indices, int iterations);

// sum_rc c_rc (w_rc - s_r T[idx_rc])^2 for the same arguments.
double ScaledError(std::span<const float> w, std::span<const float> importance, int64_t rows,
                   int64_t cols, std::span<const double> table, std::span<const double> scales,
                   std::span<const uint8_t> indices);

}  // namespace anec::quant
