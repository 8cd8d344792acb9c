// MeasureLossGradients: how much the next-token loss responds to each layer projection's output,
// measured by back-propagation through an fp32 reference of the model (`--lut auto`).
//
// Why: quantizing a weight W to Q changes the loss by about 1/2 sum_ij F_ij (W - Q)_ij^2, with F
// the Fisher information of the weight (SqueezeLLM; coremltools' SKMPalettizer). Its per-token
// form is F_ij = sum_t g_ti^2 x_tj^2 (g = dL/dy at the projection's output y = W x, x its
// input); rank one, F_ij ~ r_i c_j with r_i = mean_t g_ti^2 and c_j = mean_t x_tj^2. On SmolLM2
// the rank-one and the full form planned LUT bits equally well, and better than every proxy tried
// (docs/QUANTIZATION.md, "Loss gradients for --lut auto"); the rank-one form needs two vectors
// per matrix, so that is what is measured.
//
// The reference model and its backward pass: reference_transformer.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ane/weight_source.h"
#include "base/status.h"
#include "model/model_spec.h"

namespace anec::calib {

struct LossGradients {
  // Weight const name ("layers_3_q_proj") -> mean over the scored tokens of (dL/dy_i)^2, one per
  // output row, L the summed next-token cross entropy. Every layer projection is present.
  std::map<std::string, std::vector<float>, std::less<>> rows;
  // Same names -> mean over the tokens of x_j^2, one per input column (the inputs this pass saw).
  std::map<std::string, std::vector<float>, std::less<>> columns;
  // The LM head's input (the final norm's output): mean over the tokens of x_j^2 per column.
  std::vector<float> head_columns;
  // Mean over the tokens of the next-token distribution softmax(logits), one per vocabulary row.
  std::vector<float> next_token_probability;
  int64_t tokens = 0;    // positions run (a window's last position has no next token to score)
  double mean_loss = 0;  // nats per scored position (for the log: the model must be sane)
};

struct LossGradientOptions {
  int64_t window = 512;  // positions per window, each window from position 0
  int threads = 0;       // 0 = all cores
  // false: the forward pass only (columns, head statistics and loss; `rows` stays empty), about
  // a third of the time.
  bool backward = true;
  // Called after each layer's backward pass with (layers done, layers in all windows).
  std::function<void(int64_t, int64_t)> progress = {};
};

// Ok when the reference models `spec`; else Unsupported naming what it lacks (the caller then
// plans without gradients).
Status CheckLossGradientsSupported(const model::ModelSpec& spec);

// REQUIRES: `weights` serves every role of `spec` (as the converter reads them); token ids are
// < vocab. Errors: fewer than 2 tokens, unsupported spec, read errors.
Result<LossGradients> MeasureLossGradients(const ane::WeightSource& weights,
                                           const model::ModelSpec& spec,
                                           std::span<const int32_t> tokens,
                                           const LossGradientOptions& options);

// One window through the reference, for tests: the logits [tokens, vocab], the summed loss, and,
// for the projection `tap` (a weight const name, or empty), dL/dy [tokens, rows] and its input
// x [tokens, cols].
struct ReferenceWindow {
  std::vector<float> logits;
  double loss = 0;
  std::vector<float> tap_grad, tap_input;
};
Result<ReferenceWindow> RunReferenceWindow(const ane::WeightSource& weights,
                                           const model::ModelSpec& spec,
                                           std::span<const int32_t> tokens, const std::string& tap,
                                           int threads = 0);

}  // namespace anec::calib
