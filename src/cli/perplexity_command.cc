// `anec perplexity --model-path DIR --text-file F`: scores a text with a converted model on the
// CPU runtime: perplexity, and (with --json) every position's token, top-1 prediction and
// negative log-likelihood, so the figures can be compared with another implementation.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

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
  std::string reference_path;
  int max_tokens = 0;
  int window = 0;
};

// Index of the largest logit (the first on ties) and log sum exp of the logits.
std::pair<size_t, double> ArgmaxAndLogSumExp(std::span<const float> l) {
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
  return {arg, mx + std::log(sum)};
}

}  // namespace

namespace {

// KL(softmax(p) || softmax(q)) given each side's log sum exp (ScoreText has both already).
double KlGivenLogSumExp(std::span<const float> p, double lse_p, std::span<const float> q,
                        double lse_q) {
  double kl = 0;
  for (size_t v = 0; v < q.size(); ++v) {
    const double log_p = static_cast<double>(p[v]) - lse_p;
    const double log_q = static_cast<double>(q[v]) - lse_q;
    kl += std::exp(log_p) * (log_p - log_q);
  }
  return std::max(kl, 0.0);  // rounding can leave -1e-17 for identical distributions
}

}  // namespace

double KlDivergenceOfLogits(std::span<const float> reference_logits,
                            std::span<const float> logits) {
  return KlGivenLogSumExp(reference_logits, ArgmaxAndLogSumExp(reference_logits).second, logits,
                          ArgmaxAndLogSumExp(logits).second);
}

