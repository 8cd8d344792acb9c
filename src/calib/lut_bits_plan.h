// PlanLutBits: `--lut auto --lut-bits-budget B`. Picks 4, 6 or 8 LUT bits for each layer's seven
// projections so that their stored bits per weight, tables included, average at most B, spending
// the bits where the calibrated error falls most. (The LM head is not planned: its bits are the
// user's, see docs/QUANTIZATION.md for why.)
//
// Sensitivity: each matrix is palettized at 4, 6 and 8 bits with the calibrated importance
// (palettize.h, diagonal weighting), and its relative output error
//   e_b = sum_ij imp_j (w_ij - q_ij)^2 / sum_ij imp_j w_ij^2
// (the layer's output error over the calibration inputs, diagonal part, relative to its output)
// is recorded. A relative error in one block's output reaches the residual stream scaled by that
// block's share of it, so each matrix's error counts times its block's gain (ResidualGains
// below): the power the block (attention: q k v o; MLP: gate up down) adds to the stream over
// the stream's power where the block writes, both per channel (diagonal estimates: the block's
// output channel c gets sum_j imp_j W_cj^2 of o_proj / down_proj; the stream starts as the mean
// embedding row and sums every earlier block's, as if uncorrelated). The plan starts
// every matrix at 8 bits and repeatedly lowers the one whose weighted error grows least per
// stored bit saved, g (e_lower - e_current) / (elements x bits saved), until the budget is met:
// a greedy walk of the Lagrangian trade-off, optimal when each matrix's error is convex in its
// bits (it is on every matrix measured, docs/QUANTIZATION.md).
//
// Measured gains (`block_loss` given): the residual-gain proxy above cannot tell how errors in
// different blocks reach the loss (q/k errors pass through softmax, late layers reach the logits
// more directly). With `block_loss`, each block (a layer's attention q k v o, or its MLP gate up
// down) is palettized at 4 bits alone, the model's response is measured (mean KL divergence from
// the fp16 model, loss_sensitivity.h), and each of the block's matrices gets the gain
// KL / sum of the block's relative errors at 4 bits: the block's error on the model's own scale,
// shared by its matrices in proportion to their proxy errors.
//
// Loss gradients (the default when the calibration measured them, loss_gradients.h): each
// matrix's error at b bits is sum_ij r_i c_j (w - q)^2, r_i the mean squared gradient of the
// next-token loss at output row i and c_j the mean squared input of column j: the rank-one
// Fisher information's estimate of twice the loss increase per token. Every matrix is then on the
// loss's scale and no gain is needed. Measured on SmolLM2 (docs/QUANTIZATION.md): this plan
// gives far more bits to k_proj and v_proj (small matrices whose errors the loss feels
// strongly) than the proxy did.
//
// Stored bits of a matrix at b bits: b + 2^b x 16 / (group x cols) (its fp16 tables).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ane/weight_emitter.h"
#include "ane/weight_source.h"
#include "base/status.h"
#include "calib/loss_sensitivity.h"
#include "model/model_spec.h"
#include "quant/channel_importance.h"

namespace anec::calib {

struct LutBitsMatrix {
  model::TensorRole role;
  int64_t layer = 0;
  std::string name;  // the importance it was measured with ("layers_3_q_proj")
  int64_t rows = 0, cols = 0;
  double error[3] = {0, 0, 0};  // relative output error at 4, 6, 8 bits
  // o_proj / down_proj: sum_j imp_j W_cj^2 per output channel c, the diagonal estimate of
  // E[(W x)_c^2] (what the block adds to the residual stream).
  std::vector<double> row_power;
  double gain = 1;         // how much its relative error counts (above)
  double block_kl = -1;    // its block's measured KL at 4 bits (measured gains), else -1
  int bits = 8;            // chosen
  bool row_scale = false;  // palettized with row scales: one fp16 per row more
  // The tables fitted at 4, 6 and 8 bits and their inputs' hash (quant::LutResult), handed to
  // the writer at the chosen width (ane::PlannedLut); up to (16 + 64 + 256) x 2 bytes per group.
  std::vector<uint16_t> tables[3];
  uint64_t tables_input_hash[3] = {0, 0, 0};
  std::vector<uint16_t> row_scales[3];  // with row_scale: the scales fitted with the tables
  // Stored bits per weight at b bits: indices, tables and row scales.
  double StoredBits(int b, int group) const;
};

struct LutBitsPlanResult {
  ane::LutBitsPlan plan;  // bits and tables; the matrices below keep no tables
  std::vector<LutBitsMatrix> matrices;
  double average_bits = 0;      // stored bits per FFN weight, tables included
  double total_error = 0;       // sum of the chosen gain-weighted relative errors
  bool loss_gradients = false;  // planned with the loss gradients (below)
};

// The model's response to changing some weights at once (LossProbe::MeanKl).
using BlockLoss = std::function<Result<double>(std::span<const WeightDelta>)>;

// Matrices without a measured importance are weighted uniformly. `group` and `row_scale` as the
// conversion palettizes (WeightFormat), so that the errors are the ones it will make. Errors: a
// budget under the all-4-bit floor (the message gives the floor) or over 16, read errors,
// `block_loss` errors. `log` (may be null) gets progress and one line per matrix. `block_loss` may
// be empty (proxy gains). REQUIRES: `weights`, `importance` outlive the call.
Result<LutBitsPlanResult> PlanLutBits(const ane::WeightSource& weights,
                                      const model::ModelSpec& spec,
                                      const quant::ChannelImportance& importance,
                                      double budget_bits, int group, bool row_scale, std::FILE* log,
                                      const BlockLoss& block_loss = {});

// One block writing into the residual stream, for ResidualGains: per hidden channel, the power
// it adds and the gamma of the RMSNorm that next reads the stream.
struct ResidualBlock {
  std::vector<double> output_power;
  std::vector<double> next_norm;
};

// The gain of each block, in stream order, starting from the stream's per-channel power:
//   g = sum_c gamma_c^2 P_block,c / sum_c gamma_c^2 P_stream,c
// An error e in the stream reaches the next RMSNorm's output as gamma * e / rms(h), next to
// gamma * h / rms(h), hence gamma^2. Channels whose stream or block power exceeds 30x its median
// (massive activations: a few channels that some early MLPs fill 10^3-10^4 x above the median,
// acting as constant biases) are left out of both sums, or they would make those MLPs' gains
// huge and every later block's tiny (measured on SmolLM2: docs/QUANTIZATION.md).
// REQUIRES: every vector of a block has stream.size() entries.
std::vector<double> ResidualGains(std::vector<double> stream,
                                  const std::vector<ResidualBlock>& blocks);

// The allocation alone, on measured matrices (tests): fills each matrix's `bits` from its `error`
// and `gain`.
Status AllocateLutBits(std::vector<LutBitsMatrix>* matrices, double budget_bits, int group,
                       double* average_bits);

}  // namespace anec::calib
