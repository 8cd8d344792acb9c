// One decoder layer in the ANE layout (1, hidden, 1, S):
//   h = x + Attention(RmsNorm(x, input_layernorm))
//   y = h + down(silu(gate(n)) * up(n)),  n = RmsNorm(h, post_attention_layernorm)
// The gate/up/down projections are 1x1 convs.
#pragma once

#include <cstdint>

#include "ane/attention.h"

namespace anec::ane {

mil::Value FeedForward(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                       int64_t layer, mil::Value x_norm);

mil::Value TransformerLayer(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                            int64_t layer, mil::Value x);

// The final norm (model.norm) in the same layout.
mil::Value FinalNorm(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                     mil::Value x);

}  // namespace anec::ane
