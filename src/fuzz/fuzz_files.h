// How one libFuzzer input becomes several files: the multi-file readers (a sharded checkpoint,
// an .mlpackage, a converted model folder) need a folder, and libFuzzer hands over one byte
// string. The input is cut at markers, each starting a file:
//
//   <bytes for default_name> "\n@@file " NAME "\n" <bytes of NAME> "\n@@file " NAME2 "\n" ...
//
// (a marker at offset 0 may omit its leading "\n"). A marker is plain text so a mutation that
// inserts one (the .dict files list it) adds a file. The files go into a MemoryFileSystem under
// `dir`: nothing touches the disk, and the readers see them exactly as they would real files.
// NAMEs are relative paths ("a/b.json"); a name that is empty, absolute, longer than 200 bytes,
// has a "." or ".." part or an empty part is ignored with its bytes. At most kMaxFuzzFiles files;
// a later file with the same name replaces the earlier one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/file_system.h"

namespace anec::fuzz {

inline constexpr std::string_view kFileMarker = "\n@@file ";
inline constexpr size_t kMaxFuzzFiles = 64;

// Writes the files of `input` into `fs` under `dir` (no trailing '/'). Returns their names
// relative to `dir`, in input order without duplicates.
std::vector<std::string> AddFuzzFiles(std::span<const uint8_t> input, const std::string& dir,
                                      const std::string& default_name, MemoryFileSystem* fs);

// The inverse, for the seed generator: one input holding `files` (name, bytes), the first one
// written without a marker when its name is `default_name`.
std::string PackFuzzFiles(const std::vector<std::pair<std::string, std::string>>& files,
                          const std::string& default_name);

// Bytes of `input` as a string_view (the readers that take text).
inline std::string_view AsText(std::span<const uint8_t> input) {
  return {reinterpret_cast<const char*>(input.data()), input.size()};
}

}  // namespace anec::fuzz
