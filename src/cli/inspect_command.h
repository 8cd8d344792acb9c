// `anec inspect PATH [--json] [--ane]`: what a package, or a converted-model folder, contains;
// with --ane, the static Neural Engine check instead (coreml/ane_check.h, docs/ANE_RULES.md).
#pragma once

#include <cstdio>
#include <string>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::cli {

struct InspectOptions {
  std::string path;  // an .mlpackage, or a folder written by `anec convert`
  bool json = false;
  bool ane = false;
};

// Writes the report on `out`. With `ane`, an error-level finding makes the result a
// FailedPrecondition (after the report is written) saying how many and where the rules are, so
// `anec` exits non-zero.
Status RunInspect(FileSystem* fs, const InspectOptions& o, std::FILE* out);

}  // namespace anec::cli
