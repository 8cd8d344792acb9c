#include "mil/model_assembler.h"

#include "mil/function_internal.h"

namespace anec::mil {

namespace CS = CoreML::Specification;

namespace {

Result<CS::ArrayFeatureType::ArrayDataType> ArrayType(DType d, const std::string& what) {
  switch (d) {
    case DType::kFloat16: return CS::ArrayFeatureType::FLOAT16;
    case DType::kFloat32: return CS::ArrayFeatureType::FLOAT32;
    case DType::kInt32: return CS::ArrayFeatureType::INT32;
    default:
      return InvalidArgument("{} has dtype {}; Core ML model inputs/outputs must be fp16, fp32 "
                             "or int32: cast it first",
                             what, DTypeName(d));
  }
}

Status Describe(const Function& fn, google::protobuf::RepeatedPtrField<CS::FeatureDescription>* in,
                google::protobuf::RepeatedPtrField<CS::FeatureDescription>* out,
                google::protobuf::RepeatedPtrField<CS::FeatureDescription>* states) {
  for (int id : fn.inputs()) {
    const auto& v = *fn.values()[id];
    std::string what = fmt::format("function '{}' input '{}'", fn.name(), v.name);
    ANEC_ASSIGN_OR_RETURN(auto dt, ArrayType(v.type.dtype, what));
    CS::FeatureDescription* f = v.is_state ? states->Add() : in->Add();
    f->set_name(v.name);
    CS::ArrayFeatureType* arr = v.is_state ? f->mutable_type()->mutable_statetype()->mutable_arraytype()
                                           : f->mutable_type()->mutable_multiarraytype();
    for (int64_t d : v.type.shape) arr->add_shape(d);
    if (v.type.shape.empty()) arr->add_shape(1);  // coremltools: a scalar input is shape [1]
    arr->set_datatype(dt);
  }
  for (const auto& [name, id] : fn.outputs()) {
    const auto& v = *fn.values()[id];
    std::string what = fmt::format("function '{}' output '{}'", fn.name(), name);
    ANEC_ASSIGN_OR_RETURN(auto dt, ArrayType(v.type.dtype, what));
    CS::FeatureDescription* f = out->Add();
    f->set_name(v.name);
    auto* arr = f->mutable_type()->mutable_multiarraytype();
    for (int64_t d : v.type.shape) arr->add_shape(d);
    arr->set_datatype(dt);
  }
  return Status::Ok();
}

}  // namespace

Result<CS::Model> AssembleModel(const ProgramBuilder& program, const ModelOptions& options) {
  ANEC_RETURN_IF_ERROR(program.status());
  const auto& fns = program.functions();
  if (fns.empty()) return InvalidArgument("program has no functions; call AddFunction");
  bool has_state = false;
  for (const auto& fn : fns) {
    if (SpecificationVersion(fn->opset()) > options.specification_version) {
      return InvalidArgument("function '{}' uses opset {} which needs specificationVersion {}, "
                             "but ModelOptions.specification_version is {}",
                             fn->name(), OpsetName(fn->opset()),
                             SpecificationVersion(fn->opset()), options.specification_version);
    }
    for (int id : fn->inputs()) has_state |= fn->values()[id]->is_state;
  }
  bool multi = options.multifunction || fns.size() > 1;
  if ((multi || has_state) && options.specification_version < 9) {
    return InvalidArgument("states and multi-function models need specificationVersion 9 "
                           "(iOS18), ModelOptions.specification_version is {}",
                           options.specification_version);
  }
  std::string default_fn = options.default_function.empty() ? fns[0]->name()
                                                            : options.default_function;
  bool found = false;
  for (const auto& fn : fns) found |= fn->name() == default_fn;
  if (!found) {
    return InvalidArgument("ModelOptions.default_function '{}' is not a function of the program",
                           default_fn);
  }
  if (!multi && default_fn != "main") {
    return InvalidArgument("a single-function model's function must be named 'main', found "
                           "'{}'; rename it or set ModelOptions.multifunction",
                           default_fn);
  }

  CS::Model model;
  model.set_specificationversion(options.specification_version);
  CS::ModelDescription* desc = model.mutable_description();
  if (multi) {
    for (const auto& fn : fns) {
      CS::FunctionDescription* f = desc->add_functions();
      f->set_name(fn->name());
      ANEC_RETURN_IF_ERROR(Describe(*fn, f->mutable_input(), f->mutable_output(), f->mutable_state()));
    }
    desc->set_defaultfunctionname(default_fn);
  } else {
    ANEC_RETURN_IF_ERROR(Describe(*fns[0], desc->mutable_input(), desc->mutable_output(),
                                  desc->mutable_state()));
  }
  const ModelMetadata& md = options.metadata;
  CS::Metadata* meta = desc->mutable_metadata();
  meta->set_author(md.author);
  meta->set_license(md.license);
  meta->set_versionstring(md.version);
  meta->set_shortdescription(md.short_description);
  for (const auto& [k, v] : md.user_defined) (*meta->mutable_userdefined())[k] = v;
  ANEC_RETURN_IF_ERROR(program.Serialize(model.mutable_mlprogram()));
  return model;
}

Status FinishPackage(coreml::PackageWriter* writer, const ProgramBuilder& program,
                     const ModelOptions& options) {
  auto model = AssembleModel(program, options);
  if (!model.ok()) {
    writer->Abandon();
    return model.status();
  }
  return writer->Finish(*model);
}

Status WritePackage(FileSystem* fs, const std::string& path, const ModelOptions& options,
                    const std::function<Status(ProgramBuilder&)>& build) {
  ANEC_ASSIGN_OR_RETURN(auto writer, coreml::PackageWriter::Create(fs, path));
  ProgramBuilder program(writer->weights());
  Status s = build(program);
  if (s.ok()) s = program.status();
  if (!s.ok()) {
    writer->Abandon();
    return s.WithContext(path);
  }
  Status f = FinishPackage(writer.get(), program, options);
  return f.ok() ? f : f.WithContext(path);
}

}  // namespace anec::mil
