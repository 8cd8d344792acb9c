// Opening a folder written by `anec convert` (or ANEMLL) for the commands that run it:
// the packages through runtime::LlmModel and the tokenizer files next to them.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "runtime/llm_model.h"
#include "text/tokenizer.h"

namespace anec::cli {

struct ConvertedModel {
  std::unique_ptr<runtime::LlmModel> model;
  text::Tokenizer tokenizer;
};

// `flag` names the option the path came from, for the error messages (e.g. "--model-path").
Result<ConvertedModel> OpenConvertedModel(const std::string& path, const std::string& flag);

}  // namespace anec::cli
