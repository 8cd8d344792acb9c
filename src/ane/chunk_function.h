// One FFN chunk function: layers [first_layer, end_layer) for S tokens, following the ANEMLL
// contract (docs/ANE_LAYERS.md):
//   inputs  hidden_states fp16 [1,S,H], position_ids int32 [S], causal_mask fp16 [1,1,S,R],
//           current_pos int32 [1], state model_model_kv_cache_N fp16 [2L, kv_heads, R, head_dim]
//   output  output_hidden_states fp16 [1,S,H] (after the final norm in the last chunk only;
//           [1,1,H] from the last chunk's cache-filling function, see fill_cache_only)
// R and L come from the chunk's KvCacheLayout (kv_cache_layout.h): R is the context, or a
// sliding window's ring; L is every layer (shared state) or the chunk's own (per-chunk state).
// The rotary cos/sin tables are fp16 constants [context, head_dim] gathered by position_ids.
// Attention is masked only by the host's causal_mask: for a sliding window it is the host that
// leaves out rows older than the window (the window is in the package metadata,
// com.anec.sliding_window, and in meta.yaml).
// A chunk that runs local layers of an interleaved model (Gemma 3) has one more input,
// local_causal_mask, and its local layers rotate with the rope_local_cos/sin tables.
// A chunk that starts inside an MLP past its first row has one more input, mlp_input fp16 [1,S,H]
// (that MLP's normalized input n); one that stops inside an MLP past its first row has one more
// output, output_mlp_input (n), which the runtime feeds to the next chunk's mlp_input.
#pragma once

#include <cstdint>
#include <string>

#include "ane/kv_cache_layout.h"
#include "ane/model_assembly.h"
#include "ane/weight_emitter.h"
#include "model/model_spec.h"

namespace anec::ane {

// ANEMLL names the state "model.model.kv_cache_0" in its converter; coremltools sanitizes it to
// this identifier in the saved package, which is what ANEMLL's runtimes and tools read
// (state.read_state("model_model_kv_cache_0")). MIL identifiers cannot contain dots.
inline constexpr const char* kKvCacheStateName = "model_model_kv_cache_0";

// The mask input of a chunk that runs local layers of an interleaved model (Gemma 3): fp16
// [1,1,S,R] like causal_mask, with the rows older than the local window (package metadata
// com.anec.local_sliding_window) also at -inf. Global layers read causal_mask.
inline constexpr const char* kLocalCausalMaskName = "local_causal_mask";

struct ChunkShape {
  int64_t first_layer = 0;
  int64_t end_layer = 0;  // exclusive
  int64_t context = 0;
  bool is_last = false;  // applies the final norm
  // The KV state. rows == 0 means the default: the shared state of `context` rows.
  KvCacheLayout kv{};
  // Plans that split a layer across files (pipeline/chunk_plan.h). kWholeLayer: first_layer
  // starts with its attention block. m >= 0: the chunk starts in first_layer's MLP at intermediate
  // row m (its attention block, and MLP rows [0, m), ran in the previous chunk).
  int64_t begin_mlp = kWholeLayer;
  // kWholeLayer: layer end_layer-1 is run to its end. m >= 0: the chunk stops in that layer's MLP
  // before intermediate row m (m = 0: right after its attention block).
  int64_t end_mlp = kWholeLayer;
  static constexpr int64_t kWholeLayer = -1;
  // The function only fills the KV cache (prefill): with is_last, it skips the model's last MLP
  // and the final norm, whose results nothing reads, and outputs row 0 only, [1,1,H] (ANEMLL's
  // prefill does the same). Runtimes must not read its output.
  bool fill_cache_only = false;
};

// Adds function `fn_name` to `program`. Errors are recorded in the program (and returned).
Result<FunctionSignature> AddChunkFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                           const model::ModelSpec& spec, const ChunkShape& chunk,
                                           int64_t seq, const std::string& fn_name);

}  // namespace anec::ane
