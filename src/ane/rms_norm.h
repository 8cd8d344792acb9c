// ANE-safe RMSNorm.
//
// y = x / sqrt(mean(x^2) + eps) * gamma, computed as layer_norm over concat([x, -x]) along the
// normalized axis, keeping the first half, times gamma. The concatenation has mean exactly 0, so
// layer_norm's variance is mean over 2n of x^2 = mean over n of x^2: layer_norm's epsilon is
// the checkpoint's rms_norm_eps unchanged, and the fp16 squaring overflow of a naive
// x*x reduction never happens (the Neural Engine's layer_norm keeps higher internal precision).
#pragma once

#include <cstdint>
#include <string>

#include "mil/program_builder.h"

namespace anec::ane {

// `x` is fp16; `axis` (non-negative) is normalized; `gamma` broadcasts against x.
mil::Value AneRmsNorm(mil::Function* f, mil::Value x, int32_t axis, mil::Value gamma, double eps,
                      const std::string& name);

}  // namespace anec::ane
