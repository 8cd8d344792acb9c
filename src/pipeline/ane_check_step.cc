#include "pipeline/ane_check_step.h"

#include <fmt/format.h>

#include <cstdlib>

#include "coreml/ane_check.h"

namespace anec::pipeline {

namespace {

// Enough lines to act on in a CI log; the rest are one `anec inspect --ane` away.
constexpr size_t kMaxListedFindings = 20;

bool IsPackage(const std::string& name) {
  constexpr std::string_view kSuffix = ".mlpackage";
  return name.size() > kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace

bool StrictAneCheckFromEnv() {
  const char* v = std::getenv(kStrictAneCheckEnv);
  return v != nullptr && std::string_view(v) == "1";
}

Status RunAneCheckStep(FileSystem* fs, const std::string& output_dir,
                       const std::vector<OutputFile>& files, std::FILE* log, bool strict) {
  std::vector<std::string> packages;
  for (const OutputFile& f : files) {
    if (IsPackage(f.name)) packages.push_back(JoinPath(output_dir, f.name));
  }
  if (packages.empty()) return Status::Ok();
  ANEC_ASSIGN_OR_RETURN(coreml::AneReport report,
                        coreml::CheckAnePackages(fs, output_dir, packages));
  if (log != nullptr) {
    fmt::print(log, "{} (anec inspect --ane {} for details)\n", coreml::AneSummary(report),
               output_dir);
  }
  if (!strict || report.errors() == 0) return Status::Ok();
  std::string list;
  size_t listed = 0;
  for (const coreml::AneFinding& f : report.findings) {
    if (f.level != coreml::AneLevel::kError) continue;
    if (listed++ == kMaxListedFindings) {
      list += fmt::format("\n  ... and {} more", report.errors() - kMaxListedFindings);
      break;
    }
    list += fmt::format("\n  {} {} {} ({}): {}: {}", f.package, f.function, f.op, f.op_type, f.rule,
                        f.message);
  }
  return FailedPrecondition(
      "{} is set and the converted packages in {} break {} Neural Engine rule(s); unset it to "
      "convert anyway, or fix the graphs (docs/ANE_RULES.md):{}",
      kStrictAneCheckEnv, output_dir, report.errors(), list);
}

Status RunAneCheckStep(FileSystem* fs, const std::string& output_dir,
                       const std::vector<OutputFile>& files, std::FILE* log) {
  return RunAneCheckStep(fs, output_dir, files, log, StrictAneCheckFromEnv());
}

}  // namespace anec::pipeline
