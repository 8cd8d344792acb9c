#include "calib/calibrate.h"

#include <algorithm>
#include <cmath>

#include "calib/activation_stats.h"

namespace anec::calib {
namespace {

// Adds softmax(logits) to `sum` (sized on first use).
void AddSoftmax(const std::vector<float>& logits, std::vector<double>* sum) {
  if (sum->empty()) sum->assign(logits.size(), 0.0);
  if (logits.size() != sum->size()) return;
  float top = -INFINITY;
  for (float v : logits) top = std::max(top, v);
  double z = 0;
  for (float v : logits) z += std::exp(static_cast<double>(v - top));
  for (size_t r = 0; r < logits.size(); ++r) {
    (*sum)[r] += std::exp(static_cast<double>(logits[r] - top)) / z;
  }
}

}  // namespace

Result<quant::ChannelImportance> Calibrate(runtime::LlmModel* model,
                                           std::span<const int32_t> tokens,
                                           const CalibrationOptions& options,
                                           std::string description) {
  if (options.max_tokens > 0 && tokens.size() > static_cast<size_t>(options.max_tokens)) {
    tokens = tokens.first(static_cast<size_t>(options.max_tokens));
  }
  if (tokens.size() < 2) {
    return InvalidArgument(
        "calibration text has {} tokens; give a text of at least a few "
        "hundred tokens (--calibration FILE)",
        tokens.size());
  }
  if (options.damping < 0) return InvalidArgument("calibration damping must be >= 0");
  const int64_t window =
      std::clamp<int64_t>(options.window, 1, static_cast<int64_t>(model->context_length()));
  ActivationStats stats;
  std::vector<double> mean_probability;
  {
    runtime::ScopedOpObserver scoped(&stats);
    const int64_t total = static_cast<int64_t>(tokens.size());
    for (int64_t i = 0; i < total; ++i) {
      if (i % window == 0) model->Reset();
      ANEC_ASSIGN_OR_RETURN(std::vector<float> logits, model->Step(tokens[static_cast<size_t>(i)]));
      AddSoftmax(logits, &mean_probability);
      if (options.progress) options.progress(i + 1, total);
    }
  }
  model->Reset();
  if (stats.size() == 0) {
    return FailedPrecondition("calibration: the model has no conv or linear weight to measure");
  }
  ANEC_ASSIGN_OR_RETURN(quant::ChannelImportance out,
                        stats.Finish(options.damping, std::move(description)));
  out.lm_head_rows.resize(mean_probability.size());
  for (size_t r = 0; r < mean_probability.size(); ++r) {
    out.lm_head_rows[r] =
        static_cast<float>(mean_probability[r] / static_cast<double>(tokens.size()));
  }
  return out;
}

}  // namespace anec::calib