Result<PerplexityScores> ScoreText(ConvertedModel& converted, const std::string& model_path,
                                   const std::string& text, const std::string& text_name,
                                   int max_tokens, int window_flag, std::FILE* progress,
                                   ConvertedModel* reference, const std::string& reference_path) {
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
  if (reference != nullptr) {
    if (reference->model->argmax_only()) {
      return InvalidArgument(
          "{}: the reference model was converted with --argmax and outputs no logits; convert "
          "it again without --argmax",
          reference_path);
    }
    std::vector<int32_t> ref_ids = reference->tokenizer.Encode(text, false);
    if (max_tokens > 0 && ref_ids.size() > static_cast<size_t>(max_tokens)) {
      ref_ids.resize(static_cast<size_t>(max_tokens));
    }
    if (ref_ids != ids) {
      return InvalidArgument(
          "{}: the reference model tokenizes {} differently from {}; compare conversions of the "
          "same checkpoint (e.g. its fp16 conversion, `anec convert --lut none`)",
          reference_path, text_name, model_path);
    }
    // Its windows must be the same positions: the smaller context caps both.
    window = std::min(window, reference->model->context_length());
  }

  // Non-overlapping windows, each scored from an empty cache.
  double total = 0;
  for (size_t start = 0; start + 1 < ids.size(); start += static_cast<size_t>(window)) {
    size_t end = std::min(ids.size(), start + static_cast<size_t>(window));
    std::span<const int32_t> piece(ids.data() + start, end - start);
    ANEC_ASSIGN_OR_RETURN(auto logits, model->LogitsPerPosition(piece));
    std::vector<std::vector<float>> ref_logits;
    if (reference != nullptr) {
      ANEC_ASSIGN_OR_RETURN(ref_logits, reference->model->LogitsPerPosition(piece));
    }
    for (size_t i = 0; i + 1 < piece.size(); ++i) {
      const std::vector<float>& l = logits[i];
      const auto [arg, lse] = ArgmaxAndLogSumExp(l);
      double loss = lse - static_cast<double>(l[static_cast<size_t>(piece[i + 1])]);
      if (reference != nullptr) {
        const std::vector<float>& r = ref_logits[i];
        if (r.size() != l.size()) {
          return InvalidArgument(
              "{}: the reference model has {} logits per position, {} has {}; compare "
              "conversions of the same checkpoint",
              reference_path, r.size(), model_path, l.size());
        }
        const auto [ref_arg, ref_lse] = ArgmaxAndLogSumExp(r);
        s.kl.push_back(KlGivenLogSumExp(r, ref_lse, l, lse));
        s.reference_top1.push_back(static_cast<int32_t>(ref_arg));
      }
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
  if (reference != nullptr) {
    double kl = 0;
    size_t agree = 0;
    for (size_t i = 0; i < s.kl.size(); ++i) {
      kl += s.kl[i];
      agree += s.top1[i] == s.reference_top1[i];
    }
    s.mean_kl = kl / static_cast<double>(s.kl.size());
    s.top1_agreement = static_cast<double>(agree) / static_cast<double>(s.kl.size());
  }
  return s;
}

namespace {

Status RunPerplexity(const PerplexityOptions& o) {
  FileSystem* fs = RealFileSystem();
  ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(o.text_file));
  ANEC_ASSIGN_OR_RETURN(ConvertedModel converted, OpenConvertedModel(o.model_path, "--model-path"));
  std::optional<ConvertedModel> reference;
  if (!o.reference_path.empty()) {
    ANEC_ASSIGN_OR_RETURN(reference, OpenConvertedModel(o.reference_path, "--reference-model"));
  }
  ANEC_ASSIGN_OR_RETURN(
      PerplexityScores s,
      ScoreText(converted, o.model_path, text, o.text_file, o.max_tokens, o.window, stderr,
                reference ? &*reference : nullptr, o.reference_path));
  fmt::print("tokens: {}  scored: {}  window: {}  perplexity: {:.4f}\n", s.tokens.size(),
             s.nll.size(), s.window, s.perplexity);
  if (reference) {
    std::vector<double> sorted = s.kl;
    std::sort(sorted.begin(), sorted.end());
    auto pct = [&sorted](double q) {
      return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
    };
    fmt::print(
        "KL divergence from the reference: mean {:.6f}  median {:.6f}  99th percentile {:.6f} "
        "nats\ntop-1 agreement with the reference: {:.2f} %\n",
        s.mean_kl, pct(0.5), pct(0.99), 100 * s.top1_agreement);
  }
  if (!o.json_out.empty()) {
    nlohmann::json j = {{"tokens", s.tokens}, {"positions", s.positions},   {"top1", s.top1},
                        {"nll", s.nll},       {"perplexity", s.perplexity}, {"window", s.window}};
    if (reference) {
      j["kl"] = s.kl;
      j["reference_top1"] = s.reference_top1;
      j["mean_kl"] = s.mean_kl;
      j["top1_agreement"] = s.top1_agreement;
    }
    ANEC_RETURN_IF_ERROR(fs->WriteFileAtomic(o.json_out, j.dump()));
  }
  return Status::Ok();
}

const Registrar kPerplexity({
    "perplexity",
    "Score a text file with a converted model: perplexity and per-token top-1 predictions",
    [](CLI::App* sub) -> std::function<Status()> {
      auto o = std::make_shared<PerplexityOptions>();
      sub->add_option("--model-path", o->model_path, "Folder written by `anec convert`")
          ->required();
      sub->add_option("--text-file", o->text_file, "UTF-8 text to score")->required();
      sub->add_option("--max-tokens", o->max_tokens,
                      "Score only the first N tokens (default: all)");
      sub->add_option(
          "--window", o->window,
          "Tokens per scoring window, each from an empty cache (default: the context length)");
      sub->add_option("--json", o->json_out,
                      "Write tokens, top-1 predictions and per-token NLL here");
      sub->add_option("--reference-model", o->reference_path,
                      "Also run this converted folder (e.g. the fp16 conversion, --lut none) over "
                      "the same windows and report the KL divergence of the next-token "
                      "distributions from it and the top-1 agreement: the steadier measure of "
                      "what a quantization lost");
      return [o] { return RunPerplexity(*o); };
    },
});

}  // namespace
}  // namespace anec::cli
