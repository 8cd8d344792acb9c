// Rebuilds Hugging Face tokenizer files (tokenizer.json, tokenizer_config.json) from a GGUF
// file's tokenizer metadata, so a model converted from GGUF carries the same files as one
// converted from a checkpoint folder and ANEMLL's runtimes (transformers' AutoTokenizer) can use it.
//
// Supported: tokenizer.ggml.model "gpt2" (byte-level BPE), with the pre-tokenizer chosen from
// tokenizer.ggml.pre through a table. SentencePiece ("llama") vocabularies are reported as
// unsupported with a clear message.
#pragma once

#include <string>

#include "base/status.h"
#include "io/gguf_file.h"

namespace anec::io {

struct HfTokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};

Result<HfTokenizerFiles> BuildHfTokenizerFiles(const GgufFile& file);

}  // namespace anec::io
