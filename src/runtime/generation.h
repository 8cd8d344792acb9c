// Text generation on an LlmModel: the token loop (with context shifting), and a multi-turn chat
// session that renders the tokenizer's chat template and streams decoded text.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "runtime/llm_model.h"
#include "runtime/sampler.h"
#include "text/tokenizer.h"

namespace anec::runtime {

struct GenerationOptions {
  int max_tokens = 256;
  SamplingOptions sampling;
};

struct GenerationStats {
  int prompt_tokens = 0;
  int prefilled_tokens = 0;   // prompt tokens actually computed (the rest was cached)
  int generated_tokens = 0;
  double time_to_first_token_s = 0;
  double prefill_s = 0;       // time of the prompt pass
  double decode_s = 0;        // time after the first token
  int context_shifts = 0;
  bool stopped_by_token = false;

  double prefill_tokens_per_s() const { return prefill_s > 0 ? prefilled_tokens / prefill_s : 0; }
  double decode_tokens_per_s() const {
    return decode_s > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_s : 0;
  }
};

// Feeds `prompt`, then samples up to max_tokens tokens, calling on_token for each generated id
// (a stop id ends generation and is not passed on; on_token returning false also ends it). When
// the context is full, the oldest half of the sequence is dropped and the rest re-prefilled.
// REQUIRES: !prompt.empty().
Result<GenerationStats> Generate(LlmModel* model, std::vector<int32_t> prompt,
                                 const GenerationOptions& options, const std::set<int32_t>& stop_ids,
                                 const std::function<bool(int32_t)>& on_token);

// tokenizer.json + tokenizer_config.json (chat template, bos/eos) from a model folder.
Result<text::Tokenizer> LoadFolderTokenizer(FileSystem* fs, const std::string& dir);
// End-of-turn ids: eos and the usual end markers present in the vocabulary.
std::set<int32_t> StopTokenIds(const text::Tokenizer& tokenizer);

class ChatSession {
 public:
  // `use_template`: render the tokenizer's chat template (when it has one); otherwise the prompt
  // is the raw text of the conversation's last user message.
  ChatSession(LlmModel* model, const text::Tokenizer* tokenizer, bool use_template);

  void SetSystem(std::string system) { system_ = std::move(system); }
  // Forgets the conversation (keeps the system prompt).
  void Reset() { turns_.clear(); }
  size_t turns() const { return turns_.size(); }

  // Adds `user`, generates the reply streaming text pieces to on_text, and records it.
  Result<GenerationStats> Reply(const std::string& user, const GenerationOptions& options,
                                const std::function<void(std::string_view)>& on_text);

  // The prompt ids for the conversation plus `user`; drops the oldest turns (then the oldest
  // tokens) so that `reserve` tokens remain free in the context.
  Result<std::vector<int32_t>> BuildPrompt(const std::string& user, int reserve) const;

 private:
  Result<std::vector<int32_t>> Render(const std::vector<std::pair<std::string, std::string>>& turns,
                                      const std::string& user) const;

  LlmModel* model_;
  const text::Tokenizer* tokenizer_;
  bool use_template_;
  std::string system_;
  std::vector<std::pair<std::string, std::string>> turns_;  // (user, assistant)
  std::set<int32_t> stop_ids_;
};

}  // namespace anec::runtime
