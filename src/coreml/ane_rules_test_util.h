// Test helpers: small MIL programs written directly as protobuf, for the ANE rule tests
// (coreml/ must not depend on the typed builder in mil/).
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/half.h"
#include "coreml/ane_rules.h"
#include "coreml/package.h"

namespace anec::coreml::ane_test {

namespace milspec = CoreML::Specification::MILSpec;

inline milspec::ValueType TensorOf(milspec::DataType t, const std::vector<int64_t>& dims) {
  milspec::ValueType v;
  milspec::TensorType* tt = v.mutable_tensortype();
  tt->set_datatype(t);
  tt->set_rank(static_cast<int64_t>(dims.size()));
  for (int64_t d : dims)
    tt->add_dimensions()->mutable_constant()->set_size(static_cast<uint64_t>(d));
  return v;
}

using OpInputs = std::vector<std::pair<std::string, std::vector<std::string>>>;

// Appends to one block (a function's, or a nested op's); inputs go to the function.
class FnBuilder {
 public:
  FnBuilder(milspec::Function* fn, milspec::Block* block) : fn_(fn), block_(block) {}

  void Input(const std::string& name, milspec::DataType t, const std::vector<int64_t>& dims) {
    milspec::NamedValueType* in = fn_->add_inputs();
    in->set_name(name);
    *in->mutable_type() = TensorOf(t, dims);
  }
  void State(const std::string& name, const std::vector<int64_t>& dims,
             milspec::DataType t = milspec::FLOAT16) {
    milspec::NamedValueType* in = fn_->add_inputs();
    in->set_name(name);
    *in->mutable_type()->mutable_statetype()->mutable_wrappedtype() = TensorOf(t, dims);
  }
  // fp16 values as raw bytes (coremltools' form), or a blob reference at `blob_offset`.
  void ConstF16(const std::string& name, const std::vector<int64_t>& dims,
                const std::vector<float>& values, bool blob = false, uint64_t blob_offset = 64) {
    milspec::Value v;
    *v.mutable_type() = TensorOf(milspec::FLOAT16, dims);
    if (blob) {
      v.mutable_blobfilevalue()->set_filename(kWeightFileName);
      v.mutable_blobfilevalue()->set_offset(blob_offset);
    } else {
      std::string bytes;
      for (float f : values) {
        const uint16_t h = FloatToHalf(f);
        bytes.push_back(static_cast<char>(h & 0xFF));
        bytes.push_back(static_cast<char>(h >> 8));
      }
      v.mutable_immediatevalue()->mutable_tensor()->mutable_bytes()->set_values(bytes);
    }
    Const(name, v);
  }
  void ConstF32(const std::string& name, const std::vector<int64_t>& dims,
                const std::vector<float>& values) {
    milspec::Value v;
    *v.mutable_type() = TensorOf(milspec::FLOAT32, dims);
    for (float f : values)
      v.mutable_immediatevalue()->mutable_tensor()->mutable_floats()->add_values(f);
    Const(name, v);
  }
  void ConstInts(const std::string& name, const std::vector<int32_t>& values, bool scalar = false) {
    milspec::Value v;
    *v.mutable_type() = TensorOf(
        milspec::INT32, scalar ? std::vector<int64_t>{}
                               : std::vector<int64_t>{static_cast<int64_t>(values.size())});
    for (int32_t x : values)
      v.mutable_immediatevalue()->mutable_tensor()->mutable_ints()->add_values(x);
    Const(name, v);
  }
  void ConstStr(const std::string& name, const std::string& s) {
    milspec::Value v;
    *v.mutable_type() = TensorOf(milspec::STRING, {});
    v.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(s);
    Const(name, v);
  }
  // An op named `name` with one output `name` (none when `name` is empty).
  milspec::Operation* Op(const std::string& type, const std::string& name, const OpInputs& inputs,
                         milspec::DataType t, const std::vector<int64_t>& dims) {
    milspec::Operation* op = block_->add_operations();
    op->set_type(type);
    for (const auto& [param, names] : inputs) {
      milspec::Argument& arg = (*op->mutable_inputs())[param];
      for (const std::string& n : names) arg.add_arguments()->set_name(n);
    }
    if (!name.empty()) {
      milspec::Value nv;
      *nv.mutable_type() = TensorOf(milspec::STRING, {});
      nv.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(name);
      (*op->mutable_attributes())["name"] = nv;
      milspec::NamedValueType* out = op->add_outputs();
      out->set_name(name);
      *out->mutable_type() = TensorOf(t, dims);
    }
    return op;
  }
  // An op (e.g. `cond`) owning one block; the returned builder appends to that block.
  FnBuilder NestedBlock(const std::string& type, const std::string& name, milspec::DataType t,
                        const std::vector<int64_t>& dims) {
    milspec::Operation* op = Op(type, name, {}, t, dims);
    return FnBuilder(fn_, op->add_blocks());
  }
  void Output(const std::string& name) { block_->add_outputs(name); }

 private:
  void Const(const std::string& name, const milspec::Value& v) {
    milspec::Operation* op = Op("const", name, {}, milspec::UNUSED_TYPE, {});
    *op->mutable_outputs(0)->mutable_type() = v.type();
    (*op->mutable_attributes())["val"] = v;
  }
  milspec::Function* fn_;
  milspec::Block* block_;
};

class ModelBuilder {
 public:
  ModelBuilder() {
    model_.set_specificationversion(9);
    model_.mutable_mlprogram()->set_version(1);
  }
  FnBuilder& Function(const std::string& name, const std::string& opset = "CoreML8") {
    milspec::Function& fn = (*model_.mutable_mlprogram()->mutable_functions())[name];
    fn.set_opset(opset);
    milspec::Block& b = (*fn.mutable_block_specializations())[opset];
    fns_.push_back(std::make_unique<FnBuilder>(&fn, &b));
    return *fns_.back();
  }
  CoreML::Specification::Model& model() { return model_; }

 private:
  CoreML::Specification::Model model_;
  std::vector<std::unique_ptr<FnBuilder>> fns_;
};

// The op names of the findings of `rule`, in report order.
inline std::vector<std::string> Ids(const std::vector<AneFinding>& findings,
                                    const std::string& rule) {
  std::vector<std::string> ops;
  for (const AneFinding& f : findings) {
    if (f.rule == rule) ops.push_back(f.op);
  }
  return ops;
}

inline std::string Describe(const std::vector<AneFinding>& findings) {
  std::string out;
  for (const AneFinding& f : findings) {
    out += fmt::format("{} {} {} ({}): {} {}\n", f.function, f.op, f.op_type, f.rule,
                       AneLevelName(f.level), f.message);
  }
  return out;
}

}  // namespace anec::coreml::ane_test
