// Function and ProgramBuilder (program_builder.h). Serialization: serializer.cc.
#include "mil/program_builder.h"

#include "mil/function_internal.h"
#include "mil/op_registry.h"

namespace anec::mil {

namespace {

// Which constants coremltools stores in the blob file: >= 10 elements of fp16/fp32/(u)int8 and
// sub-byte types; (u)int16/(u)int32 only from iOS18. bool, string and int64 are always inline.
bool StoreAsBlob(DType d, int64_t n, Opset opset) {
  if (n < ProgramBuilder::kBlobThreshold) return false;
  switch (d) {
    case DType::kFloat16: case DType::kFloat32: case DType::kInt8: case DType::kUInt8:
    case DType::kInt4: case DType::kUInt1: case DType::kUInt2: case DType::kUInt3:
    case DType::kUInt4: case DType::kUInt6:
      return true;
    case DType::kInt16: case DType::kUInt16: case DType::kInt32: case DType::kUInt32:
      return opset >= Opset::kIOS18;
    default:
      return false;
  }
}

std::optional<coreml::BlobDType> BlobDTypeFor(DType d) {
  return coreml::BlobDTypeForMilDataType(static_cast<int>(MilDataType(d)));
}

// Checks that a constant's stored form matches its declared type.
Status CheckTensor(const Tensor& t, const std::string& name) {
  const TensorType& type = t.type();
  for (int64_t d : type.shape) {
    if (d < 0) return InvalidArgument("constant '{}': negative dimension in {}", name, type.ToString());
  }
  DType d = type.dtype;
  if (d == DType::kBFloat16 || d == DType::kFloat64 || d == DType::kUInt64) {
    return Unsupported(
        "constant '{}': dtype {} cannot be a MIL constant (coremltools has no {} const); "
        "convert it to fp16/fp32/int32 first",
        name, DTypeName(d), DTypeName(d));
  }
  uint64_t n = static_cast<uint64_t>(type.num_elements());
  if (d == DType::kString) {
    if (t.strings().size() != n) {
      return InvalidArgument("constant '{}': {} needs {} strings, found {}", name, type.ToString(),
                             n, t.strings().size());
    }
    return Status::Ok();
  }
  uint64_t expected = (n * static_cast<uint64_t>(DTypeBits(d)) + 7) / 8;
  if (t.bytes().size() != expected) {
    return InvalidArgument("constant '{}': {} needs {} bytes, found {}", name, type.ToString(),
                           expected, t.bytes().size());
  }
  return Status::Ok();
}

}  // namespace

// ---- Value ----

// An invalid Value (after an error) answers with empty data instead of crashing.
const std::string& Value::name() const {
  static const std::string kNone;
  return fn_ ? fn_->values_[id_]->name : kNone;
}
const TensorType& Value::type() const {
  static const TensorType kNone;
  return fn_ ? fn_->values_[id_]->type : kNone;
}
bool Value::is_state() const { return fn_ && fn_->values_[id_]->is_state; }
const Tensor* Value::constant() const {
  if (!fn_) return nullptr;
  const auto& info = fn_->values_[id_];
  return info->inline_value ? &*info->inline_value : nullptr;
}
bool Value::is_compile_time_constant() const {
  if (!fn_) return false;
  const auto& info = fn_->values_[id_];
  return info->inline_value || info->blob_offset || info->is_constexpr;
}

// ---- Function ----

Function::Function(ProgramBuilder* program, std::string name, Opset opset)
    : program_(program), name_(std::move(name)), opset_(opset) {}

bool Function::failed() const { return !program_->status().ok(); }
void Function::Fail(Status s) { program_->Fail(std::move(s)); }

std::string Function::FreshName(const std::string& base) {
  std::string b;
  for (char c : base) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '@';
    b += ok ? c : '_';
  }
  if (b.empty() || (b[0] >= '0' && b[0] <= '9') || b[0] == '@') b = "_" + b;
  if (!used_names_.count(b)) return b;
  while (true) {
    std::string candidate = b + "_" + std::to_string(next_id_++);
    if (!used_names_.count(candidate)) return candidate;
  }
}

std::optional<std::string> Function::ClaimName(const std::string& name, const std::string& base) {
  std::string n = name.empty() ? FreshName(base) : name;
  if (!IsIdentifier(n)) {
    Fail(InvalidArgument("function '{}': name '{}' is not a valid MIL identifier "
                         "([A-Za-z_][A-Za-z0-9_@]*); rename it",
                         name_, n));
    return std::nullopt;
  }
  if (used_names_.count(n)) {
    Fail(InvalidArgument("function '{}': name '{}' is already used by another value or op; "
                         "names must be unique within a function",
                         name_, n));
    return std::nullopt;
  }
  used_names_.insert(n);
  return n;
}

