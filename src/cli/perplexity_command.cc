// `anec perplexity --model-path DIR --text-file F`: scores a text with a converted model on the
// CPU runtime: perplexity, and (with --json) every position's token, top-1 prediction and
// negative log-likelihood, so the figures can be compared with another implementation.
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/converted_model.h"
#include "cli/perplexity.h"
#include "runtime/generation.h"
#include "runtime/llm_model.h"

namespace anec::cli {
namespace {

struct PerplexityOptions {
  std::string model_path;
  std::string text_file;
  std::string json_out;
  int max_tokens = 0;
  int window = 0;
};

}  // namespace

Result<PerplexityScores> ScoreText(ConvertedModel& converted, const std::string& model_path,
                                   const std::string& text, const std::string& text_name,
                                   int max_tokens, int window_flag, std::FILE* progress) {
  auto& model = converted.model;
  if (model->argmax_only()) {
    return InvalidArgument(
        "{}: this model was converted with --argmax, so its LM head outputs only each piece's "
        "argmax, not the logits perplexity needs; convert it again without --argmax",
        model_path);
  }
  text::Tokenizer& tokenizer = converted.tokenizer;
  PerplexityScores s;
  std::vector<int32_t>& ids = s.tokens;
  ids = tokenizer.Encode(text, /*add_special_tokens=*/false);
  if (max_tokens > 0 && ids.size() > static_cast<size_t>(max_tokens)) {
    ids.resize(static_cast<size_t>(max_tokens));
  }
  if (ids.size() < 2) {
    return InvalidArgument("{}: the text has {} tokens; perplexity needs at least 2", text_name,
                           ids.size());
  }
  int window =
      window_flag > 0 ? std::min(window_flag, model->context_length()) : model->context_length();
  if (window < 2) return InvalidArgument("--window must be >= 2, got {}", window_flag);

  // Non-overlapping windows, each scored from an empty cache.
  double total = 0;
  for (size_t start = 0; start + 1 < ids.size(); start += static_cast<size_t>(window)) {
    size_t end = std::min(ids.size(), start + static_cast<size_t>(window));
    std::span<const int32_t> piece(ids.data() + start, end - start);
    ANEC_ASSIGN_OR_RETURN(auto logits, model->LogitsPerPosition(piece));
    for (size_t i = 0; i + 1 < piece.size(); ++i) {
      const std::vector<float>& l = logits[i];
      double mx = -INFINITY;
      size_t arg = 0;
      for (size_t v = 0; v < l.size(); ++v) {
        if (l[v] > mx) {
          mx = l[v];
          arg = v;
        }
      }
      double sum = 0;
      for (float x : l) sum += std::exp(static_cast<double>(x) - mx);
      double loss = mx + std::log(sum) - static_cast<double>(l[static_cast<size_t>(piece[i + 1])]);
      s.top1.push_back(static_cast<int32_t>(arg));
      s.nll.push_back(loss);
      s.positions.push_back(start + i);
      total += loss;
    }
    if (progress) fmt::print(progress, "\rscored {} / {} tokens", end, ids.size());
  }
  if (progress) fmt::print(progress, "\n");
  s.window = window;
  s.perplexity = std::exp(total / static_cast<double>(s.nll.size()));
  return s;
}

namespace {

Status RunPerplexity(const PerplexityOptions& o) {
  FileSystem* fs = RealFileSystem();
  ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(o.text_file));
  ANEC_ASSIGN_OR_RETURN(ConvertedModel converted, OpenConvertedModel(o.model_path, "--model-path"));
  ANEC_ASSIGN_OR_RETURN(PerplexityScores s, ScoreText(converted, o.model_path, text, o.text_file,
                                                      o.max_tokens, o.window, stderr));
  fmt::print("tokens: {}  scored: {}  window: {}  perplexity: {:.4f}\n", s.tokens.size(),
             s.nll.size(), s.window, s.perplexity);
  if (!o.json_out.empty()) {
    nlohmann::json j = {{"tokens", s.tokens}, {"positions", s.positions},   {"top1", s.top1},
                        {"nll", s.nll},       {"perplexity", s.perplexity}, {"window", s.window}};
    ANEC_RETURN_IF_ERROR(fs->WriteFileAtomic(o.json_out, j.dump()));
  }
  return Status::Ok();
}

const Registrar kPerplexity({
    "perplexity",
    "Score a text file with a converted model: perplexity and per-token top-1 predictions",
    [](CLI::App* sub) -> std::function<Status()> {
      auto o = std::make_shared<PerplexityOptions>();
      sub->add_option("--model-path", o->model_path, "Folder written by `anec convert`")->required();
      sub->add_option("--text-file", o->text_file, "UTF-8 text to score")->required();
      sub->add_option("--max-tokens", o->max_tokens, "Score only the first N tokens (default: all)");
      sub->add_option("--window", o->window,
                      "Tokens per scoring window, each from an empty cache (default: the context length)");
      sub->add_option("--json", o->json_out, "Write tokens, top-1 predictions and per-token NLL here");
      return [o] { return RunPerplexity(*o); };
    },
});

}  // namespace
}  // namespace anec::cli
