// Test-only helpers that write small MIL programs straight into the protobuf, so runtime tests
// do not depend on the converter's builder (the runtime must stay an independent check).
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "coreml/proto/model.pb.h"
#include "runtime/half.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace anec::runtime::testing {

namespace ms = ::CoreML::Specification::MILSpec;

constexpr int kFp16 = ms::FLOAT16, kFp32 = ms::FLOAT32, kInt32 = ms::INT32, kBool = ms::BOOL,
              kString = ms::STRING;

inline ms::ValueType TensorType(int dtype, const std::vector<int64_t>& dims) {
  ms::ValueType t;
  auto* tt = t.mutable_tensortype();
  tt->set_datatype(static_cast<ms::DataType>(dtype));
  tt->set_rank(static_cast<int64_t>(dims.size()));
  for (int64_t d : dims) {
    if (d < 0) tt->add_dimensions()->mutable_unknown()->set_variadic(false);
    else tt->add_dimensions()->mutable_constant()->set_size(static_cast<uint64_t>(d));
  }
  return t;
}

inline ms::Value Fp32(const std::vector<int64_t>& dims, const std::vector<float>& v) {
  ms::Value val;
  *val.mutable_type() = TensorType(kFp32, dims);
  for (float f : v) val.mutable_immediatevalue()->mutable_tensor()->mutable_floats()->add_values(f);
  if (v.empty()) val.mutable_immediatevalue()->mutable_tensor()->mutable_floats();
  return val;
}
inline ms::Value Fp16(const std::vector<int64_t>& dims, const std::vector<float>& v) {
  ms::Value val;
  *val.mutable_type() = TensorType(kFp16, dims);
  std::string bytes(v.size() * 2, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    Half h = FloatToHalf(v[i]);
    std::memcpy(&bytes[i * 2], &h, 2);
  }
  val.mutable_immediatevalue()->mutable_tensor()->mutable_bytes()->set_values(bytes);
  return val;
}
inline ms::Value Int32(const std::vector<int64_t>& dims, const std::vector<int32_t>& v) {
  ms::Value val;
  *val.mutable_type() = TensorType(kInt32, dims);
  auto* ints = val.mutable_immediatevalue()->mutable_tensor()->mutable_ints();
  for (int32_t x : v) ints->add_values(x);
  return val;
}
inline ms::Value Int32s(const std::vector<int32_t>& v) {
  return Int32({static_cast<int64_t>(v.size())}, v);
}
inline ms::Value Scalar(int32_t v) { return Int32({}, {v}); }
inline ms::Value ScalarF(float v) { return Fp32({}, {v}); }
inline ms::Value Bools(const std::vector<int64_t>& dims, const std::vector<bool>& v) {
  ms::Value val;
  *val.mutable_type() = TensorType(kBool, dims);
  auto* b = val.mutable_immediatevalue()->mutable_tensor()->mutable_bools();
  for (bool x : v) b->add_values(x);
  return val;
}
inline ms::Value Bool(bool v) { return Bools({}, {v}); }
inline ms::Value Str(const std::string& s) {
  ms::Value val;
  *val.mutable_type() = TensorType(kString, {});
  val.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(s);
  return val;
}
inline ms::Value Raw(int dtype, const std::vector<int64_t>& dims, std::string bytes) {
  ms::Value val;
  *val.mutable_type() = TensorType(dtype, dims);
  val.mutable_immediatevalue()->mutable_tensor()->mutable_bytes()->set_values(std::move(bytes));
  return val;
}
inline ms::Value Blob(int dtype, const std::vector<int64_t>& dims, uint64_t offset) {
  ms::Value val;
  *val.mutable_type() = TensorType(dtype, dims);
  val.mutable_blobfilevalue()->set_filename("@model_path/weights/weight.bin");
  val.mutable_blobfilevalue()->set_offset(offset);
  return val;
}

// One op input: a list of names and/or inline values.
struct Bind {
  std::string param;
  std::vector<std::string> names;
  std::vector<ms::Value> values;
  Bind(std::string p, std::string name) : param(std::move(p)), names{std::move(name)} {}
  Bind(std::string p, ms::Value v) : param(std::move(p)), values{std::move(v)} {}
  Bind(std::string p, std::vector<std::string> ns) : param(std::move(p)), names(std::move(ns)) {}
};

struct Out {
  std::string name;
  int dtype;
  std::vector<int64_t> dims;
};

