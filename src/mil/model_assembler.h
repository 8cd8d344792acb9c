// Model assembly: a Core ML Model protobuf (ML Program) from a ProgramBuilder, and a convenience
// that writes a whole .mlpackage through coreml::PackageWriter.
//
// The model description mirrors coremltools 9:
//  - one function named "main": top-level input / output / state;
//  - several functions (or options.multifunction): description.functions (one
//    FunctionDescription each) + defaultFunctionName, top-level input/output/state left empty;
//  - tensors become multiArrayType{shape, dataType} (fp16 / fp32 / int32 only), states become
//    stateType{arrayType{shape, FLOAT16}}.
// Flexible (enumerated) input shapes are not supported: coremltools gives such an input unknown
// dimensions in the MIL function, and the builder only has static shapes.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "base/file_system.h"
#include "base/status.h"
#include "coreml/package.h"
#include "coreml/proto/model.pb.h"
#include "mil/program_builder.h"

namespace anec::mil {

struct ModelMetadata {
  std::string author;
  std::string license;
  std::string version;
  std::string short_description;
  std::map<std::string, std::string> user_defined;
};

struct ModelOptions {
  int specification_version = 9;  // iOS18; must cover every function's opset
  std::string default_function;   // empty: the first function added
  bool multifunction = false;     // force the multi-function layout for a single function
  ModelMetadata metadata;
};

// REQUIRES: program.status().ok() (else returns it).
Result<CoreML::Specification::Model> AssembleModel(const ProgramBuilder& program,
                                                   const ModelOptions& options);

// Assembles the model and finishes `writer` (which must be the one whose weights() the program
// was built with). On error the writer is abandoned.
Status FinishPackage(coreml::PackageWriter* writer, const ProgramBuilder& program,
                     const ModelOptions& options);

// Creates a PackageWriter at `path`, runs `build` on a ProgramBuilder bound to its weights, then
// FinishPackage. Nothing appears at `path` unless everything succeeds.
Status WritePackage(FileSystem* fs, const std::string& path, const ModelOptions& options,
                    const std::function<Status(ProgramBuilder&)>& build);

}  // namespace anec::mil
