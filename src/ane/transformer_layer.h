// One decoder layer in ANEMLL's layout: the residual stream is [1, S, hidden]; the norms run over
// its last axis; each projection is a 1x1 conv over channels-first [1, C, 1, S] (ANEMLL's
// permute(0, 2, 1).unsqueeze(2) before, squeeze(2).permute(0, 2, 1) after):
//   h = x + Attention(RmsNorm(x, input_layernorm))
//   y = h + down(silu(gate(n)) * up(n)),  n = RmsNorm(h, post_attention_layernorm)
// Gemma-style specs (model_spec.h): gains are offset + w, the gate activation may be GeLU-tanh,
// and with sandwich_norms the attention and MLP outputs are RMS-normalized before their adds:
//   h = x + RmsNorm(Attention(RmsNorm(x)), attn_out),  y = h + RmsNorm(MLP(n), mlp_out)
#pragma once

#include <cstdint>

#include "ane/attention.h"

namespace anec::ane {

mil::Value FeedForward(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                       int64_t layer, mil::Value x_norm);

mil::Value TransformerLayer(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                            int64_t layer, mil::Value x);

// MLP rows [begin, end) of the intermediate dimension:
//   down[:, begin:end](silu(gate[begin:end] n) * up[begin:end] n)
// The MLP is the sum of its slices. Slice weights are their own constants, named
// layers_L_{gate,up,down}_proj_{begin}_{end}; the whole range is FeedForward (same names as ever).
mil::Value FeedForwardSlice(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                            int64_t layer, int64_t begin, int64_t end, mil::Value x_norm);

// A piece of one layer, for plans that split a layer across files (pipeline/chunk_plan.h): the
// attention block when `attention`, then MLP rows [mlp_begin, mlp_end) (none when equal).
struct LayerPiece {
  bool attention = true;
  int64_t mlp_begin = 0;
  int64_t mlp_end = 0;
};

// Runs `piece` of `layer` on the residual stream `x` and returns the stream after it:
//   h = x (+ Attention(RmsNorm(x)) when piece.attention);  h + FeedForwardSlice(n)
// `mlp_input` is n = RmsNorm(h, post_attention_layernorm): computed here (and stored in
// *mlp_input) when the piece has MLP rows from 0; read from *mlp_input when it starts later.
// REQUIRES: *mlp_input valid when piece.mlp_begin > 0.
mil::Value TransformerLayerPiece(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                                 int64_t layer, const LayerPiece& piece, mil::Value x,
                                 mil::Value* mlp_input);

// The final norm (model.norm) in the same layout.
mil::Value FinalNorm(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                     mil::Value x);

}  // namespace anec::ane
