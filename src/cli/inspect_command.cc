#include "cli/inspect_command.h"

#include "cli/commands.h"
#include "coreml/ane_check.h"
#include "coreml/inspect.h"

namespace anec::cli {

Status RunInspect(FileSystem* fs, const InspectOptions& o, std::FILE* out_file) {
  std::string path = o.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (!fs->Exists(path)) {
    return NotFound("{} does not exist; give an .mlpackage or a folder of converted models", path);
  }
  if (!fs->IsDirectory(path)) {
    return InvalidArgument(
        "{} is a file; give an .mlpackage folder or a folder of converted models", path);
  }
  std::string out;
  if (o.ane) {
    ANEC_ASSIGN_OR_RETURN(coreml::AneReport report, coreml::CheckAnePath(fs, path));
    out = o.json ? coreml::RenderAneJson(report) : coreml::RenderAneText(report);
    std::fwrite(out.data(), 1, out.size(), out_file);
    return coreml::AneErrorsStatus(report, path);
  }
  // A package is recognised by its manifest, so a renamed package still inspects as one.
  if (fs->Exists(JoinPath(path, "Manifest.json"))) {
    ANEC_ASSIGN_OR_RETURN(coreml::InspectReport report, coreml::InspectPackage(fs, path));
    out = o.json ? coreml::RenderJson(report) : coreml::RenderText(report);
  } else {
    ANEC_ASSIGN_OR_RETURN(coreml::FolderReport report, coreml::InspectFolder(fs, path));
    if (report.packages.empty() && !report.meta_yaml) {
      return NotFound("{} holds no .mlpackage and no meta.yaml; nothing to inspect", path);
    }
    out = o.json ? coreml::RenderJson(report) : coreml::RenderText(report);
  }
  std::fwrite(out.data(), 1, out.size(), out_file);
  return Status::Ok();
}

namespace {

const Registrar kInspect({
    "inspect",
    "Show the functions, inputs/outputs/states, op counts and weight sizes of an .mlpackage, or "
    "of every package in a converted-model folder; with --ane, check them against the Neural "
    "Engine placement rules",
    [](CLI::App* sub) -> std::function<Status()> {
      auto o = std::make_shared<InspectOptions>();
      sub->add_option("path", o->path, "An .mlpackage, or a folder written by `anec convert`")
          ->required();
      sub->add_flag("--json", o->json, "Print JSON instead of text");
      sub->add_flag("--ane", o->ane,
                    "Check the packages against the Neural Engine placement rules "
                    "(docs/ANE_RULES.md); exits non-zero on an error-level finding");
      return [o] { return RunInspect(RealFileSystem(), *o, stdout); };
    },
});

}  // namespace
}  // namespace anec::cli
