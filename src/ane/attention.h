// Grouped-query self-attention in the ANE layout, with the stateful KV cache.
//
// The residual stream is [1, S, hidden] (ANEMLL's layout: norms run over its last axis, which
// the Neural Engine pads to 64 bytes, so never over a size-1 axis). Per layer:
//   q,k,v = 1x1 conv over channels-first [1, hidden, 1, S] (+ bias when spec.attention_bias)
//           -> heads [1, heads, S, head_dim]
//   q,k   = per-head RMSNorm over head_dim (when spec.qk_norm), then RoPE with the gathered
//           cos/sin rows
//   cache[i] and cache[L_state + i] (i = layer - state_first_layer) get k and v at rows
//         current_pos .. current_pos+S (read_state -> slice_update -> write_state, read_state)
//   scores = (q * scale) k^T over all `cache_rows` rows + causal_mask, scale = 1/sqrt(head_dim)
//            or spec.attention_scale; a local layer of an interleaved model (Gemma 3) uses its own
//            rope rows and local_mask instead
// The host's causal_mask says which rows each query may see, so a ring-buffer cache (sliding
// window, kv_cache_layout.h) needs nothing different here.
//   out    = softmax(scores) v -> o_proj conv -> [1, S, hidden]
// softmax is spelled reduce_max, sub, exp, reduce_sum, real_div as in ANEMLL's graphs.
// Where this differs from ANEMLL's graphs, on purpose:
// - GQA without copies: query heads are grouped as [1, kv_heads, n_rep*S, head_dim] so each kv
//   head serves its n_rep query heads (HF repeat_kv order: query head h uses kv head h / n_rep);
//   ANEMLL tiles K and V n_rep times (repeat_kv), reading and writing n_rep x the cache bytes.
// - q is scaled by 1/sqrt(head_dim) before q k^T (ANEMLL scales the scores): fewer elements,
//   and the fp16 scores stay smaller.
// - o_proj is a 1x1 conv like every other projection (ANEMLL uses `linear` there).
#pragma once

#include <cstdint>

#include "ane/weight_emitter.h"
#include "mil/program_builder.h"
#include "model/model_spec.h"

namespace anec::ane {

struct AttentionContext {
  const model::ModelSpec* spec = nullptr;
  int64_t seq = 1;           // S: tokens per call
  int64_t cache_rows = 0;         // C: cache rows (the context, or a sliding window's ring)
  int64_t state_layers = 0;       // L: layers the state holds (2*L slices)
  int64_t state_first_layer = 0;  // global index of the layer at slice 0
  mil::Value cos, sin;            // fp16 [1, 1, S, head_dim]
  mil::Value causal_mask;         // fp16 [1, 1, S, C]
  mil::Value kv_state;            // state fp16 [2L, kv_heads, C, head_dim]
  mil::Value current_pos;    // int32 [1]
  // Local (sliding-window) layers of a spec with local_attention: their own rotary rows and mask
  // (the host's local_causal_mask, which also leaves out rows older than the window).
  mil::Value local_cos, local_sin;  // fp16 [1, 1, S, head_dim]
  mil::Value local_mask;            // fp16 [1, 1, S, C]
};

// Whether `layer` of `spec` is a local (sliding-window) layer of an interleaved model.
bool IsLocalLayer(const model::ModelSpec& spec, int64_t layer);

// `normed`: fp16 [1, S, hidden]. Returns o_proj's output, same shape. `layer` is global.
mil::Value Attention(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx, int64_t layer,
                     mil::Value normed);

}  // namespace anec::ane
