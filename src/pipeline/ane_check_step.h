// The static Neural Engine check (coreml/ane_check.h, docs/ANE_RULES.md) at the end of every
// conversion: one summary line on the converter's log,
//   ANE check: 4 packages, 0 errors, 2 warnings (anec inspect --ane OUT for details)
// and, when the environment sets ANEC_STRICT_ANE_CHECK=1 (CI), a failed conversion listing the
// error-level findings.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "pipeline/converter.h"

namespace anec::pipeline {

inline constexpr const char* kStrictAneCheckEnv = "ANEC_STRICT_ANE_CHECK";

// True when the environment sets ANEC_STRICT_ANE_CHECK=1.
bool StrictAneCheckFromEnv();

// Checks the *.mlpackage entries of `files` (names inside `output_dir`) and prints the summary on
// `log` (may be null). Fails only when the check cannot read a package, or when `strict` and an
// error-level finding exists (FailedPrecondition listing them).
Status RunAneCheckStep(FileSystem* fs, const std::string& output_dir,
                       const std::vector<OutputFile>& files, std::FILE* log, bool strict);
// The same with `strict` = StrictAneCheckFromEnv().
Status RunAneCheckStep(FileSystem* fs, const std::string& output_dir,
                       const std::vector<OutputFile>& files, std::FILE* log);

}  // namespace anec::pipeline
