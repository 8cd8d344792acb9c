// `anec inspect`: what a written .mlpackage (or a converted-model folder) contains, read back
// through Package/BlobReader only, so it reports what is on disk rather than what the converter
// meant to write.
//
// InspectPackage() collects an InspectReport: spec version, functions with their inputs, outputs
// and states, op counts per function, weight bytes per blob dtype, constant counts, file sizes and
// whether the weights fit the Neural Engine size budgets. RenderText()/RenderJson() print it.
// InspectFolder() does this for every *.mlpackage in a folder and adds meta.yaml's text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::coreml {

// Per-model weight budgets the ANE tooling aims for (docs/PACKAGE_FORMAT.md): ~1 GB on iOS,
// ~2 GB on macOS. Binary units.
inline constexpr uint64_t kIosWeightBudgetBytes = uint64_t{1} << 30;
inline constexpr uint64_t kMacosWeightBudgetBytes = uint64_t{2} << 30;

struct FeatureInfo {
  std::string name;
  std::string type;            // "fp16", "fp32", "int32", "int8", "double", "int64", "string"
  std::vector<int64_t> shape;  // default shape (multi-arrays and states)
  std::vector<std::vector<int64_t>> enumerated_shapes;  // empty unless the input enumerates shapes
  std::vector<std::pair<int64_t, int64_t>> shape_ranges;  // (lower, upper; -1 = unbounded)
  bool optional = false;
};

struct FunctionInfo {
  std::string name;
  std::string opset;  // "CoreML8"; empty if the program lacks this function
  std::vector<FeatureInfo> inputs, outputs, states;
  std::map<std::string, int64_t> op_counts;  // op type -> count, nested blocks included
  int64_t num_ops = 0;
  int64_t num_const_ops = 0;
};

struct InspectReport {
  std::string path;
  int spec_version = 0;
  std::string default_function;  // defaultFunctionName, or the only function
  std::vector<FunctionInfo> functions;
  std::map<std::string, std::string> metadata;  // userDefined metadata
  // Weights, from the blob file itself.
  std::map<std::string, uint64_t> weight_bytes_by_dtype;  // "fp16" -> bytes of data
  uint64_t num_blobs = 0;
  uint64_t num_const_ops = 0;         // across functions
  uint64_t num_blob_references = 0;   // values pointing into weight.bin (shared ones counted)
  uint64_t num_referenced_blobs = 0;  // distinct blob offsets referenced
  // Files.
  uint64_t model_file_bytes = 0;
  uint64_t weight_file_bytes = 0;
  uint64_t total_bytes = 0;
  bool fits_ios_budget = false;    // weight.bin <= kIosWeightBudgetBytes
  bool fits_macos_budget = false;  // weight.bin <= kMacosWeightBudgetBytes
};

// Opens and validates the package (Package::Open) and walks its program and blob file.
Result<InspectReport> InspectPackage(FileSystem* fs, const std::string& path);

std::string RenderText(const InspectReport& report);
// A JSON object; keys mirror the struct fields (snake_case).
std::string RenderJson(const InspectReport& report);

struct FolderPackage {
  std::string name;                     // "llama_FFN_PF_lut6_chunk_01of02.mlpackage"
  std::optional<InspectReport> report;  // set when the package opened
  std::string error;                    // why it did not, otherwise empty
};

struct FolderReport {
  std::string path;
  std::vector<FolderPackage> packages;    // every *.mlpackage, sorted by name
  std::vector<std::string> other_models;  // *.mlmodelc and *.mlmodel names (not inspected)
  std::optional<std::string> meta_yaml;   // meta.yaml text, if present
};

// Inspects every *.mlpackage directly inside `path`. A broken package is listed with its error;
// the call fails only if `path` is not a readable folder.
Result<FolderReport> InspectFolder(FileSystem* fs, const std::string& path);

std::string RenderText(const FolderReport& report);
std::string RenderJson(const FolderReport& report);

}  // namespace anec::coreml
