#include "io/checkpoint.h"

#include <fmt/ranges.h>

#include "io/safetensors.h"

namespace anec::io {

Result<std::unique_ptr<TensorSource>> OpenCheckpoint(FileSystem* fs, const std::string& dir) {
  const std::string index = JoinPath(dir, "model.safetensors.index.json");
  if (fs->Exists(index)) {
    ANEC_ASSIGN_OR_RETURN(auto src, SafetensorsSource::OpenIndex(fs, index));
    return std::unique_ptr<TensorSource>(std::move(src));
  }
  const std::string single = JoinPath(dir, "model.safetensors");
  if (fs->Exists(single)) {
    ANEC_ASSIGN_OR_RETURN(auto src, SafetensorsSource::OpenFile(fs, single));
    return std::unique_ptr<TensorSource>(std::move(src));
  }
  std::vector<std::string> found;
  if (fs->IsDirectory(dir)) {
    ANEC_ASSIGN_OR_RETURN(auto names, fs->ListDir(dir));
    for (const std::string& n : names) {
      if (n.size() > 12 && n.ends_with(".safetensors")) found.push_back(n);
    }
  } else {
    return NotFound("checkpoint folder {} does not exist", dir);
  }
  return NotFound(
      "{}: no model.safetensors.index.json or model.safetensors; {}. Download the model's "
      "safetensors weights into this folder",
      dir,
      found.empty() ? std::string("no .safetensors files there")
                    : fmt::format("found only {}", fmt::join(found, ", ")));
}

}  // namespace anec::io
