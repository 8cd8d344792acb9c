// LossProbe: how far the model's next-token distribution moves when some of its weights change,
// measured on the model itself. The converted fp16 model runs on the CPU runtime over a text with
// the change injected into the ops that use those weights (DeltaInjector), and the result is the
// mean over positions of KL(p_fp16 || p_changed). `--lut auto` measures each block's 4-bit
// palettization this way, so that errors in different blocks are compared on the model's own
// scale instead of a proxy's (lut_bits_plan.h, docs/QUANTIZATION.md).
//
// Cost: one pass over the probe's tokens per measurement (decode steps, every weight read per
// token), plus one for the reference; the reference log-probabilities are kept (tokens x vocab
// floats).
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/interpreter.h"
#include "runtime/llm_model.h"

namespace anec::calib {

// A change to one weight: changed - original, [rows, cols] row-major as the converter stores the
// weight (rows = output channels).
struct WeightDelta {
  std::string name;  // the weight const's name ("layers_3_q_proj")
  int64_t rows = 0, cols = 0;
  std::vector<float> delta;
};

// Adds x delta^T to the output of each conv (1x1, x [N, C, spatial...]) and linear (x [..., C])
// op whose weight constant is named in `deltas`, as if the weight were original + delta (the
// bias, if any, is unchanged). A shape that does not fit the delta is recorded as an error.
// REQUIRES: `deltas` outlives the injector.
class DeltaInjector : public runtime::OpObserver {
 public:
  explicit DeltaInjector(std::span<const WeightDelta> deltas) : deltas_(deltas) {}
  void BeforeOp(const runtime::CompiledOp&, const runtime::OpContext&) override {}
  void AfterOp(const runtime::CompiledOp& op, runtime::OpContext& ctx) override;

  // Names of the deltas applied at least once.
  const std::set<std::string>& applied() const { return applied_; }
  // Ok, or the first mismatch seen.
  const Status& status() const { return status_; }

 private:
  std::span<const WeightDelta> deltas_;
  std::set<std::string> applied_;
  Status status_;
};

class LossProbe {
 public:
  // Runs the unchanged model over `tokens` (one window from an empty cache) and keeps its
  // log-probabilities. Errors: fewer than 2 tokens, more than the context, runtime errors.
  // REQUIRES: `model` outlives the probe (it is Reset() by every call) and has logits (not a
  // --argmax conversion).
  static Result<LossProbe> Create(runtime::LlmModel* model, std::vector<int32_t> tokens);

  // Mean over positions of KL(p_reference || p_with_deltas), in nats. Errors: a delta no op
  // used (its name or shape does not match the model), runtime errors.
  Result<double> MeanKl(std::span<const WeightDelta> deltas);

  size_t tokens() const { return tokens_.size(); }

 private:
  LossProbe(runtime::LlmModel* model, std::vector<int32_t> tokens)
      : model_(model), tokens_(std::move(tokens)) {}
  runtime::LlmModel* model_;
  std::vector<int32_t> tokens_;
  std::vector<std::vector<float>> reference_;  // log-probabilities per position
};

// log softmax(logits), in float (the probe's and the tests' common reference).
std::vector<float> LogSoftmax(std::span<const float> logits);

}  // namespace anec::calib
