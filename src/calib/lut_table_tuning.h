// TuneLutTables: after `--lut auto` has fitted each FFN matrix's tables by weighted k-means, moves
// the table entries (every element still takes its nearest entry, as the writer assigns them) to
// lower the KL divergence of the palettized model's next-token distributions from the original
// model's. End to end, unlike the k-means, which sees one matrix at a time.
//
// Method: the original model's log-probabilities are computed once per window (forward pass of
// the fp32 reference, reference_transformer.h). A gradient pass runs the palettized model (the
// tables dequantized through a WeightSource decorator) over the training tokens, back-propagates
// the summed KL, forms each projection's weight gradient G = sum_t g_t x_t^T and sums it per
// table entry (times the row scale, with row scales). The direction is diagonally preconditioned,
// d_e = -grad_e / h_e with h_e = N * sum_{ij -> e} s_i^2 r_i c_j from the Fisher information the
// calibration measured (ChannelImportance::gradient_rows / gradient_columns, N the scored
// positions). That h ignores how an entry's elements move together, so it is only a relative
// scale: a line search picks the step (the last good one, doubled while it improves, quartered
// until it does, up to 4 forward passes) by the KL on the validation tokens. A round with no
// improving step ends the tuning, so the result is never worse than the k-means tables on them.
//
// Why validation tokens: on SmolLM2 with 1,024 tokens, steps judged on the training tokens
// lowered their KL by 37% and raised it on unseen text by 3% (docs/QUANTIZATION.md); judged on
// the next 1,024 tokens, unseen text's KL fell 4%.
//
// Cost: per round one forward and backward pass over the training tokens, a [rows x tokens] x
// [tokens x cols] product per projection and window, and up to 4 forward passes over the
// validation tokens. Memory: the original model's log-probabilities, (training + validation
// tokens) x vocabulary floats, for the whole call.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "ane/weight_emitter.h"
#include "ane/weight_source.h"
#include "base/status.h"
#include "model/model_spec.h"
#include "quant/channel_importance.h"

namespace anec::calib {

struct LutTableTuningOptions {
  int rounds = 2;        // gradient passes after the first, each followed by a line search
  int64_t window = 512;  // positions per window, each from position 0
  int threads = 0;       // 0 = all cores
  double step = 0.003;   // eta of the first trial step
};

struct LutTableTuningReport {
  std::vector<double> mean_kl;  // k-means tables, then after each accepted step (nats/position)
  int best_round = 0;           // the last round whose step was accepted (0: none)
  int matrices = 0;             // tables tuned
};

// Tunes the tables of every entry of `plan` that carries them (PlannedLut::tables, fitted on
// `weights` with `group` rows per table and, when PlannedLut::row_scales is set, those scales),
// fitting on `tokens` and judging steps on `validation` (on `tokens` when it is empty). Matrices
// without gradient statistics in `importance` are left as they are. `log` may be null.
// Errors: fewer than 2 tokens, an unsupported model (loss_gradients.h), read errors.
// REQUIRES: `weights` is the source the plan was made from.
Result<LutTableTuningReport> TuneLutTables(const ane::WeightSource& weights,
                                           const model::ModelSpec& spec,
                                           const quant::ChannelImportance& importance,
                                           std::span<const int32_t> tokens,
                                           std::span<const int32_t> validation, int group,
                                           ane::LutBitsPlan* plan,
                                           const LutTableTuningOptions& options, std::FILE* log);

}  // namespace anec::calib
