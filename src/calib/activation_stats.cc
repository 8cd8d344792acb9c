#include "calib/activation_stats.h"

#include <algorithm>
#include <cmath>

#include "runtime/op_context.h"

namespace anec::calib {

const std::string& WeightConstName(const runtime::CompiledOp& op) {
  static const std::string kNone;
  for (const auto& [param, args] : op.inputs) {
    if (param == "weight" && args.size() == 1 && args[0].slot < 0) return args[0].constant_name;
  }
  return kNone;
}

ChannelLayout LayoutOf(bool conv, const runtime::Shape& s) {
  ChannelLayout l;
  l.channels = conv ? s[1] : s.back();
  if (conv) {
    l.outer = s[0];
    for (size_t d = 2; d < s.size(); ++d) l.inner *= s[d];
  } else {
    for (size_t d = 0; d + 1 < s.size(); ++d) l.outer *= s[d];
  }
  return l;
}

void ActivationStats::BeforeOp(const runtime::CompiledOp& op, const runtime::OpContext& ctx) {
  const bool conv = op.type == "conv";
  if (!conv && op.type != "linear") return;
  const std::string& name = WeightConstName(op);
  if (name.empty()) return;
  auto x = ctx.Input("x");
  if (!x.ok() || x->rank() < (conv ? 3 : 1)) return;
  const auto [outer, channels, inner] = LayoutOf(conv, x->shape());
  Sum& sum = sums_[name];
  if (sum.sum_sq.empty() && !sum.width_changed)
    sum.sum_sq.assign(static_cast<size_t>(channels), 0.0);
  if (static_cast<int64_t>(sum.sum_sq.size()) != channels) {
    sum.width_changed = true;
    return;
  }
  const std::vector<float> v = x->ToFloats();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* p = v.data() + (o * channels + c) * inner;
      double acc = 0;
      for (int64_t i = 0; i < inner; ++i) acc += static_cast<double>(p[i]) * p[i];
      if (!std::isfinite(acc)) sum.non_finite = true;
      sum.sum_sq[static_cast<size_t>(c)] += acc;
    }
  }
  sum.positions += outer * inner;
}

Result<std::vector<float>> DampedImportance(const std::string& name, std::span<const float> mean_sq,
                                            double damping) {
  double mean = 0;
  for (float v : mean_sq) {
    if (!std::isfinite(v)) {
      return FailedPrecondition(
          "calibration: the input to weight '{}' overflowed (Inf/NaN activations); calibrate "
          "with other text or convert without --calibration",
          name);
    }
    mean += v;
  }
  mean /= static_cast<double>(std::max<size_t>(mean_sq.size(), 1));
  std::vector<float> imp(mean_sq.size());
  for (size_t c = 0; c < imp.size(); ++c) imp[c] = static_cast<float>(mean_sq[c] + damping * mean);
  return imp;
}

Result<quant::ChannelImportance> ActivationStats::Finish(double damping,
                                                         std::string description) const {
  quant::ChannelImportance out;
  out.description = std::move(description);
  for (const auto& [name, sum] : sums_) {
    if (sum.width_changed) {
      return Internal("calibration: weight '{}' was fed inputs of different widths", name);
    }
    if (sum.non_finite) {
      return FailedPrecondition(
          "calibration: the fp16 model's input to weight '{}' overflowed (Inf/NaN activations); "
          "calibrate with other text or convert without --calibration",
          name);
    }
    if (sum.positions == 0) continue;
    std::vector<float> imp(sum.sum_sq.size());
    double mean = 0;
    for (double v : sum.sum_sq) mean += v / static_cast<double>(sum.positions);
    mean /= static_cast<double>(sum.sum_sq.size());
    for (size_t c = 0; c < imp.size(); ++c) {
      imp[c] =
          static_cast<float>(sum.sum_sq[c] / static_cast<double>(sum.positions) + damping * mean);
    }
    out.columns.emplace(name, std::move(imp));
  }
  return out;
}

}  // namespace anec::calib
