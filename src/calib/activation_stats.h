// ActivationStats: per-input-channel second moments of every linear weight's input, recorded
// while the CPU runtime runs a converted fp16 model (runtime::OpObserver).
//
// Observed ops: `conv` (x [N, C, H, W], channel axis 1; the converter's 1x1 projections and LM
// head pieces) and `linear` (x [..., C]), when their `weight` binds a named constant: the name is
// the converter's weight const name, which the LUT conversion of the same model reuses, so the
// statistics find their weight again by name. A weight whose input width changes between calls
// is reported by Finish() instead of being averaged.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "quant/channel_importance.h"
#include "runtime/interpreter.h"

namespace anec::calib {

// The name of the constant a conv / linear op's `weight` binds, or "" (computed weights).
const std::string& WeightConstName(const runtime::CompiledOp& op);

// A conv / linear input as (outer, channels, inner): conv x [N, C, spatial...] is (N, C,
// prod(spatial)), linear x [..., C] is (prod(...), C, 1). Element (o, c, i) is at
// (o * channels + c) * inner + i. REQUIRES: rank >= 3 for conv, >= 1 for linear.
struct ChannelLayout {
  int64_t outer = 1, channels = 0, inner = 1;
};
ChannelLayout LayoutOf(bool conv, const runtime::Shape& x);

// importance_j = mean_sq_j + damping * mean_j(mean_sq_j) (ActivationStats::Finish's form), for
// statistics measured elsewhere (the fp32 reference). Errors: a non-finite moment (names the
// weight). REQUIRES: damping >= 0.
Result<std::vector<float>> DampedImportance(const std::string& name, std::span<const float> mean_sq,
                                            double damping);

class ActivationStats : public runtime::OpObserver {
 public:
  void BeforeOp(const runtime::CompiledOp& op, const runtime::OpContext& ctx) override;

  // Weights seen so far.
  size_t size() const { return sums_.size(); }

  // importance_j = E[x_j^2] + damping * mean_j E[x_j^2]: the damping keeps channels that were
  // never active from dropping out of the k-means entirely (GPTQ damps its Hessian the same way).
  // Errors: a weight seen with two input widths, or non-finite activations.
  // REQUIRES: damping >= 0.
  Result<quant::ChannelImportance> Finish(double damping, std::string description) const;

 private:
  struct Sum {
    std::vector<double> sum_sq;  // per input channel
    int64_t positions = 0;       // activation vectors summed
    bool width_changed = false;
    bool non_finite = false;
  };
  std::map<std::string, Sum, std::less<>> sums_;
};

}  // namespace anec::calib
