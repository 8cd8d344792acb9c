// The scoring behind `anec perplexity`: a text through a converted model in non-overlapping
// windows, each from an empty cache. Shared by the command (perplexity_command.cc) and the Python
// package (python/), so both give the same figures and fail with the same messages.
#pragma once

#include <cstdint>
#include <cstdio>
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
};

// Scores `text` (named `text_name` in errors) with `converted` (opened from `model_path`).
// `max_tokens` > 0 keeps only the first tokens; `window` > 0 caps each window below the context
// length. `progress` (may be null) gets a "scored N / M tokens" line redrawn per window.
Result<PerplexityScores> ScoreText(ConvertedModel& converted, const std::string& model_path,
                                   const std::string& text, const std::string& text_name,
                                   int max_tokens, int window, std::FILE* progress);

}  // namespace anec::cli
