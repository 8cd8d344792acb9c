// A converted model folder (ANEMLL layout, docs/RUNTIME.md): meta.yaml, the embeddings,
// FFN/prefill chunks and LM head packages, and the tokenizer files.
//
// File names follow ANEMLL's contract, built from model_prefix and the lut values:
//   {prefix}_embeddings[_lut{N}].mlpackage, {prefix}_lm_head[_lut{N}].mlpackage,
//   {prefix}_FFN_PF[_lut{N}]_chunk_{KK}of{NN}.mlpackage
// The `.mlmodelc` form (compiled on a Mac) cannot be run here; finding only that is an error
// that says so.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::runtime {

// model_info.parameters of meta.yaml (defaults as ANEMLL's chat.py assumes them).
struct ModelFolderConfig {
  std::string name;
  std::string architecture;
  int context_length = 512;
  int batch_size = 64;
  int num_chunks = 1;
  int split_lm_head = 8;
  std::string model_prefix = "llama";
  std::optional<int> lut_embeddings, lut_ffn, lut_lmhead;  // none when absent / "none"
  std::string embeddings, lm_head, ffn;                     // file names as written
};

// Parses meta.yaml text; `path` is used in messages.
Result<ModelFolderConfig> ParseMetaYaml(std::string_view text, const std::string& path);

struct ModelFiles {
  std::string embeddings;           // full paths of .mlpackage folders
  std::vector<std::string> chunks;  // in chunk order
  std::string lm_head;
};

// Finds the packages in `dir` for `config`. Errors list what was looked for.
Result<ModelFiles> LocateModelFiles(FileSystem* fs, const std::string& dir,
                                    const ModelFolderConfig& config);

}  // namespace anec::runtime
