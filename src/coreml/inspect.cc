#include "coreml/inspect.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "coreml/package.h"

namespace anec::coreml {
namespace {

namespace spec = CoreML::Specification;
namespace milspec = CoreML::Specification::MILSpec;
using nlohmann::json;

std::string ArrayTypeName(spec::ArrayFeatureType::ArrayDataType t) {
  switch (t) {
    case spec::ArrayFeatureType::FLOAT16:
      return "fp16";
    case spec::ArrayFeatureType::FLOAT32:
      return "fp32";
    case spec::ArrayFeatureType::DOUBLE:
      return "double";
    case spec::ArrayFeatureType::INT32:
      return "int32";
    case spec::ArrayFeatureType::INT8:
      return "int8";
    default:
      return fmt::format("invalid({})", static_cast<int>(t));
  }
}

void FillArray(const spec::ArrayFeatureType& a, FeatureInfo* f) {
  f->type = ArrayTypeName(a.datatype());
  f->shape.assign(a.shape().begin(), a.shape().end());
  if (a.has_enumeratedshapes()) {
    for (const auto& s : a.enumeratedshapes().shapes()) {
      f->enumerated_shapes.emplace_back(s.shape().begin(), s.shape().end());
    }
  }
  if (a.has_shaperange()) {
    for (const auto& r : a.shaperange().sizeranges()) {
      f->shape_ranges.emplace_back(static_cast<int64_t>(r.lowerbound()), r.upperbound());
    }
  }
}

FeatureInfo Feature(const spec::FeatureDescription& d) {
  FeatureInfo f;
  f.name = d.name();
  f.optional = d.type().isoptional();
  switch (d.type().Type_case()) {
    case spec::FeatureType::kMultiArrayType:
      FillArray(d.type().multiarraytype(), &f);
      break;
    case spec::FeatureType::kStateType:
      FillArray(d.type().statetype().arraytype(), &f);
      break;
    case spec::FeatureType::kInt64Type:
      f.type = "int64";
      break;
    case spec::FeatureType::kDoubleType:
      f.type = "double";
      break;
    case spec::FeatureType::kStringType:
      f.type = "string";
      break;
    default:
      f.type = "unknown";
      break;
  }
  return f;
}

template <typename Repeated>
std::vector<FeatureInfo> Features(const Repeated& r) {
  std::vector<FeatureInfo> out;
  for (const auto& d : r) out.push_back(Feature(d));
  return out;
}

struct OpWalk {
  FunctionInfo* fn;
  std::set<uint64_t>* blob_offsets;
  uint64_t* blob_refs;

  void Value(const milspec::Value& v) {
    if (v.has_blobfilevalue()) {
      ++*blob_refs;
      blob_offsets->insert(v.blobfilevalue().offset());
    }
  }
  void Block(const milspec::Block& b, int depth) {
    if (depth > 64) return;  // hostile nesting: counts stay partial rather than overflow the stack
    for (const milspec::Operation& op : b.operations()) {
      ++fn->op_counts[op.type()];
      ++fn->num_ops;
      if (op.type() == "const") ++fn->num_const_ops;
      for (const auto& [_, arg] : op.inputs()) {
        for (const auto& binding : arg.arguments()) {
          if (binding.has_value()) Value(binding.value());
        }
      }
      for (const auto& [_, v] : op.attributes()) Value(v);
      for (const milspec::Block& inner : op.blocks()) Block(inner, depth + 1);
    }
  }
};

std::string ShapeText(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ","));
}

std::string FeatureText(const FeatureInfo& f) {
  std::string out = fmt::format("{} {}{}", f.name, f.type, ShapeText(f.shape));
  if (!f.enumerated_shapes.empty()) {
    std::vector<std::string> shapes;
    for (const auto& s : f.enumerated_shapes) shapes.push_back(ShapeText(s));
    out += fmt::format(" enumerated {{{}}}", fmt::join(shapes, " "));
  }
  if (!f.shape_ranges.empty()) {
    std::vector<std::string> ranges;
    for (auto [lo, hi] : f.shape_ranges) {
      ranges.push_back(hi < 0 ? fmt::format("{}..", lo) : fmt::format("{}..{}", lo, hi));
    }
    out += fmt::format(" ranges [{}]", fmt::join(ranges, ","));
  }
  if (f.optional) out += " (optional)";
  return out;
}

std::string Bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB ({} bytes)", n / 1073741824.0, n);
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.2f} MiB ({} bytes)", n / 1048576.0, n);
  if (n >= 1024) return fmt::format("{:.1f} KiB ({} bytes)", n / 1024.0, n);
  return fmt::format("{} bytes", n);
}

