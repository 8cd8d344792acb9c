// ProgramBuilder::Serialize: the MILSpec.Program as coremltools writes it.
//  - every op has attribute "name"; a const op has attributes "name" and "val" and no inputs;
//  - generic op inputs are bound by name;
//  - iOS18 constexpr_* ops take their const inputs as inline Values (immediate or blob) bound to
//    the input, and const ops that feed only constexpr_* ops are not written at all.
#include <cstring>

#include "coreml/package.h"
#include "mil/function_internal.h"
#include "mil/op_registry.h"
#include "mil/program_builder.h"

namespace anec::mil {

namespace MS = CoreML::Specification::MILSpec;

namespace {

void SetTensorType(const TensorType& t, MS::TensorType* out) {
  out->set_datatype(MilDataType(t.dtype));
  out->set_rank(static_cast<int64_t>(t.shape.size()));
  for (int64_t d : t.shape) out->add_dimensions()->mutable_constant()->set_size(static_cast<uint64_t>(d));
}

void SetValueType(const Function::ValueInfo& v, MS::ValueType* out) {
  if (v.is_state) {
    SetTensorType(v.type, out->mutable_statetype()->mutable_wrappedtype()->mutable_tensortype());
  } else {
    SetTensorType(v.type, out->mutable_tensortype());
  }
}

// The immediate encoding coremltools uses for each dtype.
void SetImmediate(const Tensor& t, MS::TensorValue* out) {
  const TensorType& type = t.type();
  auto bytes = t.bytes();
  switch (type.dtype) {
    case DType::kFloat32: {
      auto* f = out->mutable_floats();
      for (double d : t.AsDoubles()) f->add_values(static_cast<float>(d));
      break;
    }
    case DType::kFloat64: {
      auto* f = out->mutable_doubles();
      for (double d : t.AsDoubles()) f->add_values(d);
      break;
    }
    case DType::kInt32: case DType::kInt16: case DType::kUInt16: {
      auto* f = out->mutable_ints();
      for (int64_t v : t.AsInts()) f->add_values(static_cast<int32_t>(v));
      break;
    }
    case DType::kInt64: case DType::kUInt64: {
      auto* f = out->mutable_longints();
      for (int64_t v : t.AsInts()) f->add_values(v);
      break;
    }
    case DType::kBool: {
      auto* f = out->mutable_bools();
      for (int64_t v : t.AsInts()) f->add_values(v != 0);
      break;
    }
    case DType::kString: {
      auto* f = out->mutable_strings();
      for (const std::string& s : t.strings()) f->add_values(s);
      break;
    }
    default:  // fp16, bf16, int8, uint8, uint32 and sub-byte types: raw little-endian bytes
      out->mutable_bytes()->set_values(std::string(reinterpret_cast<const char*>(bytes.data()),
                                                   bytes.size()));
      break;
  }
}

void SetConstValue(const Function::ValueInfo& v, MS::Value* out) {
  SetTensorType(v.type, out->mutable_type()->mutable_tensortype());
  if (v.blob_offset) {
    auto* b = out->mutable_blobfilevalue();
    b->set_filename(coreml::kWeightFileName);
    b->set_offset(*v.blob_offset);
  } else {
    SetImmediate(*v.inline_value, out->mutable_immediatevalue()->mutable_tensor());
  }
}

MS::Value StringValue(const std::string& s) {
  MS::Value v;
  auto* t = v.mutable_type()->mutable_tensortype();
  t->set_datatype(MS::STRING);
  t->set_rank(0);
  v.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(s);
  return v;
}

bool IsConstexprType(const std::string& type) { return type.rfind("constexpr_", 0) == 0; }

}  // namespace

std::vector<bool> ConstsFoldedIntoConstexpr(const Function& fn) {
  const auto& values = fn.values();
  std::vector<int> uses(values.size(), 0), constexpr_uses(values.size(), 0);
  for (const auto& op : fn.ops()) {
    for (const auto& [p, ids] : op->inputs) {
      for (int id : ids) {
        ++uses[id];
        if (IsConstexprType(op->type)) ++constexpr_uses[id];
      }
    }
  }
  for (const auto& [name, id] : fn.outputs()) ++uses[id];
  std::vector<bool> folded(values.size(), false);
  for (size_t id = 0; id < values.size(); ++id) {
    bool is_const = values[id]->inline_value || values[id]->blob_offset;
    folded[id] = is_const && uses[id] > 0 && uses[id] == constexpr_uses[id];
  }
  return folded;
}

namespace {

Status SerializeFunction(const Function& fn, MS::Function* out) {
  const auto& values = fn.values();
  const auto& ops = fn.ops();
  for (int id : fn.inputs()) {
    auto* in = out->add_inputs();
    in->set_name(values[id]->name);
    SetValueType(*values[id], in->mutable_type());
  }
  std::string opset(OpsetName(fn.opset()));
  out->set_opset(opset);
  MS::Block& block = (*out->mutable_block_specializations())[opset];

  std::vector<bool> folded = ConstsFoldedIntoConstexpr(fn);

  for (const auto& op : ops) {
    if (op->type == "const") {
      int id = op->outputs[0];
      if (folded[id]) continue;
      auto* o = block.add_operations();
      o->set_type("const");
      (*o->mutable_attributes())["name"] = StringValue(op->name);
      SetConstValue(*values[id], &(*o->mutable_attributes())["val"]);
      auto* nv = o->add_outputs();
      nv->set_name(values[id]->name);
      SetValueType(*values[id], nv->mutable_type());
      continue;
    }
    auto* o = block.add_operations();
    o->set_type(op->type);
    (*o->mutable_attributes())["name"] = StringValue(op->name);
    bool inline_consts = IsConstexprType(op->type);
    for (const auto& [param, ids] : op->inputs) {
      MS::Argument& arg = (*o->mutable_inputs())[param];
      for (int id : ids) {
        const auto& v = *values[id];
        bool is_const = v.inline_value || v.blob_offset;
        if (inline_consts && is_const) {
          SetConstValue(v, arg.add_arguments()->mutable_value());
        } else {
          arg.add_arguments()->set_name(v.name);
        }
      }
    }
    for (int id : op->outputs) {
      auto* nv = o->add_outputs();
      nv->set_name(values[id]->name);
      SetValueType(*values[id], nv->mutable_type());
    }
  }
  if (fn.outputs().empty()) {
    return InvalidArgument("function '{}' has no outputs; call Function::Output", fn.name());
  }
  for (const auto& [name, id] : fn.outputs()) block.add_outputs(values[id]->name);
  return Status::Ok();
}

}  // namespace

Status ProgramBuilder::Serialize(MS::Program* out) const {
  if (!status_.ok()) return status_;
  if (functions_.empty()) return InvalidArgument("program has no functions; call AddFunction");
  out->Clear();
  out->set_version(1);
  for (const auto& fn : functions_) {
    ANEC_RETURN_IF_ERROR(SerializeFunction(*fn, &(*out->mutable_functions())[fn->name()]));
  }
  return Status::Ok();
}

}  // namespace anec::mil
