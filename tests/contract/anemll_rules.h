// How ANEMLL's runtimes drive the packages once found, as facts read in their sources and
// re-stated in our own code (anemll_rules.cc cites the file and function of each): which
// functions they load, the inputs they build for each call, the state they share, how they
// prefill a prompt, and how they turn the LM head's outputs into a token id.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "anemll_paths.h"

namespace anec::contract {

enum class PrefillMode {
  // Every prompt token goes through `prefill` in batches of batch_size, the last batch padded
  // with token 0 (position_ids run on through the padding).
  kPaddedBatches,
  // Only full batches through `prefill`; the remaining tokens one at a time through `infer`.
  kFullBatchesThenInfer,
  // Every prompt token one at a time through `infer`.
  kInferOnly,
};

enum class LogitsRule {
  kConcat,        // logits1..K concatenated in order, argmax over all (first maximum)
  kSwiftOffsets,  // per piece i: argmax + (i-1) * count(piece i); best value wins (first on ties)
};

enum class ArgmaxRule {
  kNone,           // the runtime cannot read argmax_idx / argmax_val
  kPython,         // chat.py 0.3.5
  kPythonClamped,  // chat_full.py 0.3.5 (local index clamped into its piece)
  kSwift,          // Swift CLI 0.3.5
};

struct DriveRules {
  AnemllRuntime runtime;
  int context = 0;  // the host mask is [1, 1, context, context]
  int batch = 0;    // prefill batch
  int split_lm_head = 8;
  PrefillMode prefill = PrefillMode::kPaddedBatches;
  // Extra mask columns an `infer` call at position p may see past p (0: columns 0..p).
  int infer_mask_lookahead = 0;
  // Inputs fed to `infer` beyond the four of the contract: update_mask fp16 [1, 1, context, 1].
  bool infer_feeds_update_mask = false;
  // Core ML via coremltools' MLModel (.mlpackage) rejects input names the function does not
  // declare; CompiledMLModel (.mlmodelc) and the Swift CLI pass only what Core ML reads.
  bool rejects_undeclared_inputs = false;
  LogitsRule logits = LogitsRule::kConcat;
  ArgmaxRule argmax = ArgmaxRule::kNone;
  bool argmax_in_model = false;  // meta.yaml argmax_in_model: true, for runtimes that read it
  // Context shift when the next position reaches context - 2: keep the newest N tokens
  // (ShiftKeep) and prefill them again; the Swift CLI makes a fresh state first.
  bool reset_state_on_shift = false;
  bool version_is_v110 = false;  // Swift CLI: model_info.version "0.1.1" changes prefill output use
  // For the argmax mapping.
  std::optional<std::vector<int64_t>> lm_head_chunk_sizes;
  std::optional<int64_t> vocab_size;
  std::string architecture_or_prefix;  // fallback vocabulary lookup
};

// The rules `runtime` applies to this meta.yaml; `compiled` = it loads `.mlmodelc` files.
Result<DriveRules> RulesFor(AnemllRuntime runtime, const MetaParams& meta, bool compiled);

// One host causal-mask row for a query at `pos`: 0 for columns <= pos + lookahead, -inf after.
std::vector<float> CausalMaskRow(int context, int pos, int lookahead = 0);

// Tokens kept at a context shift (chat_full.py chat_loop, Swift InferenceManager
// generateResponse): min(max(1, C / B - 2) * B, C - B).
int ShiftKeep(int context, int batch);

// ---- LM head -> token id ----
int64_t ConcatArgmax(const std::vector<std::vector<float>>& pieces);
int64_t SwiftOffsetArgmax(const std::vector<std::vector<float>>& pieces);

struct ArgmaxLayout {
  std::vector<int64_t> sizes, offsets;
};
// chat.py / chat_full.py 0.3.5 `_resolve_argmax_chunk_layout`.
ArgmaxLayout PythonArgmaxLayout(const DriveRules& r, int64_t pieces,
                                std::span<const int32_t> local_idx);
// Swift 0.3.5 InferenceManager.resolveArgmaxChunkLayout.
ArgmaxLayout SwiftArgmaxLayout(const DriveRules& r, int64_t pieces,
                               std::span<const int32_t> local_idx);
// The token the runtime picks from argmax_idx / argmax_val. REQUIRES: r.argmax != kNone.
int64_t ArgmaxInModelToken(const DriveRules& r, std::span<const int32_t> local_idx,
                           std::span<const float> values);

}  // namespace anec::contract
