// Conversions for the contract tests: a parity fixture (tests/fixtures/parity/<case>), optionally
// with its vocabulary cut to fewer rows, converted with the real pipeline (LoadHfCheckpoint +
// Convert, as `anec convert` does) into a temporary folder, once per process; plus the folder's
// listing as written and as a Mac holds it after compile_on_mac.sh, and our own LlmModel on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "anemll_paths.h"
#include "base/status.h"
#include "runtime/llm_model.h"

namespace anec::contract {

struct ContractConversion {
  std::string fixture = "llama_untied";  // a tests/fixtures/parity case
  int64_t vocab = 0;                     // > 0: the checkpoint cut to this many vocabulary rows
  int64_t chunks = 1;
  int lut = 0;  // as `--lut N`: FFN and LM head palettized (group 8), embeddings fp16
  bool argmax = false;
  bool per_chunk_kv = false;
  std::string Key() const;
};

struct ContractFolder {
  Status status;  // the conversion's (an Unsupported stays recognizable)
  std::string dir;
  std::string meta_yaml;
  MetaParams meta;
  FolderListing written;  // as converted on Linux: .mlpackage folders
  std::vector<CompileStep> compile_steps;
  FolderListing on_mac;  // after `sh compile_on_mac.sh`
  Status model_status;   // runtime::LlmModel::Open on the folder
  std::unique_ptr<runtime::LlmModel> model;
};

// Converted at most once per key in this process; the folder is removed at exit (kept when
// ANEC_KEEP_PARITY_OUTPUT is set).
ContractFolder* GetFolder(const ContractConversion& c);

// Writes `src`'s config.json and model.safetensors into `dst` with every [V, ...] vocabulary
// tensor (embed_tokens, lm_head) cut to its first `vocab` rows and config vocab_size = vocab.
Status WriteTruncatedFixture(const std::string& src, const std::string& dst, int64_t vocab);

// The three prompts of the fixture's reference.json, ids taken mod `vocab` when vocab > 0, and
// transformers' greedy continuations (empty when vocab > 0: the reference does not apply).
struct ContractPrompt {
  std::vector<int32_t> ids;
  std::vector<int32_t> reference_greedy;
};
Result<std::vector<ContractPrompt>> PromptsFor(const ContractConversion& c);

}  // namespace anec::contract
