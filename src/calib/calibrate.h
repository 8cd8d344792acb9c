// Calibrate: runs a converted fp16 model (CPU runtime) over calibration tokens and returns each
// linear weight's per-input-channel importance (activation_stats.h) and the mean next-token
// probability of every vocabulary row (the LM head's output side) for the LUT conversion.
//
// Tokens run one position at a time through the decode (`infer`) functions, in windows of
// `window` positions each started from an empty cache, so every weight, the LM head's included,
// sees every token exactly once and no padded prefill row enters the statistics.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "quant/channel_importance.h"
#include "runtime/llm_model.h"

namespace anec::calib {

struct CalibrationOptions {
  int64_t max_tokens = 1024;  // tokens used (the text's first ones)
  int64_t window = 512;       // positions per window (capped at the model's context)
  double damping = 0.01;      // activation_stats.h (0.01: lower KL than 0.1, docs/QUANTIZATION.md)
  // --lut auto: tokens of the text the model's response to each block is measured on
  // (lut_bits_plan.h, measured gains); 0: the residual-gain proxy, no model runs (the default:
  // on SmolLM2 the measured gains planned no better, docs/QUANTIZATION.md).
  int64_t sensitivity_tokens = 0;
  // --lut auto: also back-propagate the next-token loss over the same tokens through an fp32
  // reference of the model (loss_gradients.h), for the plan's Fisher-weighted errors.
  bool loss_gradients = false;
  // Called after each token with (done, total).
  std::function<void(int64_t, int64_t)> progress;
};

// REQUIRES: `model` outlives the call; it is Reset() before and after. Errors: fewer than 2
// tokens, a model converted with --argmax is fine (logits are not used), runtime errors.
Result<quant::ChannelImportance> Calibrate(runtime::LlmModel* model,
                                           std::span<const int32_t> tokens,
                                           const CalibrationOptions& options,
                                           std::string description);

// The calibration text that ships inside the binary (data/calibration/default.txt, written for
// this project; none of the evaluation texts in docs/QUANTIZATION.md).
std::string_view DefaultCalibrationText();

}  // namespace anec::calib