class FunctionBuilder {
 public:
  FunctionBuilder(ms::Function* fn, const std::string& opset) : fn_(fn) {
    fn_->set_opset(opset);
    block_ = &(*fn_->mutable_block_specializations())[opset];
  }
  FunctionBuilder& Input(const std::string& name, int dtype, const std::vector<int64_t>& dims) {
    auto* in = fn_->add_inputs();
    in->set_name(name);
    *in->mutable_type() = TensorType(dtype, dims);
    return *this;
  }
  FunctionBuilder& State(const std::string& name, const std::vector<int64_t>& dims) {
    auto* in = fn_->add_inputs();
    in->set_name(name);
    *in->mutable_type()->mutable_statetype()->mutable_wrappedtype() = TensorType(kFp16, dims);
    return *this;
  }
  FunctionBuilder& Const(const std::string& name, ms::Value v) {
    ms::Operation* op = block_->add_operations();
    op->set_type("const");
    auto* o = op->add_outputs();
    o->set_name(name);
    *o->mutable_type() = v.type();
    (*op->mutable_attributes())["name"] = Str(name);
    (*op->mutable_attributes())["val"] = std::move(v);
    return *this;
  }
  FunctionBuilder& Op(const std::string& type, const std::string& name, std::vector<Bind> binds,
                      std::vector<Out> outs) {
    ms::Operation* op = block_->add_operations();
    op->set_type(type);
    (*op->mutable_attributes())["name"] = Str(name);
    for (Bind& b : binds) {
      auto& arg = (*op->mutable_inputs())[b.param];
      for (const std::string& n : b.names) arg.add_arguments()->set_name(n);
      for (ms::Value& v : b.values) *arg.add_arguments()->mutable_value() = std::move(v);
    }
    for (const Out& o : outs) {
      auto* ov = op->add_outputs();
      ov->set_name(o.name);
      *ov->mutable_type() = TensorType(o.dtype, o.dims);
    }
    return *this;
  }
  FunctionBuilder& Output(const std::string& name) {
    block_->add_outputs(name);
    return *this;
  }

 private:
  ms::Function* fn_;
  ms::Block* block_;
};

class ModelBuilder {
 public:
  ModelBuilder() {
    model_.set_specificationversion(9);
    model_.mutable_mlprogram()->set_version(1);
  }
  FunctionBuilder Function(const std::string& name, const std::string& opset = "CoreML8") {
    return FunctionBuilder(&(*model_.mutable_mlprogram()->mutable_functions())[name], opset);
  }
  const CoreML::Specification::Model& model() const { return model_; }

 private:
  CoreML::Specification::Model model_;
};

inline Result<std::shared_ptr<const Program>> LoadModel(const ModelBuilder& b,
                                                        const coreml::BlobReader* weights = nullptr,
                                                        const std::string& name = "test.mlpackage") {
  ValueSource src;
  src.weights = weights;
  return Program::Load(b.model(), src, name);
}

inline Tensor F32(Shape shape, std::vector<float> v) {
  return Tensor::FromFloats(DType::kFloat32, std::move(shape), v);
}
inline Tensor F16(Shape shape, std::vector<float> v) {
  return Tensor::FromFloats(DType::kFloat16, std::move(shape), v);
}
inline Tensor I32(Shape shape, std::vector<int64_t> v) {
  return Tensor::FromInts(DType::kInt32, std::move(shape), v);
}

}  // namespace anec::runtime::testing

namespace anec::runtime::testing {

inline int MilOf(DType t) {
  switch (t) {
    case DType::kFloat16: return kFp16;
    case DType::kFloat32: return kFp32;
    case DType::kInt32: return kInt32;
    case DType::kBool: return kBool;
    default: return 0;
  }
}

// Runs one op of `type`: each tensor in `inputs` becomes a function input bound to the param of
// the same name; `params` are extra (constant) bindings; `outs` the declared outputs.
inline Result<NamedTensors> RunOp(const std::string& type,
                                  std::vector<std::pair<std::string, Tensor>> inputs,
                                  std::vector<Bind> params, std::vector<Out> outs,
                                  ThreadPool* pool = nullptr) {
  ModelBuilder mb;
  FunctionBuilder f = mb.Function("main");
  NamedTensors feed;
  for (auto& [name, t] : inputs) {
    f.Input(name, MilOf(t.dtype()), t.shape());
    params.emplace_back(name, name);
    feed[name] = t;
  }
  f.Op(type, "op0", std::move(params), outs);
  for (const Out& o : outs) f.Output(o.name);
  ANEC_ASSIGN_OR_RETURN(auto program, LoadModel(mb));
  return RunFunction(*program->Find("main"), feed, nullptr, pool);
}

}  // namespace anec::runtime::testing
