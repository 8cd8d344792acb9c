#include "ane/model_assembly.h"

#include <algorithm>

namespace anec::ane {

namespace CS = CoreML::Specification;
namespace MS = CoreML::Specification::MILSpec;

namespace {

Result<CS::ArrayFeatureType::ArrayDataType> ArrayType(mil::DType t, const std::string& name) {
  switch (t) {
    case mil::DType::kFloat16:
      return CS::ArrayFeatureType::FLOAT16;
    case mil::DType::kFloat32:
      return CS::ArrayFeatureType::FLOAT32;
    case mil::DType::kFloat64:
      return CS::ArrayFeatureType::DOUBLE;
    case mil::DType::kInt32:
      return CS::ArrayFeatureType::INT32;
    case mil::DType::kInt8:
      return CS::ArrayFeatureType::INT8;
    default:
      return Unsupported("feature {}: {} cannot be a Core ML model input or output", name,
                         mil::DTypeName(t));
  }
}

Result<CS::FeatureDescription> Describe(const FeatureSpec& f) {
  CS::FeatureDescription d;
  d.set_name(f.name);
  ANEC_ASSIGN_OR_RETURN(auto dt, ArrayType(f.type.dtype, f.name));
  CS::ArrayFeatureType* arr = f.is_state
                                  ? d.mutable_type()->mutable_statetype()->mutable_arraytype()
                                  : d.mutable_type()->mutable_multiarraytype();
  arr->set_datatype(dt);
  const std::vector<int64_t>& shape =
      f.enumerated_shapes.empty() ? f.type.shape : f.enumerated_shapes.front();
  for (int64_t s : shape) arr->add_shape(s);
  if (!f.enumerated_shapes.empty()) {
    for (const auto& es : f.enumerated_shapes) {
      auto* s = arr->mutable_enumeratedshapes()->add_shapes();
      for (int64_t v : es) s->add_shape(v);
    }
  }
  return d;
}

// Marks dimension `dim` of a tensor type as unknown (flexible).
void MakeDimUnknown(MS::ValueType* vt, int dim) {
  MS::TensorType* tt = vt->has_statetype()
                           ? vt->mutable_statetype()->mutable_wrappedtype()->mutable_tensortype()
                           : vt->mutable_tensortype();
  if (dim < tt->dimensions_size()) {
    MS::Dimension* d = tt->mutable_dimensions(dim);
    d->clear_constant();
    d->mutable_unknown()->set_variadic(false);
  }
}

// Writes flexible dims into the serialized MIL function: inputs and the ops producing outputs
// with the same name as a flexible feature.
void ApplyFlexibleDims(const FunctionSignature& sig, MS::Function* fn) {
  std::map<std::string, std::vector<int>> flex = sig.flexible_values;
  for (const auto& f : sig.inputs) {
    if (!f.flexible_dims.empty()) flex[f.name] = f.flexible_dims;
  }
  for (const auto& f : sig.outputs) {
    if (!f.flexible_dims.empty()) flex[f.name] = f.flexible_dims;
  }
  if (flex.empty()) return;
  for (MS::NamedValueType& in : *fn->mutable_inputs()) {
    auto it = flex.find(in.name());
    if (it != flex.end()) {
      for (int d : it->second) MakeDimUnknown(in.mutable_type(), d);
    }
  }
  for (auto& [opset, block] : *fn->mutable_block_specializations()) {
    for (MS::Operation& op : *block.mutable_operations()) {
      for (MS::NamedValueType& out : *op.mutable_outputs()) {
        auto it = flex.find(out.name());
        if (it != flex.end()) {
          for (int d : it->second) MakeDimUnknown(out.mutable_type(), d);
        }
      }
    }
  }
}

}  // namespace

FeatureSpec OutputSpec(const std::string& name, const mil::Value& v) {
  FeatureSpec f;
  f.name = name;
  if (v.valid()) f.type = v.type();
  return f;
}

Result<CS::Model> AssembleModel(const mil::ProgramBuilder& program,
                                const std::vector<FunctionSignature>& functions,
                                const std::string& default_function,
                                const ModelMetadata& metadata) {
  ANEC_RETURN_IF_ERROR(program.status());
  if (functions.empty()) return Internal("AssembleModel: no functions");
  CS::Model model;
  model.set_specificationversion(9);
  ANEC_RETURN_IF_ERROR(program.Serialize(model.mutable_mlprogram()));
  CS::ModelDescription* desc = model.mutable_description();
  const bool single = functions.size() == 1;
  for (const FunctionSignature& sig : functions) {
    auto fit = model.mutable_mlprogram()->mutable_functions()->find(sig.name);
    if (fit == model.mutable_mlprogram()->mutable_functions()->end()) {
      return Internal("AssembleModel: program has no function {}", sig.name);
    }
    ApplyFlexibleDims(sig, &fit->second);
    CS::FunctionDescription* fd = single ? nullptr : desc->add_functions();
    if (fd) fd->set_name(sig.name);
    for (const FeatureSpec& in : sig.inputs) {
      ANEC_ASSIGN_OR_RETURN(CS::FeatureDescription d, Describe(in));
      if (in.is_state) {
        *(fd ? fd->add_state() : desc->add_state()) = std::move(d);
      } else {
        *(fd ? fd->add_input() : desc->add_input()) = std::move(d);
      }
    }
    for (const FeatureSpec& out : sig.outputs) {
      ANEC_ASSIGN_OR_RETURN(CS::FeatureDescription d, Describe(out));
      *(fd ? fd->add_output() : desc->add_output()) = std::move(d);
    }
  }
  if (single && functions.front().name != "main") {
    return Internal("AssembleModel: a single-function program must name its function main");
  }
  if (!single) desc->set_defaultfunctionname(default_function);
  CS::Metadata* md = desc->mutable_metadata();
  md->set_shortdescription(metadata.short_description);
  md->set_versionstring(metadata.version);
  md->set_author(metadata.author);
  md->set_license(metadata.license);
  for (const auto& [k, v] : metadata.user_defined) (*md->mutable_userdefined())[k] = v;
  return model;
}

}  // namespace anec::ane
