// The scoring behind `anec perplexity`: a text through a converted model in non-overlapping
// windows, each from an empty cache. Shared by the command (perplexity_command.cc) and the Python
// package (python/), so both give the same figures and fail with the same messages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/converted_model.h"

namespace anec::cli {

struct PerplexityScores {
  std::vector<int32_t> tokens;    // the text's ids (after max_tokens)
  std::vector<size_t> positions;  // scored positions (each predicts the token after it)
  std::vector<int32_t> top1;      // the model's most likely next token there
  std::vector<double> nll;        // negative log-likelihood of the actual next token
  int window = 0;
  double perplexity = 0;
  // With a reference model (e.g. the fp16 conversion of the same checkpoint), per position:
  // KL(reference || model) of the next-token distributions in nats, and the reference's top-1.
  // Empty without one. The KL is what llama.cpp's `perplexity --kl-divergence` reports: it
  // measures how far a quantization moved the model, and moves far less from one equally good
  // quantization to another than the perplexity of a few thousand tokens does.
  std::vector<double> kl;
  std::vector<int32_t> reference_top1;
  double mean_kl = 0;
  double top1_agreement = 0;  // fraction of positions where top1 == reference_top1
};

// KL(p || q) in nats for p = softmax(reference_logits), q = softmax(logits), computed in double.
// REQUIRES: equal, nonzero sizes.
double KlDivergenceOfLogits(std::span<const float> reference_logits, std::span<const float> logits);

// Scores `text` (named `text_name` in errors) with `converted` (opened from `model_path`).
// `max_tokens` > 0 keeps only the first tokens; `window` > 0 caps each window below the context
// length. `progress` (may be null) gets a "scored N / M tokens" line redrawn per window.
// `reference` (may be null; opened from `reference_path`) is run over the same windows and fills
// the KL fields; it must tokenize the text identically and have the same vocabulary.
Result<PerplexityScores> ScoreText(ConvertedModel& converted, const std::string& model_path,
                                   const std::string& text, const std::string& text_name,
                                   int max_tokens, int window, std::FILE* progress,
                                   ConvertedModel* reference = nullptr,
                                   const std::string& reference_path = "");

}  // namespace anec::cli
