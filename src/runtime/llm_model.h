// Runs a converted LLM the way ANEMLL's runtime does: embeddings -> FFN chunks -> LM head, with
// the KV-cache state(s) shared by both chunk functions (`prefill` for batches of batch_size
// tokens, `infer` for one token), a host causal mask (0 / -inf) per call, and the LM head's
// logits1..K concatenated into one vocabulary. States are found by name in each function, so one
// state shared by every chunk (ANEMLL's contract) and one state per chunk both work.
//
// KV rows: when the chunks' causal_mask has R < context_length columns, the cache is a ring
// (a sliding-window model, ane/kv_cache_layout.h): position p lives in row p mod R, current_pos
// is the first row a call writes, and the mask admits row s for a query at position q only when
// the position it holds, p_s (the latest p <= the call's last position with p = s mod R), has
// p_s <= q and q - p_s < window. The window (package metadata com.anec.sliding_window) applies to
// an ordinary cache as well. A prefill batch is used only when its rows do not wrap.
// Interleaved models (Gemma 3): chunks that run local layers have a second mask input,
// local_causal_mask, built the same way with the local window (package metadata
// com.anec.local_sliding_window); the cache then holds every position (no ring).
// A chunk input X other than hidden_states, position_ids, causal_mask and current_pos is fed from
// the previous chunk's output output_X (split-layer plans carry mlp_input this way).
//
// Names and shapes are read from the packages (function inputs/outputs), not assumed, so a
// mismatch between the converter and this contract shows up as an error naming the package.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "runtime/interpreter.h"
#include "runtime/model_folder.h"
#include "runtime/program.h"
#include "runtime/thread_pool.h"

namespace anec::runtime {

// Loads one .mlpackage folder into a Program (weights mapped, not copied).
Result<std::shared_ptr<const Program>> LoadPackageProgram(FileSystem* fs, const std::string& path);

class LlmModel {
 public:
  // Reads dir/meta.yaml, finds and loads every package. `pool` null = DefaultThreadPool().
  // The KV-cache states are allocated (zeroed) here. Their size comes from the packages'
  // declarations, not from any file, so it is checked first: more than `max_state_bytes` in all
  // (0 = this machine's physical memory) is an error naming the package and the state.
  static Result<std::unique_ptr<LlmModel>> Open(FileSystem* fs, const std::string& dir,
                                                ThreadPool* pool = nullptr,
                                                uint64_t max_state_bytes = 0);
  // From programs already loaded (tests). Checks the I/O contract of each.
  static Result<std::unique_ptr<LlmModel>> FromPrograms(
      ModelFolderConfig config, std::shared_ptr<const Program> embeddings,
      std::vector<std::shared_ptr<const Program>> chunks, std::shared_ptr<const Program> lm_head,
      ThreadPool* pool = nullptr, uint64_t max_state_bytes = 0);

  const ModelFolderConfig& config() const { return config_; }
  int context_length() const { return context_; }
  int batch_size() const { return batch_; }
  int64_t hidden_size() const { return hidden_; }
  int64_t vocab_size() const { return vocab_; }
  // The LM head computes its argmax in the model (ANEMLL 0.3.5 --argmax: argmax_idx/argmax_val
  // per piece): the "logits" Forward/Step return are then the lowest float everywhere but at the
  // winning token, which holds its logit. Good for greedy decoding only; no perplexity.
  bool argmax_only() const { return !argmax_piece_offsets_.empty(); }
  bool has_prefill() const { return has_prefill_; }

  // Tokens whose keys/values are in the cache, at positions 0..size-1.
  const std::vector<int32_t>& cached_tokens() const { return cached_; }
  // Clears the cache (zeros the state).
  void Reset();

  // Makes the cache hold exactly `tokens` and returns the logits for the next token. Reuses the
  // longest common prefix already cached; the rest but the last token goes through `prefill` in
  // batches (zero-padded), the last through `infer`.
  // REQUIRES: 1 <= tokens.size() <= context_length().
  Result<std::vector<float>> Forward(std::span<const int32_t> tokens);
  // Appends `token` at the next position; returns the logits for the token after it.
  Result<std::vector<float>> Step(int32_t token);
  // Logits after every position of `tokens`, feeding them one by one from an empty cache
  // (for parity tests against a reference implementation).
  Result<std::vector<std::vector<float>>> LogitsPerPosition(std::span<const int32_t> tokens);

  // The KV-cache state buffers by name (one shared, or one per chunk).
  const StateStore& states() const { return states_; }

  // Tokens the last Forward sent through prefill (for throughput reports).
  int last_prefill_tokens() const { return last_prefill_tokens_; }

 private:
  struct Chunk {
    std::shared_ptr<const Program> program;
    const CompiledFunction* infer = nullptr;
    const CompiledFunction* prefill = nullptr;  // null: infer token by token
    std::string output;                         // hidden-state output name
  };
  LlmModel() = default;
  Status Init();
  Status CheckStateSizes(const CompiledFunction& fn);
  Result<Tensor> Embed(std::span<const int32_t> ids, int64_t padded_len);
  Result<NamedTensors> ChunkInputs(const CompiledFunction& fn, Tensor hidden, int pos,
                                   int64_t rows);
  Status PrefillBatch(std::span<const int32_t> ids, int pos);
  Result<std::vector<float>> InferOne(int32_t id, int pos);

  ModelFolderConfig config_;
  ThreadPool* pool_ = nullptr;
  uint64_t max_state_bytes_ = 0;
  uint64_t state_bytes_ = 0;  // of the states checked so far
  std::shared_ptr<const Program> embeddings_, lm_head_;
  const CompiledFunction* embed_fn_ = nullptr;
  Status ReadLmHeadLayout();
  Result<std::vector<float>> ArgmaxLogits(NamedTensors& out);
  const CompiledFunction* head_fn_ = nullptr;
  std::string embed_input_, embed_output_, head_input_;
  std::vector<std::string> logit_outputs_;  // logits1..K in order
  // argmax heads: the first token id of each piece (com.anemll.lm_head_chunk_sizes).
  std::vector<int64_t> argmax_piece_offsets_;
  std::vector<Chunk> chunks_;
  StateStore states_;
  int context_ = 0, batch_ = 0;
  int cache_rows_ = 0;  // R: columns of causal_mask; < context_ for a ring
  int window_ = 0;      // sliding window, 0 = none
  int local_window_ = 0;  // local layers' window (local_causal_mask), 0 = none
  int64_t hidden_ = 0, vocab_ = 0, embed_seq_ = -1;  // embed_seq_: fixed input length or -1
  bool has_prefill_ = false;
  std::vector<int32_t> cached_;
  int last_prefill_tokens_ = 0;
};

}  // namespace anec::runtime
