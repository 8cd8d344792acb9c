// MergeInferPrefill: step 5's combination of a chunk's two functions into one package.
//
// `infer` comes from a single-function package (step 3). `prefill` comes from a program-only
// model file (step 4): a Model protobuf whose blob constants carry the same names as the infer
// package's constants (step 4 builds every weight from step 3's package by name) and whose own
// blob offsets are meaningless. The infer blobs are copied once into the new package; every
// prefill constant is pointed at the copy of the same-named infer constant, so each weight is
// stored once and the package is the infer package plus the second function's program text.
#pragma once

#include <string>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::pipeline {

// Writes `out_path` atomically, functions "infer" (default) and "prefill", the infer package's
// metadata. Errors name the source and the constant that could not be matched.
Status MergeInferPrefill(FileSystem* fs, const std::string& infer_package,
                         const std::string& prefill_model, const std::string& out_path);

}  // namespace anec::pipeline
