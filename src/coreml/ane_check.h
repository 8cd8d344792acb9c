// `anec inspect --ane`: the Neural Engine rules (ane_rules.h) run over written packages, read back
// through Package only, and the report printed as text or JSON (docs/ANE_RULES.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "coreml/ane_rules.h"

namespace anec::coreml {

struct AneReport {
  std::string path;                   // what was checked
  std::vector<std::string> packages;  // package names checked, sorted
  std::vector<AneFinding> findings;   // package order, then program order
  int64_t errors() const;
  int64_t warnings() const;
};

// Opens (Package::Open) and checks each given package; a package that does not open fails the
// call.
Result<AneReport> CheckAnePackages(FileSystem* fs, const std::string& path,
                                   const std::vector<std::string>& package_paths);
// `path` is an .mlpackage (recognized by its Manifest.json) or a folder: every *.mlpackage
// directly inside it is checked. A folder without packages is NotFound.
Result<AneReport> CheckAnePath(FileSystem* fs, const std::string& path);

// One line per finding, "PACKAGE FUNCTION OP (TYPE): LEVEL RULE: MESSAGE [source: ...]", then
// the summary line.
std::string RenderAneText(const AneReport& report);
std::string RenderAneJson(const AneReport& report);
// "ANE check: 4 packages, 0 errors, 2 warnings".
std::string AneSummary(const AneReport& report);

// A FailedPrecondition naming the error count and where to read the rules when `report` has an
// error-level finding, else OK. `what` names what was checked ("/out", "the conversion").
Status AneErrorsStatus(const AneReport& report, const std::string& what);

}  // namespace anec::coreml
