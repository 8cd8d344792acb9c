#include "coreml/ane_check.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "coreml/package.h"

namespace anec::coreml {

namespace {

std::string Count(int64_t n, std::string_view what) {
  return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s");
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int64_t AneReport::errors() const {
  return std::count_if(findings.begin(), findings.end(),
                       [](const AneFinding& f) { return f.level == AneLevel::kError; });
}

int64_t AneReport::warnings() const { return static_cast<int64_t>(findings.size()) - errors(); }

Result<AneReport> CheckAnePackages(FileSystem* fs, const std::string& path,
                                   const std::vector<std::string>& package_paths) {
  AneReport report;
  report.path = path;
  std::vector<std::string> sorted = package_paths;
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return Basename(a) < Basename(b); });
  for (const std::string& p : sorted) {
    Result<Package> pkg = Package::Open(fs, p);
    if (!pkg.ok()) return pkg.status().WithContext("ANE check of " + p);
    const std::string name = Basename(p);
    std::vector<AneFinding> found = CheckAneModel(pkg->model(), pkg->weights(), name);
    report.packages.push_back(name);
    report.findings.insert(report.findings.end(), std::make_move_iterator(found.begin()),
                           std::make_move_iterator(found.end()));
  }
  return report;
}

Result<AneReport> CheckAnePath(FileSystem* fs, const std::string& path) {
  if (!fs->IsDirectory(path)) {
    return NotFound("{} is not an .mlpackage or a folder of converted models", path);
  }
  if (fs->Exists(JoinPath(path, "Manifest.json"))) return CheckAnePackages(fs, path, {path});
  ANEC_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(path));
  std::vector<std::string> packages;
  for (const std::string& name : names) {
    const std::string full = JoinPath(path, name);
    if (EndsWith(name, ".mlpackage") && fs->IsDirectory(full)) packages.push_back(full);
  }
  if (packages.empty()) {
    return NotFound("{} holds no .mlpackage; give a package or a folder written by anec convert",
                    path);
  }
  return CheckAnePackages(fs, path, packages);
}

std::string AneSummary(const AneReport& r) {
  return fmt::format("ANE check: {}, {}, {}",
                     Count(static_cast<int64_t>(r.packages.size()), "package"),
                     Count(r.errors(), "error"), Count(r.warnings(), "warning"));
}

std::string RenderAneText(const AneReport& r) {
  std::string out;
  for (const AneFinding& f : r.findings) {
    out += fmt::format("{} {} {} ({}): {} {}: {} [source: {}]\n", f.package, f.function, f.op,
                       f.op_type, AneLevelName(f.level), f.rule, f.message, f.source);
  }
  out += AneSummary(r) + " (rules: docs/ANE_RULES.md)\n";
  return out;
}

std::string RenderAneJson(const AneReport& r) {
  using nlohmann::json;
  json findings = json::array();
  for (const AneFinding& f : r.findings) {
    findings.push_back({{"package", f.package},
                        {"function", f.function},
                        {"op", f.op},
                        {"op_type", f.op_type},
                        {"rule", f.rule},
                        {"level", AneLevelName(f.level)},
                        {"message", f.message},
                        {"source", f.source}});
  }
  json j = {{"path", r.path},
            {"packages", r.packages},
            {"errors", r.errors()},
            {"warnings", r.warnings()},
            {"findings", std::move(findings)}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Status AneErrorsStatus(const AneReport& r, const std::string& what) {
  const int64_t errors = r.errors();
  if (errors == 0) return Status::Ok();
  return FailedPrecondition(
      "{} Neural Engine rule {} in {} ({}): these ops would leave the Neural Engine; the rules "
      "and how to fix each are in docs/ANE_RULES.md",
      errors, errors == 1 ? "error" : "errors", what, AneSummary(r));
}

}  // namespace anec::coreml
