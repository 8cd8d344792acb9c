#include "pipeline/package_merge.h"

#include <functional>
#include <map>

#include "coreml/package.h"

namespace anec::pipeline {

namespace CS = CoreML::Specification;
namespace MS = CoreML::Specification::MILSpec;

namespace {

// Calls `fn(key, value)` for every blob-backed Value in `block`: a const op's value under its
// output name, an iOS18 constexpr op's inline input under "<op output>_<param>" (the names
// ane::PackageConstants uses), anything else under "".
Status ForEachBlobValue(MS::Block* block,
                        const std::function<Status(const std::string&, MS::Value*)>& fn) {
  for (MS::Operation& op : *block->mutable_operations()) {
    const std::string out = op.outputs_size() ? op.outputs(0).name() : "";
    for (auto& [name, value] : *op.mutable_attributes()) {
      if (value.has_blobfilevalue()) {
        ANEC_RETURN_IF_ERROR(fn(op.type() == "const" && name == "val" ? out : "", &value));
      }
    }
    const bool constexpr_op = op.type().rfind("constexpr_", 0) == 0;
    for (auto& [param, arg] : *op.mutable_inputs()) {
      for (MS::Argument::Binding& b : *arg.mutable_arguments()) {
        if (b.has_value() && b.value().has_blobfilevalue()) {
          ANEC_RETURN_IF_ERROR(fn(constexpr_op ? out + "_" + param : "", b.mutable_value()));
        }
      }
    }
    for (MS::Block& inner : *op.mutable_blocks())
      ANEC_RETURN_IF_ERROR(ForEachBlobValue(&inner, fn));
  }
  return Status::Ok();
}

Result<MS::Function> SingleFunction(const CS::Model& m, const std::string& where) {
  if (!m.has_mlprogram() || m.mlprogram().functions_size() != 1 ||
      !m.mlprogram().functions().contains("main")) {
    return InvalidArgument("{}: expected a single-function ML Program with function main", where);
  }
  return m.mlprogram().functions().at("main");
}

void AddDescription(const CS::Model& m, const std::string& name, CS::Model* merged) {
  CS::FunctionDescription* fd = merged->mutable_description()->add_functions();
  fd->set_name(name);
  *fd->mutable_input() = m.description().input();
  *fd->mutable_output() = m.description().output();
  *fd->mutable_state() = m.description().state();
}

// The merged package keeps the infer package's weight.bin as it is (hard-linked where possible,
// see MergeInferPrefill), so every constant keeps its offset; `offsets` maps the constants'
// names to them for the prefill function.
Status Merge(FileSystem* fs, const coreml::Package& infer, const std::string& prefill_model,
             CS::Model* merged) {
  const std::string& infer_package = infer.path();
  ANEC_ASSIGN_OR_RETURN(MS::Function infer_fn, SingleFunction(infer.model(), infer_package));
  std::map<std::string, uint64_t> copied;  // constant name -> offset in the weight file
  for (auto& [opset, block] : *infer_fn.mutable_block_specializations()) {
    ANEC_RETURN_IF_ERROR(ForEachBlobValue(&block, [&](const std::string& key, MS::Value* v) {
      if (infer.weights() == nullptr) {
        return Corrupt("{}: a constant refers to weight.bin but the package has none",
                       infer_package);
      }
      // Validates the blob (header, bounds) before the merged model points at it.
      ANEC_RETURN_IF_ERROR(infer.weights()->Get(v->blobfilevalue().offset()).status());
      if (!key.empty()) copied[key] = v->blobfilevalue().offset();
      return Status::Ok();
    }));
  }

  ANEC_ASSIGN_OR_RETURN(std::string bytes, fs->ReadFile(prefill_model));
  CS::Model prefill;
  if (!prefill.ParseFromString(bytes)) {
    return Corrupt("{}: not a Core ML model protobuf; rerun step 4 (--restart 4)", prefill_model);
  }
  ANEC_ASSIGN_OR_RETURN(MS::Function prefill_fn, SingleFunction(prefill, prefill_model));
  for (auto& [opset, block] : *prefill_fn.mutable_block_specializations()) {
    ANEC_RETURN_IF_ERROR(ForEachBlobValue(&block, [&](const std::string& key, MS::Value* v) {
      auto it = copied.find(key);
      if (key.empty() || it == copied.end()) {
        return FailedPrecondition(
            "{}: constant '{}' has no same-named constant in {}; steps 3 and 4 were made by "
            "different runs, rerun with --restart 3",
            prefill_model, key, infer_package);
      }
      v->mutable_blobfilevalue()->set_offset(it->second);
      return Status::Ok();
    }));
  }

  merged->mutable_mlprogram()->set_version(1);
  (*merged->mutable_mlprogram()->mutable_functions())["infer"] = std::move(infer_fn);
  (*merged->mutable_mlprogram()->mutable_functions())["prefill"] = std::move(prefill_fn);
  AddDescription(infer.model(), "infer", merged);
  AddDescription(prefill, "prefill", merged);
  *merged->mutable_description()->mutable_metadata() = infer.model().description().metadata();
  merged->set_specificationversion(
      std::max({9, infer.model().specificationversion(), prefill.specificationversion()}));
  merged->mutable_description()->set_defaultfunctionname("infer");
  return Status::Ok();
}

}  // namespace

Status MergeInferPrefill(FileSystem* fs, const std::string& infer_package,
                         const std::string& prefill_model, const std::string& out_path) {
  ANEC_ASSIGN_OR_RETURN(coreml::Package infer, coreml::Package::Open(fs, infer_package));
  CS::Model merged;
  Status s = Merge(fs, infer, prefill_model, &merged);
  if (!s.ok()) return s.WithContext("step 5 (combine)");
  const std::string weights = JoinPath(Dirname(infer.model_path()), "weights/weight.bin");
  ANEC_ASSIGN_OR_RETURN(auto writer, coreml::PackageWriter::CreateWithWeightFile(fs, out_path, weights));
  return writer->Finish(merged);
}

}  // namespace anec::pipeline
