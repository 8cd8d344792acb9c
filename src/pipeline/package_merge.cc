#include "pipeline/package_merge.h"

#include "coreml/package.h"

namespace anec::pipeline {

namespace CS = CoreML::Specification;
namespace MS = CoreML::Specification::MILSpec;

namespace {

// Re-adds the blob `v` points at to `out`, rewriting the offset.
Status CopyBlob(const coreml::Package& src, coreml::BlobWriter* out, MS::Value* v) {
  if (!v->has_blobfilevalue()) return Status::Ok();
  if (src.weights() == nullptr) {
    return Corrupt("{}: a constant refers to weight.bin but the package has none", src.path());
  }
  ANEC_ASSIGN_OR_RETURN(coreml::Blob blob, src.weights()->Get(v->blobfilevalue().offset()));
  const uint64_t bits = static_cast<uint64_t>(coreml::BlobDTypeBits(blob.dtype));
  const uint64_t n = (blob.size_bytes * 8 - blob.padding_bits) / bits;
  ANEC_ASSIGN_OR_RETURN(uint64_t offset, out->Add(blob.dtype, blob.data, n));
  v->mutable_blobfilevalue()->set_offset(offset);
  return Status::Ok();
}

Status CopyBlock(const coreml::Package& src, coreml::BlobWriter* out, MS::Block* block) {
  for (MS::Operation& op : *block->mutable_operations()) {
    for (auto& [name, value] : *op.mutable_attributes()) {
      ANEC_RETURN_IF_ERROR(CopyBlob(src, out, &value));
    }
    for (auto& [param, arg] : *op.mutable_inputs()) {
      for (MS::Argument::Binding& b : *arg.mutable_arguments()) {
        if (b.has_value()) ANEC_RETURN_IF_ERROR(CopyBlob(src, out, b.mutable_value()));
      }
    }
    for (MS::Block& inner : *op.mutable_blocks()) ANEC_RETURN_IF_ERROR(CopyBlock(src, out, &inner));
  }
  return Status::Ok();
}

}  // namespace

Status MergeFunctions(FileSystem* fs, const std::vector<MergeSource>& sources,
                      const std::string& default_function, const std::string& out_path) {
  if (sources.empty()) return Internal("MergeFunctions: no sources");
  bool default_found = false;
  for (const auto& s : sources) default_found |= s.function_name == default_function;
  if (!default_found) {
    return Internal("MergeFunctions: default function {} is not among the sources",
                    default_function);
  }
  ANEC_ASSIGN_OR_RETURN(auto writer, coreml::PackageWriter::Create(fs, out_path));
  CS::Model merged;
  merged.mutable_mlprogram()->set_version(1);
  int spec_version = 9;
  for (size_t i = 0; i < sources.size(); ++i) {
    const MergeSource& s = sources[i];
    auto pkg = coreml::Package::Open(fs, s.package_path);
    if (!pkg.ok()) {
      writer->Abandon();
      return pkg.status().WithContext("step 5 (combine) reading " + s.package_path);
    }
    const CS::Model& m = pkg->model();
    if (!m.has_mlprogram() || m.mlprogram().functions_size() != 1 ||
        !m.mlprogram().functions().contains("main")) {
      writer->Abandon();
      return InvalidArgument("{}: expected a single-function ML Program with function main",
                             s.package_path);
    }
    spec_version = std::max(spec_version, m.specificationversion());
    MS::Function fn = m.mlprogram().functions().at("main");
    for (auto& [opset, block] : *fn.mutable_block_specializations()) {
      Status st = CopyBlock(*pkg, writer->weights(), &block);
      if (!st.ok()) {
        writer->Abandon();
        return st.WithContext("copying weights of " + s.package_path);
      }
    }
    (*merged.mutable_mlprogram()->mutable_functions())[s.function_name] = std::move(fn);
    CS::FunctionDescription* fd = merged.mutable_description()->add_functions();
    fd->set_name(s.function_name);
    *fd->mutable_input() = m.description().input();
    *fd->mutable_output() = m.description().output();
    *fd->mutable_state() = m.description().state();
    if (i == 0) *merged.mutable_description()->mutable_metadata() = m.description().metadata();
  }
  merged.set_specificationversion(spec_version);
  merged.mutable_description()->set_defaultfunctionname(default_function);
  return writer->Finish(merged);
}

}  // namespace anec::pipeline