int Function::AddValue(std::string name, TensorType type, bool is_state, int producer) {
  auto info = std::make_shared<ValueInfo>();
  info->name = std::move(name);
  info->type = std::move(type);
  info->is_state = is_state;
  info->producer = producer;
  values_.push_back(std::move(info));
  return static_cast<int>(values_.size()) - 1;
}

Value Function::Input(const std::string& name, TensorType type) {
  if (failed()) return Value();
  for (int64_t d : type.shape) {
    if (d <= 0) {
      Fail(InvalidArgument("function '{}': input '{}' has shape {}; every dimension must be > 0",
                           name_, name, type.ToString()));
      return Value();
    }
  }
  auto n = ClaimName(name, "input");
  if (!n) return Value();
  int id = AddValue(*n, std::move(type), false, -1);
  inputs_.push_back(id);
  return Value(this, id);
}

Value Function::StateInput(const std::string& name, std::vector<int64_t> shape) {
  Value v = Input(name, TensorType{DType::kFloat16, std::move(shape)});
  if (v.valid()) values_[v.id_]->is_state = true;
  return v;
}

Value Function::MakeConst(Tensor t, const std::string& name, const std::string& shared_key,
                          const std::function<Tensor()>* make) {
  if (failed()) return Value();
  auto n = ClaimName(name, shared_key.empty() ? "const" : shared_key);
  if (!n) return Value();
  auto op = std::make_shared<OpRecord>();
  op->type = "const";
  op->name = *n;
  auto info = std::make_shared<ValueInfo>();
  info->name = *n;
  info->producer = static_cast<int>(ops_.size());

  ProgramBuilder::SharedEntry* shared = nullptr;
  if (make) {
    auto it = program_->shared_.find(shared_key);
    if (it != program_->shared_.end()) shared = &it->second;
  }
  if (shared) {
    info->type = shared->type;
    info->blob_offset = shared->blob_offset;
    info->inline_value = shared->inline_value;
  } else {
    if (make) t = (*make)();
    Status s = CheckTensor(t, *n);
    if (!s.ok()) {
      Fail(s.WithContext(fmt::format("function '{}'", name_)));
      return Value();
    }
    info->type = t.type();
    if (StoreAsBlob(t.type().dtype, t.type().num_elements(), opset_)) {
      auto blob_dtype = BlobDTypeFor(t.type().dtype);
      if (!program_->blobs_ || !blob_dtype) {
        Fail(FailedPrecondition(
            "function '{}': constant '{}' ({}) must go to the weight file, but the "
            "ProgramBuilder has no BlobWriter; construct it with the package's weights()",
            name_, *n, t.type().ToString()));
        return Value();
      }
      auto offset = program_->blobs_->Add(*blob_dtype, t.bytes(),
                                          static_cast<uint64_t>(t.type().num_elements()));
      if (!offset.ok()) {
        Fail(offset.status().WithContext(fmt::format("function '{}', constant '{}'", name_, *n)));
        return Value();
      }
      info->blob_offset = *offset;
    } else {
      info->inline_value = std::move(t);
    }
    if (make) {
      program_->shared_[shared_key] = {info->type, info->blob_offset, info->inline_value};
    }
  }
  values_.push_back(info);
  int id = static_cast<int>(values_.size()) - 1;
  op->outputs.push_back(id);
  ops_.push_back(std::move(op));
  return Value(this, id);
}

Value Function::Const(Tensor t, const std::string& name) {
  return MakeConst(std::move(t), name, "", nullptr);
}

Value Function::SharedConst(const std::string& key, const std::function<Tensor()>& make,
                            const std::string& name) {
  if (key.empty()) {
    Fail(InvalidArgument("function '{}': SharedConst needs a non-empty key", name_));
    return Value();
  }
  return MakeConst(Tensor(), name, key, &make);
}

