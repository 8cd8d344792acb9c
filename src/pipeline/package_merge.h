// MergeInferPrefill: step 5's combination of a chunk's two functions into one package.
//
// `infer` comes from a single-function package (step 3). `prefill` comes from a program-only
// model file (step 4): a Model protobuf whose blob constants carry the same names as the infer
// package's constants (step 4 builds every weight from step 3's package by name) and whose own
// blob offsets are meaningless. The new package's weight.bin IS the infer package's weight file:
// hard-linked (no byte copied; FileSystem::LinkOrCopy) or, across file systems, copied whole.
// Infer constants keep their offsets and every prefill constant is pointed at the same-named
// infer constant, so each weight is stored once and the package is the infer package plus the
// second function's program text. (A hard link is safe: step 3 replaces its packages by temp +
// rename, so rewriting the work folder never changes the final file's bytes.)
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
