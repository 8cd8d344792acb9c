#include "runtime/generation.h"

#include <chrono>

#include "text/chat_template.h"
#include "text/stream_decoder.h"
#include "text/tokenizer_config.h"

namespace anec::runtime {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

Result<GenerationStats> Generate(LlmModel* model, std::vector<int32_t> prompt,
                                 const GenerationOptions& options, const std::set<int32_t>& stop_ids,
                                 const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) return InvalidArgument("the prompt has no tokens");
  GenerationStats stats;
  stats.prompt_tokens = static_cast<int>(prompt.size());
  const int context = model->context_length();
  if (static_cast<int>(prompt.size()) > context) {
    // Keep the most recent tokens.
    prompt.erase(prompt.begin(), prompt.end() - context);
    ++stats.context_shifts;
  }
  Sampler sampler(options.sampling);
  auto start = std::chrono::steady_clock::now();
  size_t cached_before = model->cached_tokens().size();
  size_t common = 0;
  while (common < cached_before && common + 1 < prompt.size() &&
         model->cached_tokens()[common] == prompt[common]) {
    ++common;
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<float> logits, model->Forward(prompt));
  stats.prefilled_tokens = static_cast<int>(prompt.size() - common);
  stats.prefill_s = Seconds(start);
  auto decode_start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.max_tokens; ++i) {
    int32_t next = sampler.Sample(logits);
    if (i == 0) {
      stats.time_to_first_token_s = Seconds(start);
      decode_start = std::chrono::steady_clock::now();
    }
    if (stop_ids.count(next)) {
      stats.stopped_by_token = true;
      break;
    }
    ++stats.generated_tokens;
    if (!on_token(next)) break;
    if (i + 1 == options.max_tokens) break;
    if (static_cast<int>(model->cached_tokens().size()) >= context) {
      // Context full: keep the newest half and continue from there.
      std::vector<int32_t> seq = model->cached_tokens();
      seq.push_back(next);
      std::vector<int32_t> kept(seq.end() - context / 2, seq.end());
      ++stats.context_shifts;
      ANEC_ASSIGN_OR_RETURN(logits, model->Forward(kept));
    } else {
      ANEC_ASSIGN_OR_RETURN(logits, model->Step(next));
    }
  }
  stats.decode_s = stats.generated_tokens > 0 ? Seconds(decode_start) : 0;
  return stats;
}

Result<text::Tokenizer> LoadFolderTokenizer(FileSystem* fs, const std::string& dir) {
  ANEC_ASSIGN_OR_RETURN(text::Tokenizer tok,
                        text::Tokenizer::FromJsonFile(fs, JoinPath(dir, "tokenizer.json")));
  std::string config_path = JoinPath(dir, "tokenizer_config.json");
  if (fs->Exists(config_path)) {
    ANEC_ASSIGN_OR_RETURN(text::TokenizerConfig config, text::TokenizerConfig::FromFile(fs, config_path));
    ANEC_RETURN_IF_ERROR(tok.ApplyConfig(config));
  }
  return tok;
}

std::set<int32_t> StopTokenIds(const text::Tokenizer& tokenizer) {
  std::set<int32_t> ids;
  if (tokenizer.eos_id()) ids.insert(*tokenizer.eos_id());
  for (const char* t : {"<|eot_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "</s>",
                        "<end_of_turn>", "<|end|>"}) {
    if (auto id = tokenizer.TokenToId(t)) ids.insert(*id);
  }
  return ids;
}

ChatSession::ChatSession(LlmModel* model, const text::Tokenizer* tokenizer, bool use_template)
    : model_(model),
      tokenizer_(tokenizer),
      use_template_(use_template && !tokenizer->chat_template().empty()),
      stop_ids_(StopTokenIds(*tokenizer)) {}

Result<std::vector<int32_t>> ChatSession::Render(
    const std::vector<std::pair<std::string, std::string>>& turns, const std::string& user) const {
  if (!use_template_) {
    std::string textual;
    if (!system_.empty()) textual += system_ + "\n\n";
    for (const auto& [u, a] : turns) textual += u + "\n" + a + "\n";
    textual += user;
    return tokenizer_->Encode(textual, /*add_special_tokens=*/true);
  }
  text::OrderedJson messages = text::OrderedJson::array();
  if (!system_.empty()) messages.push_back({{"role", "system"}, {"content", system_}});
  for (const auto& [u, a] : turns) {
    messages.push_back({{"role", "user"}, {"content", u}});
    messages.push_back({{"role", "assistant"}, {"content", a}});
  }
  messages.push_back({{"role", "user"}, {"content", user}});
  text::ChatTemplateOptions opts;
  opts.add_generation_prompt = true;
  opts.extra_vars["bos_token"] = tokenizer_->bos_token();
  opts.extra_vars["eos_token"] = tokenizer_->eos_token();
  ANEC_ASSIGN_OR_RETURN(std::string rendered,
                        text::RenderChatTemplate(tokenizer_->chat_template(), messages, opts));
  // The template writes the special tokens itself (as transformers' apply_chat_template).
  return tokenizer_->Encode(rendered, /*add_special_tokens=*/false);
}

Result<std::vector<int32_t>> ChatSession::BuildPrompt(const std::string& user, int reserve) const {
  const int budget = std::max(1, model_->context_length() - reserve);
  std::vector<std::pair<std::string, std::string>> turns = turns_;
  while (true) {
    ANEC_ASSIGN_OR_RETURN(std::vector<int32_t> ids, Render(turns, user));
    if (static_cast<int>(ids.size()) <= budget) return ids;
    if (turns.empty()) {
      // A single message longer than the budget: keep its end.
      ids.erase(ids.begin(), ids.end() - budget);
      return ids;
    }
    turns.erase(turns.begin());
  }
}

Result<GenerationStats> ChatSession::Reply(const std::string& user, const GenerationOptions& options,
                                           const std::function<void(std::string_view)>& on_text) {
  // Leave room for the reply, but never less than a quarter of the context for the prompt.
  int reserve = std::min(options.max_tokens, model_->context_length() * 3 / 4);
  ANEC_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, BuildPrompt(user, reserve));
  text::StreamDecoder decoder(tokenizer_, /*skip_special=*/true);
  std::vector<int32_t> reply_ids;
  ANEC_ASSIGN_OR_RETURN(GenerationStats stats,
                        Generate(model_, std::move(prompt), options, stop_ids_, [&](int32_t id) {
                          reply_ids.push_back(id);
                          std::string piece = decoder.Put(id);
                          if (!piece.empty()) on_text(piece);
                          return true;
                        }));
  std::string rest = decoder.Flush();
  if (!rest.empty()) on_text(rest);
  turns_.emplace_back(user, tokenizer_->Decode(reply_ids, /*skip_special=*/true));
  return stats;
}

}  // namespace anec::runtime
