#include "pipeline/package_build.h"

#include "coreml/package.h"

namespace anec::pipeline {

Status WritePackage(FileSystem* fs, const std::string& path, const BuildFunctions& build,
                    const std::string& default_function, const ane::ModelMetadata& metadata) {
  ANEC_ASSIGN_OR_RETURN(auto writer, coreml::PackageWriter::Create(fs, path));
  Result<CoreML::Specification::Model> model = Status(StatusCode::kInternal, "not built");
  {
    mil::ProgramBuilder program(writer->weights());
    auto sigs = build(&program);
    if (!sigs.ok()) {
      writer->Abandon();
      return sigs.status().WithContext(path);
    }
    model = ane::AssembleModel(program, *sigs, default_function, metadata);
  }
  if (!model.ok()) {
    writer->Abandon();
    return model.status().WithContext(path);
  }
  return writer->Finish(*model).WithContext(path);
}

uint64_t PathBytes(FileSystem* fs, const std::string& path) {
  if (!fs->IsDirectory(path)) {
    auto s = fs->FileSize(path);
    return s.ok() ? *s : 0;
  }
  uint64_t total = 0;
  auto names = fs->ListDir(path);
  if (!names.ok()) return 0;
  for (const std::string& n : *names) total += PathBytes(fs, JoinPath(path, n));
  return total;
}

}  // namespace anec::pipeline
