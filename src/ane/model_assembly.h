// Assembles a Core ML Model (specification version 9, ML Program) from a built MIL program and
// the I/O description of each function.
//
// One function: the MIL function is named "main" and the description is top-level.
// Several (infer + prefill): each FunctionDescription is listed and `default_function` named; the
// top-level input/output/state stay empty, as Core ML requires for multi-function models.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "coreml/proto/model.pb.h"
#include "mil/program_builder.h"

namespace anec::ane {

struct FeatureSpec {
  std::string name;
  mil::TensorType type;
  bool is_state = false;
  // Enumerated shapes (first = the default) for a flexible input; `flexible_dims` lists the
  // dimensions that vary (written as unknown in the MIL program).
  std::vector<std::vector<int64_t>> enumerated_shapes;
  std::vector<int> flexible_dims;
};

inline FeatureSpec Feature(std::string name, mil::TensorType type, bool is_state = false) {
  FeatureSpec f;
  f.name = std::move(name);
  f.type = std::move(type);
  f.is_state = is_state;
  return f;
}

struct FunctionSignature {
  std::string name;                 // MIL function name in the builder
  std::vector<FeatureSpec> inputs;  // including states (is_state)
  std::vector<FeatureSpec> outputs;
  // Intermediate values whose dims follow a flexible input (e.g. the embeddings' int16 index
  // cast): value name -> dims written as unknown, like the flexible features'.
  std::map<std::string, std::vector<int>> flexible_values;
};

struct ModelMetadata {
  std::string short_description;
  std::string version;
  std::string author;
  std::string license;
  std::map<std::string, std::string> user_defined;
};

// REQUIRES: program.status().ok() (else returns it). For a single function the builder's
// function must be named "main".
Result<CoreML::Specification::Model> AssembleModel(const mil::ProgramBuilder& program,
                                                   const std::vector<FunctionSignature>& functions,
                                                   const std::string& default_function,
                                                   const ModelMetadata& metadata);

// A FeatureSpec for an output value of the program.
FeatureSpec OutputSpec(const std::string& name, const mil::Value& v);

}  // namespace anec::ane
