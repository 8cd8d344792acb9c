// Rebuilds Hugging Face tokenizer files (tokenizer.json, tokenizer_config.json) from a GGUF
// file's tokenizer metadata, so a model converted from GGUF carries the same files as one
// converted from a checkpoint folder and ANEMLL's runtimes (transformers' AutoTokenizer) can use
// it.
//
// Supported tokenizer.ggml.model values:
// - "gpt2": byte-level BPE with tokenizer.ggml.merges; the pre-tokenizer comes from
//   tokenizer.ggml.pre through a table (digits split one by one for "smollm"/"starcoder", as
//   llama.cpp does).
// - "llama": SentencePiece BPE (Llama 2, Mistral, TinyLlama). The file has no merges; they are
//   derived from tokens + tokenizer.ggml.scores the way Hugging Face's converters do (every split
//   of a token into two vocabulary tokens, best score first). The result is the Llama-2-style fast
//   tokenizer transformers builds for such a GGUF: Metaspace pre-tokenizer (prefix "▁" on the
//   first section only, none when tokenizer.ggml.add_space_prefix is false), byte fallback,
//   BOS added unless tokenizer.ggml.add_bos_token says otherwise.
// Control tokens (type 3) become special added tokens, user-defined ones (type 4) plain added
// tokens; tokenizer.chat_template goes into tokenizer_config.json.
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