json FeatureJson(const FeatureInfo& f) {
  json j = {{"name", f.name}, {"type", f.type}, {"shape", f.shape}, {"optional", f.optional}};
  if (!f.enumerated_shapes.empty()) j["enumerated_shapes"] = f.enumerated_shapes;
  if (!f.shape_ranges.empty()) {
    j["shape_ranges"] = json::array();
    for (auto [lo, hi] : f.shape_ranges) j["shape_ranges"].push_back({lo, hi});
  }
  return j;
}

json ReportJson(const InspectReport& r) {
  json fns = json::array();
  for (const FunctionInfo& f : r.functions) {
    json io = {{"name", f.name},
               {"opset", f.opset},
               {"num_ops", f.num_ops},
               {"num_const_ops", f.num_const_ops},
               {"op_counts", f.op_counts}};
    for (auto [key, list] : {std::pair{"inputs", &f.inputs}, std::pair{"outputs", &f.outputs},
                             std::pair{"states", &f.states}}) {
      io[key] = json::array();
      for (const FeatureInfo& x : *list) io[key].push_back(FeatureJson(x));
    }
    fns.push_back(std::move(io));
  }
  return {{"path", r.path},
          {"spec_version", r.spec_version},
          {"default_function", r.default_function},
          {"functions", std::move(fns)},
          {"metadata", r.metadata},
          {"weight_bytes_by_dtype", r.weight_bytes_by_dtype},
          {"num_blobs", r.num_blobs},
          {"num_const_ops", r.num_const_ops},
          {"num_blob_references", r.num_blob_references},
          {"num_referenced_blobs", r.num_referenced_blobs},
          {"model_file_bytes", r.model_file_bytes},
          {"weight_file_bytes", r.weight_file_bytes},
          {"total_bytes", r.total_bytes},
          {"fits_ios_budget", r.fits_ios_budget},
          {"fits_macos_budget", r.fits_macos_budget}};
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<InspectReport> InspectPackage(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(Package pkg, Package::Open(fs, path));
  const spec::Model& model = pkg.model();
  const spec::ModelDescription& desc = model.description();
  InspectReport r;
  r.path = path;
  r.spec_version = model.specificationversion();
  for (const auto& [k, v] : desc.metadata().userdefined()) r.metadata[k] = v;

  // Functions: the description names them (multi-function) or describes the single one at the
  // top level; program functions the description does not mention are listed too.
  const milspec::Program& prog = model.mlprogram();
  std::vector<std::string> program_names;
  for (const auto& [name, _] : prog.functions()) program_names.push_back(name);
  std::sort(program_names.begin(), program_names.end());
  if (desc.functions_size() > 0) {
    for (const spec::FunctionDescription& fd : desc.functions()) {
      FunctionInfo f;
      f.name = fd.name();
      f.inputs = Features(fd.input());
      f.outputs = Features(fd.output());
      f.states = Features(fd.state());
      r.functions.push_back(std::move(f));
    }
    r.default_function = desc.defaultfunctionname();
  } else {
    FunctionInfo f;
    f.name = !desc.defaultfunctionname().empty() ? desc.defaultfunctionname()
             : program_names.size() == 1         ? program_names[0]
                                                 : "main";
    f.inputs = Features(desc.input());
    f.outputs = Features(desc.output());
    f.states = Features(desc.state());
    r.default_function = f.name;
    r.functions.push_back(std::move(f));
  }
  for (const std::string& name : program_names) {
    auto same = [&](const FunctionInfo& f) { return f.name == name; };
    if (std::none_of(r.functions.begin(), r.functions.end(), same)) {
      FunctionInfo f;
      f.name = name;
      r.functions.push_back(std::move(f));
    }
  }

  std::set<uint64_t> offsets;
  for (FunctionInfo& f : r.functions) {
    auto it = prog.functions().find(f.name);
    if (it == prog.functions().end()) continue;
    const milspec::Function& fn = it->second;
    f.opset = fn.opset();
    auto block = fn.block_specializations().find(fn.opset());
    if (block == fn.block_specializations().end()) {
      if (fn.block_specializations().empty()) continue;
      block = fn.block_specializations().begin();
    }
    OpWalk{&f, &offsets, &r.num_blob_references}.Block(block->second, 0);
    r.num_const_ops += static_cast<uint64_t>(f.num_const_ops);
  }
  r.num_referenced_blobs = offsets.size();

  if (const BlobReader* weights = pkg.weights()) {
    Result<std::vector<Blob>> blobs = weights->All();
    if (!blobs.ok()) return blobs.status().WithContext("inspecting " + path);
    r.num_blobs = blobs->size();
    for (const Blob& b : *blobs)
      r.weight_bytes_by_dtype[std::string(BlobDTypeName(b.dtype))] += b.size_bytes;
  }
  r.weight_file_bytes = pkg.weight_file_bytes();
  r.total_bytes = pkg.total_bytes();
  Result<uint64_t> model_bytes = fs->FileSize(pkg.model_path());
  r.model_file_bytes = model_bytes.ok() ? *model_bytes : 0;
  r.fits_ios_budget = r.weight_file_bytes <= kIosWeightBudgetBytes;
  r.fits_macos_budget = r.weight_file_bytes <= kMacosWeightBudgetBytes;
  return r;
}

std::string RenderText(const InspectReport& r) {
  std::string out = fmt::format("{}\n  specification version {}\n", r.path, r.spec_version);
  out += fmt::format("  functions: {} (default: {})\n", r.functions.size(), r.default_function);
  for (const FunctionInfo& f : r.functions) {
    out += fmt::format("  function {}{}: {} ops, {} const\n", f.name,
                       f.opset.empty() ? " (not in program)" : " [" + f.opset + "]", f.num_ops,
                       f.num_const_ops);
    for (const auto& x : f.inputs) out += "    input  " + FeatureText(x) + "\n";
    for (const auto& x : f.outputs) out += "    output " + FeatureText(x) + "\n";
    for (const auto& x : f.states) out += "    state  " + FeatureText(x) + "\n";
    std::vector<std::pair<std::string, int64_t>> ops(f.op_counts.begin(), f.op_counts.end());
    std::stable_sort(ops.begin(), ops.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<std::string> parts;
    for (const auto& [type, n] : ops) parts.push_back(fmt::format("{} {}", type, n));
    if (!parts.empty()) out += fmt::format("    ops: {}\n", fmt::join(parts, ", "));
  }
  out += fmt::format("  weights: {} blobs, {} references from {} const ops\n", r.num_blobs,
                     r.num_blob_references, r.num_const_ops);
  for (const auto& [dtype, n] : r.weight_bytes_by_dtype) {
    out += fmt::format("    {:<6} {}\n", dtype, Bytes(n));
  }
  for (const auto& [k, v] : r.metadata) out += fmt::format("  metadata {}: {}\n", k, v);
  out += fmt::format("  files: model.mlmodel {}, weight.bin {}, package total {}\n",
                     Bytes(r.model_file_bytes), Bytes(r.weight_file_bytes), Bytes(r.total_bytes));
  out += fmt::format("  budget: iOS (1 GiB) {}, macOS (2 GiB) {}\n",
                     r.fits_ios_budget ? "fits" : "EXCEEDED",
                     r.fits_macos_budget ? "fits" : "EXCEEDED");
  return out;
}

std::string RenderJson(const InspectReport& r) {
  return ReportJson(r).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<FolderReport> InspectFolder(FileSystem* fs, const std::string& path) {
  if (!fs->IsDirectory(path)) return NotFound("{} is not a folder", path);
  ANEC_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(path));
  FolderReport r;
  r.path = path;
  for (const std::string& name : names) {
    const std::string full = JoinPath(path, name);
    if (EndsWith(name, ".mlpackage") && fs->IsDirectory(full)) {
      FolderPackage p{name, std::nullopt, ""};
      Result<InspectReport> rep = InspectPackage(fs, full);
      if (rep.ok()) {
        p.report = std::move(rep).value();
      } else {
        p.error = rep.status().ToString();
      }
      r.packages.push_back(std::move(p));
    } else if (EndsWith(name, ".mlmodelc") || EndsWith(name, ".mlmodel")) {
      r.other_models.push_back(name);
    }
  }
  const std::string meta = JoinPath(path, "meta.yaml");
  if (fs->Exists(meta) && !fs->IsDirectory(meta)) {
    ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(meta));
    r.meta_yaml = std::move(text);
  }
  return r;
}

std::string RenderText(const FolderReport& r) {
  std::string out = fmt::format("{}: {} package(s)\n", r.path, r.packages.size());
  uint64_t total_weights = 0;
  for (const FolderPackage& p : r.packages) {
    if (p.report) {
      total_weights += p.report->weight_file_bytes;
      out += "\n" + RenderText(*p.report);
    } else {
      out += fmt::format("\n{}\n  ERROR: {}\n", p.name, p.error);
    }
  }
  if (!r.other_models.empty()) {
    out += fmt::format("\nnot inspected (compiled or legacy models): {}\n",
                       fmt::join(r.other_models, ", "));
  }
  out += fmt::format("\nweights in all packages: {}\n", Bytes(total_weights));
  if (r.meta_yaml)
    out += "\nmeta.yaml:\n" + *r.meta_yaml + (EndsWith(*r.meta_yaml, "\n") ? "" : "\n");
  return out;
}

std::string RenderJson(const FolderReport& r) {
  json packages = json::array();
  for (const FolderPackage& p : r.packages) {
    json j = {{"name", p.name}};
    if (p.report) {
      j["report"] = ReportJson(*p.report);
    } else {
      j["error"] = p.error;
    }
    packages.push_back(std::move(j));
  }
  json j = {{"path", r.path}, {"packages", std::move(packages)}, {"other_models", r.other_models}};
  j["meta_yaml"] = r.meta_yaml ? json(*r.meta_yaml) : json(nullptr);
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace anec::coreml
