// MergeFunctions: several single-function packages -> one multi-function package.
//
// Step 5 combines each chunk's `infer` and `prefill` packages. Every blob is copied through the
// new package's BlobWriter, which stores identical bytes once, so weights the two functions
// share (all of them: step 4 reuses step 3's bytes) are stored once and the result is no larger
// than the infer package plus the second function's program text.
#pragma once

#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::pipeline {

struct MergeSource {
  std::string package_path;  // a single-function package (function "main")
  std::string function_name; // its name in the merged package
};

// Writes `out_path` atomically. The first source's metadata is kept; `default_function` must be
// one of the names. Errors name the source package.
Status MergeFunctions(FileSystem* fs, const std::vector<MergeSource>& sources,
                      const std::string& default_function, const std::string& out_path);

}  // namespace anec::pipeline
