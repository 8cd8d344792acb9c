// OpenCheckpoint: the tensors of a Hugging Face model folder.
#pragma once

#include <memory>
#include <string>

#include "base/file_system.h"
#include "io/tensor_source.h"

namespace anec::io {

// Opens the weights in `dir`: model.safetensors.index.json (sharded) when present, else
// model.safetensors. Error (NotFound) names the folder, the files looked for and the
// .safetensors files that were there.
Result<std::unique_ptr<TensorSource>> OpenCheckpoint(FileSystem* fs, const std::string& dir);

}  // namespace anec::io