std::vector<Value> Function::AddOp(const std::string& type, std::vector<NamedArg> args,
                                   const std::string& name) {
  if (failed()) return {};
  const OpDef* def = OpRegistry::Get().Find(type);
  std::string shown = name.empty() ? "<unnamed>" : name;
  if (!def) {
    Fail(InvalidArgument("function '{}', op '{}': unknown op type '{}'; see "
                         "OpRegistry::Types() for the supported ones",
                         name_, shown, type));
    return {};
  }
  if (opset_ < def->min_opset) {
    Fail(InvalidArgument("function '{}', op '{}' ({}): needs opset {} or newer, the function "
                         "uses {}; raise the function's opset",
                         name_, shown, type, OpsetName(def->min_opset), OpsetName(opset_)));
    return {};
  }
  auto op_name = ClaimName(name, type);
  if (!op_name) return {};
  auto error = [&](const std::string& param, const std::string& msg) {
    Fail(InvalidArgument("function '{}', op '{}' ({}): input '{}': {}", name_, *op_name, type,
                         param, msg));
    return std::vector<Value>();
  };

  std::vector<std::pair<std::string, std::vector<Value>>> inputs;
  for (NamedArg& a : args) {
    const ParamSpec* spec = nullptr;
    std::string known;
    for (const ParamSpec& p : def->params) {
      if (p.name == a.param) spec = &p;
      known += (known.empty() ? "" : ", ") + p.name;
    }
    if (!spec) return error(a.param, fmt::format("unknown input; {} takes: {}", type, known));
    for (const auto& [p, v] : inputs) {
      if (p == a.param) return error(a.param, "given twice");
    }
    std::vector<Value> vals;
    if (auto* v = std::get_if<Value>(&a.arg)) {
      vals.push_back(*v);
    } else if (auto* vs = std::get_if<std::vector<Value>>(&a.arg)) {
      vals = *vs;
    } else {
      Value c = Const(std::move(std::get<Tensor>(a.arg)), FreshName(*op_name + "_" + a.param));
      if (!c.valid()) return {};
      vals.push_back(c);
    }
    if (vals.empty()) return error(a.param, "expected at least one value, found none");
    if (spec->kind != ParamKind::kTuple && vals.size() != 1) {
      return error(a.param, fmt::format("expected one value, found a tuple of {}", vals.size()));
    }
    for (const Value& v : vals) {
      if (!v.valid()) return error(a.param, "expected a valid value, found an invalid Value");
      if (v.fn_ != this) {
        return error(a.param, fmt::format("value '{}' belongs to function '{}'", v.name(),
                                          v.fn_->name()));
      }
      if (spec->kind == ParamKind::kState && !v.is_state()) {
        return error(a.param, fmt::format("expected a state input, found tensor '{}' {}",
                                          v.name(), v.type().ToString()));
      }
      if (spec->kind != ParamKind::kState && v.is_state()) {
        return error(a.param, fmt::format("expected a tensor, found state '{}'; read it with "
                                          "read_state first",
                                          v.name()));
      }
      if (spec->must_be_const && !v.is_compile_time_constant()) {
        return error(a.param, fmt::format("expected a compile-time constant, found '{}' {}",
                                          v.name(), v.type().ToString()));
      }
    }
    inputs.push_back({a.param, std::move(vals)});
  }
  for (const ParamSpec& p : def->params) {
    if (!p.required) continue;
    bool given = false;
    for (const auto& [q, v] : inputs) given |= q == p.name;
    if (!given) return error(p.name, "required input missing");
  }

  OpCall call(this, def, *op_name, &inputs);
  auto types = def->infer(call);
  if (failed()) return {};
  if (!types.ok()) {
    Fail(types.status());
    return {};
  }

  auto op = std::make_shared<OpRecord>();
  op->type = type;
  op->name = *op_name;
  int op_index = static_cast<int>(ops_.size());
  std::vector<Value> out;
  for (size_t i = 0; i < types->size(); ++i) {
    std::string vname = types->size() == 1 ? *op_name : FreshName(*op_name + "_" + std::to_string(i));
    if (types->size() != 1) used_names_.insert(vname);
    int id = AddValue(vname, (*types)[i], false, op_index);
    values_[id]->is_constexpr = def->is_constexpr;
    op->outputs.push_back(id);
    out.push_back(Value(this, id));
  }
  for (auto& [p, vals] : inputs) {
    std::vector<int> ids;
    for (const Value& v : vals) ids.push_back(v.id_);
    op->inputs.push_back({p, std::move(ids)});
  }
  ops_.push_back(std::move(op));
  return out;
}

Value Function::Op(const std::string& type, std::vector<NamedArg> args, const std::string& name) {
  std::vector<Value> out = AddOp(type, std::move(args), name);
  if (failed()) return Value();
  if (out.size() != 1) {
    Fail(InvalidArgument("function '{}', op '{}' ({}): has {} outputs; use AddOp", name_,
                         name.empty() ? type : name, type, out.size()));
    return Value();
  }
  return out[0];
}

