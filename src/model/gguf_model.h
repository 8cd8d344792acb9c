// LoadGgufModel: a GGUF file -> ModelSpec + bound, shape-checked tensors, through the same path
// as a Hugging Face folder: the file's metadata becomes a config.json (io::GgufCheckpoint), which
// SpecFromHfConfig turns into the ModelSpec, and the checkpoint's Hugging Face-named tensors are
// bound by the architecture table.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/file_system.h"
#include "io/gguf_checkpoint.h"
#include "model/hf_checkpoint.h"

namespace anec::model {

// True when `path` names a GGUF file (by its ending).
bool IsGgufPath(std::string_view path);

// REQUIRES: `path` is a .gguf file. result.source is the io::GgufCheckpoint.
Result<LoadedModel> LoadGgufModel(FileSystem* fs, const std::string& path,
                                  std::optional<std::string_view> architecture_override = std::nullopt);

}  // namespace anec::model
