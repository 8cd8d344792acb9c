#include "ane/package_constants.h"

#include "ane/page_release.h"

namespace anec::ane {

namespace MS = CoreML::Specification::MILSpec;

Result<mil::DType> DTypeFromMil(int t) {
  using D = mil::DType;
  switch (t) {
    case MS::FLOAT16:
      return D::kFloat16;
    case MS::FLOAT32:
      return D::kFloat32;
    case MS::INT8:
      return D::kInt8;
    case MS::INT16:
      return D::kInt16;
    case MS::INT32:
      return D::kInt32;
    case MS::UINT8:
      return D::kUInt8;
    case MS::UINT16:
      return D::kUInt16;
    case MS::UINT32:
      return D::kUInt32;
    case MS::INT4:
      return D::kInt4;
    case MS::UINT1:
      return D::kUInt1;
    case MS::UINT2:
      return D::kUInt2;
    case MS::UINT3:
      return D::kUInt3;
    case MS::UINT4:
      return D::kUInt4;
    case MS::UINT6:
      return D::kUInt6;
    default:
      return Unsupported("MIL data type {} cannot back a blob constant", t);
  }
}

namespace {

Status AddEntry(const std::string& name, const MS::ValueType& vt, uint64_t offset,
                const std::string& where,
                std::map<std::string, std::pair<mil::TensorType, uint64_t>>* out) {
  if (!vt.has_tensortype()) return Corrupt("{}: constant {} is not a tensor", where, name);
  const MS::TensorType& tt = vt.tensortype();
  mil::TensorType type;
  ANEC_ASSIGN_OR_RETURN(type.dtype, DTypeFromMil(tt.datatype()));
  for (const MS::Dimension& d : tt.dimensions()) {
    if (!d.has_constant()) {
      return Corrupt("{}: constant {} has a non-constant dimension", where, name);
    }
    type.shape.push_back(static_cast<int64_t>(d.constant().size()));
  }
  (*out)[name] = {type, offset};
  return Status::Ok();
}

// Const ops are indexed by their output name; blob values bound inline to a constexpr_* op
// (how iOS18 programs store palettized weights) by "<op output>_<param>".
Status IndexBlock(const MS::Block& block, const std::string& where,
                  std::map<std::string, std::pair<mil::TensorType, uint64_t>>* out) {
  for (const MS::Operation& op : block.operations()) {
    for (const MS::Block& inner : op.blocks()) ANEC_RETURN_IF_ERROR(IndexBlock(inner, where, out));
    if (op.outputs_size() < 1) continue;
    const std::string& result = op.outputs(0).name();
    if (op.type() == "const") {
      auto val = op.attributes().find("val");
      if (val == op.attributes().end() || !val->second.has_blobfilevalue()) continue;
      ANEC_RETURN_IF_ERROR(
          AddEntry(result, op.outputs(0).type(), val->second.blobfilevalue().offset(), where, out));
      continue;
    }
    if (op.type().rfind("constexpr_", 0) != 0) continue;
    for (const auto& [param, arg] : op.inputs()) {
      if (arg.arguments_size() != 1 || !arg.arguments(0).has_value()) continue;
      const MS::Value& v = arg.arguments(0).value();
      if (!v.has_blobfilevalue()) continue;
      ANEC_RETURN_IF_ERROR(
          AddEntry(result + "_" + param, v.type(), v.blobfilevalue().offset(), where, out));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PackageConstants> PackageConstants::Index(const coreml::Package* pkg) {
  PackageConstants pc;
  pc.pkg_ = pkg;
  if (!pkg->model().has_mlprogram()) {
    return InvalidArgument("{}: not an ML Program package", pkg->path());
  }
  std::map<std::string, std::pair<mil::TensorType, uint64_t>> found;
  for (const auto& [fname, fn] : pkg->model().mlprogram().functions()) {
    for (const auto& [opset, block] : fn.block_specializations()) {
      ANEC_RETURN_IF_ERROR(IndexBlock(block, pkg->path() + " function " + fname, &found));
    }
  }
  for (auto& [name, e] : found) pc.entries_[name] = Entry{e.first, e.second};
  return pc;
}

Result<mil::Tensor> PackageConstants::Get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return NotFound(
        "{}: no weight constant named {}; the package was written by a different anec version "
        "or with different options, rerun without --restart",
        pkg_->path(), name);
  }
  if (pkg_->weights() == nullptr) return Corrupt("{}: package has no weight.bin", pkg_->path());
  ANEC_ASSIGN_OR_RETURN(coreml::Blob blob, pkg_->weights()->Get(it->second.offset));
  const uint64_t bits = static_cast<uint64_t>(mil::DTypeBits(it->second.type.dtype));
  const uint64_t need = (static_cast<uint64_t>(it->second.type.num_elements()) * bits + 7) / 8;
  if (blob.size_bytes != need) {
    return Corrupt("{}: constant {} of type {} has a {}-byte blob, expected {}", pkg_->path(), name,
                   it->second.type.ToString(), blob.size_bytes, need);
  }
  mil::Tensor t(it->second.type, std::vector<uint8_t>(blob.data.begin(), blob.data.end()));
  ReleasePages(blob.data);  // copied; the mapped pages are not read again
  return t;
}

}  // namespace anec::ane