void Function::Output(Value v, const std::string& name) {
  if (failed()) return;
  if (!v.valid() || v.fn_ != this) {
    Fail(InvalidArgument("function '{}': output '{}' is not a valid value of this function",
                         name_, name));
    return;
  }
  if (v.is_state()) {
    Fail(InvalidArgument("function '{}': output '{}' is state '{}'; states cannot be outputs",
                         name_, name, v.name()));
    return;
  }
  for (const auto& [n, id] : outputs_) {
    if (n == name) {
      Fail(InvalidArgument("function '{}': output name '{}' is used twice", name_, name));
      return;
    }
  }
  if (v.name() != name) {
    v = Op("identity", {{"x", v}}, name);
    if (!v.valid()) return;
  }
  outputs_.push_back({name, v.id_});
}

// ---- Convenience wrappers ----

Value Function::Add(Value x, Value y, const std::string& name) {
  return Op("add", {{"x", x}, {"y", y}}, name);
}
Value Function::Sub(Value x, Value y, const std::string& name) {
  return Op("sub", {{"x", x}, {"y", y}}, name);
}
Value Function::Mul(Value x, Value y, const std::string& name) {
  return Op("mul", {{"x", x}, {"y", y}}, name);
}
Value Function::RealDiv(Value x, Value y, const std::string& name) {
  return Op("real_div", {{"x", x}, {"y", y}}, name);
}
Value Function::Cast(Value x, DType to, const std::string& name) {
  return Op("cast", {{"x", x}, {"dtype", Tensor::ScalarString(std::string(DTypeName(to)))}}, name);
}
Value Function::Reshape(Value x, std::vector<int64_t> shape, const std::string& name) {
  std::vector<int32_t> s(shape.begin(), shape.end());
  int64_t rank = static_cast<int64_t>(s.size());
  return Op("reshape", {{"x", x}, {"shape", Tensor::I32({rank}, s)}}, name);
}
Value Function::Transpose(Value x, std::vector<int64_t> perm, const std::string& name) {
  std::vector<int32_t> p(perm.begin(), perm.end());
  int64_t rank = static_cast<int64_t>(p.size());
  return Op("transpose", {{"x", x}, {"perm", Tensor::I32({rank}, p)}}, name);
}
Value Function::Concat(std::vector<Value> xs, int64_t axis, const std::string& name) {
  return Op("concat",
            {{"values", std::move(xs)}, {"axis", Tensor::ScalarI32(static_cast<int32_t>(axis))}},
            name);
}
Value Function::Conv(Value x, Value weight, std::optional<Value> bias, const std::string& name) {
  std::vector<NamedArg> args = {{"x", x}, {"weight", weight}};
  if (bias) args.push_back({"bias", *bias});
  return Op("conv", std::move(args), name);
}
Value Function::MatMul(Value x, Value y, bool transpose_x, bool transpose_y,
                       const std::string& name) {
  return Op("matmul",
            {{"x", x},
             {"y", y},
             {"transpose_x", Tensor::ScalarBool(transpose_x)},
             {"transpose_y", Tensor::ScalarBool(transpose_y)}},
            name);
}
Value Function::Softmax(Value x, int64_t axis, const std::string& name) {
  return Op("softmax", {{"x", x}, {"axis", Tensor::ScalarI32(static_cast<int32_t>(axis))}}, name);
}

// ---- ProgramBuilder ----

ProgramBuilder::ProgramBuilder(coreml::BlobWriter* blobs) : blobs_(blobs) {}
ProgramBuilder::~ProgramBuilder() = default;

Function* ProgramBuilder::AddFunction(const std::string& name, Opset opset) {
  if (!IsIdentifier(name)) {
    Fail(InvalidArgument("function name '{}' is not a valid MIL identifier", name));
  } else if (function(name)) {
    Fail(InvalidArgument("function '{}' is added twice; function names must be unique", name));
  }
  functions_.push_back(std::unique_ptr<Function>(new Function(this, name, opset)));
  return functions_.back().get();
}

Function* ProgramBuilder::function(const std::string& name) {
  for (auto& f : functions_) {
    if (f->name() == name) return f.get();
  }
  return nullptr;
}

void ProgramBuilder::Fail(Status s) {
  if (status_.ok() && !s.ok()) status_ = std::move(s);
}

}  // namespace anec::mil
