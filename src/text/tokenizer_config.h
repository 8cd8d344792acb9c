// tokenizer_config.json: the special-token names and the chat template that sit beside
// tokenizer.json in a Hugging Face model folder.
#pragma once

#include <string>
#include <string_view>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::text {

struct TokenizerConfig {
  // Token strings ("" when absent). Values given as {"content": ...} objects are flattened.
  std::string bos_token;
  std::string eos_token;
  std::string pad_token;
  std::string unk_token;
  // The Jinja chat template ("" when absent). A list of named templates yields "default".
  std::string chat_template;
  // add_bos_token / add_eos_token as written (-1 absent, 0 false, 1 true).
  int add_bos_token = -1;
  int add_eos_token = -1;

  static Result<TokenizerConfig> FromJson(std::string_view json_text);
  static Result<TokenizerConfig> FromFile(FileSystem* fs, const std::string& path);
};

}  // namespace anec::text
