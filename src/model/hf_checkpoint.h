// LoadHfCheckpoint: a Hugging Face model folder -> ModelSpec + bound, shape-checked tensors.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/file_system.h"
#include "io/tensor_source.h"
#include "model/checkpoint_binding.h"
#include "model/model_spec.h"

namespace anec::io {
class PrequantizedSource;
}

namespace anec::model {

struct LoadedModel {
  ModelSpec spec;
  std::unique_ptr<io::TensorSource> source;  // owns the mapped files
  BoundCheckpoint checkpoint;                // refers to *source; moves with it
  // *source when the folder is a GPTQ / AWQ int4 checkpoint (io/prequant_source.h), else null.
  const io::PrequantizedSource* prequant = nullptr;
};

// A human-friendly model name for a folder: "Org/Name" for a Hugging Face cache snapshot
// (.../models--Org--Name/snapshots/<revision>), else the folder's base name.
std::string ModelNameForFolder(const std::string& dir);

// Reads `dir`/config.json (+ generation_config.json), detects the architecture (or uses
// `architecture_override`), opens the safetensors weights (io::OpenCheckpointDequantized: a
// GPTQ / AWQ checkpoint is presented dequantized, `prequant` set) and binds them. An
// unsupported quantization_config (fp8, exl2, bits != 4, ...) is rejected here (kUnsupported,
// naming the scheme and the file).
// spec.name is ModelNameForFolder(dir), which is also what QwQ detection looks at.
Result<LoadedModel> LoadHfCheckpoint(
    FileSystem* fs, const std::string& dir,
    std::optional<std::string_view> architecture_override = std::nullopt);

}  // namespace anec::model
