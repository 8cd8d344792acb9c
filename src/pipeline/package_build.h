// WritePackage: builds one MIL program straight into a package's weight file and writes the
// package atomically (PackageWriter: temporary folder, then rename). On any error the temporary
// folder is removed and nothing appears at `path`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ane/model_assembly.h"
#include "base/file_system.h"
#include "mil/program_builder.h"

namespace anec::pipeline {

using BuildFunctions =
    std::function<Result<std::vector<ane::FunctionSignature>>(mil::ProgramBuilder* program)>;

Status WritePackage(FileSystem* fs, const std::string& path, const BuildFunctions& build,
                    const std::string& default_function, const ane::ModelMetadata& metadata);

// Total bytes of the files under `path` (a file or a folder).
uint64_t PathBytes(FileSystem* fs, const std::string& path);

}  // namespace anec::pipeline
