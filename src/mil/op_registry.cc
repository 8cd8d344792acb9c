#include "mil/op_registry.h"

#include "mil/function_internal.h"

namespace anec::mil {

const OpRegistry& OpRegistry::Get() {
  static const OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    RegisterElementwiseOps(*r);
    RegisterLinearOps(*r);
    RegisterShapeOps(*r);
    RegisterReductionOps(*r);
    RegisterStateOps(*r);
    RegisterConstexprOps(*r);
    RegisterTensorOps(*r);
    return r;
  }();
  return *registry;
}

void OpRegistry::Register(OpDef def) {
  std::string type = def.type;
  ops_[type] = std::move(def);
}

const OpDef* OpRegistry::Find(const std::string& type) const {
  auto it = ops_.find(type);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : ops_) out.push_back(k);
  return out;
}

// ---- OpCall ----

bool OpCall::Has(const std::string& param) const {
  for (const auto& [p, v] : *inputs_) {
    if (p == param) return true;
  }
  return false;
}

Value OpCall::In(const std::string& param) const {
  for (const auto& [p, v] : *inputs_) {
    if (p == param && !v.empty()) return v[0];
  }
  return Value();
}

std::vector<Value> OpCall::Tuple(const std::string& param) const {
  for (const auto& [p, v] : *inputs_) {
    if (p == param) return v;
  }
  return {};
}

void OpCall::Default(const std::string& param, Tensor value) {
  if (Has(param)) return;
  Value v = fn_->Const(std::move(value), fn_->FreshName(name_ + "_" + param));
  if (v.valid()) inputs_->push_back({param, {v}});
}

Status OpCall::Error(const std::string& param, const std::string& message) const {
  return InvalidArgument("function '{}', op '{}' ({}): input '{}': {}", fn_->name(), name_,
                         def_->type, param, message);
}

Status OpCall::ExpectDType(const std::string& param, std::initializer_list<DType> allowed) const {
  Value v = In(param);
  if (!v.valid()) return Status::Ok();
  for (DType d : allowed) {
    if (v.type().dtype == d) return Status::Ok();
  }
  return Error(param, fmt::format("expected dtype {}, found {}", DTypeList(allowed),
                                  v.type().ToString()));
}

Status OpCall::SameDType(const std::string& param, const std::string& like) const {
  Value v = In(param), w = In(like);
  if (!v.valid() || !w.valid() || v.type().dtype == w.type().dtype) return Status::Ok();
  return Error(param, fmt::format("expected dtype {} (same as '{}'), found {}",
                                  DTypeName(w.type().dtype), like, v.type().ToString()));
}

Status OpCall::ExpectRank(const std::string& param, size_t rank) const {
  Value v = In(param);
  if (!v.valid() || v.type().shape.size() == rank) return Status::Ok();
  return Error(param, fmt::format("expected rank {}, found {}", rank, v.type().ToString()));
}

Result<const Tensor*> OpCall::Const(const std::string& param) const {
  Value v = In(param);
  if (!v.valid()) return Error(param, "expected a constant, found nothing (missing input)");
  const Tensor* t = v.constant();
  if (!t) {
    return Error(param, fmt::format("expected a small constant (const op), found value '{}' {}",
                                    v.name(), v.type().ToString()));
  }
  return t;
}

Result<std::vector<int64_t>> OpCall::Ints(const std::string& param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* t, Const(param));
  DType d = t->type().dtype;
  if (IsFloat(d) || d == DType::kString || d == DType::kBool) {
    return Error(param, fmt::format("expected an integer constant, found {}", t->type().ToString()));
  }
  return t->AsInts();
}

Result<int64_t> OpCall::Int(const std::string& param) const {
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> v, Ints(param));
  if (In(param).type().shape.size() != 0 || v.size() != 1) {
    return Error(param, fmt::format("expected a scalar, found {}", In(param).type().ToString()));
  }
  return v[0];
}

Result<std::vector<bool>> OpCall::Bools(const std::string& param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* t, Const(param));
  if (t->type().dtype != DType::kBool) {
    return Error(param, fmt::format("expected a bool constant, found {}", t->type().ToString()));
  }
  std::vector<bool> out;
  for (int64_t x : t->AsInts()) out.push_back(x != 0);
  return out;
}

Result<bool> OpCall::Bool(const std::string& param) const {
  ANEC_ASSIGN_OR_RETURN(std::vector<bool> v, Bools(param));
  if (In(param).type().shape.size() != 0 || v.size() != 1) {
    return Error(param, fmt::format("expected a scalar, found {}", In(param).type().ToString()));
  }
  return static_cast<bool>(v[0]);
}

Result<double> OpCall::Double(const std::string& param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* t, Const(param));
  std::vector<double> v = t->AsDoubles();
  if (t->type().shape.size() != 0 || v.size() != 1) {
    return Error(param, fmt::format("expected a scalar, found {}", t->type().ToString()));
  }
  return v[0];
}

Result<std::string> OpCall::String(const std::string& param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* t, Const(param));
  if (t->type().dtype != DType::kString || t->strings().size() != 1 ||
      !t->type().shape.empty()) {
    return Error(param, fmt::format("expected a scalar string, found {}", t->type().ToString()));
  }
  return t->strings()[0];
}

// ---- helpers ----

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  // Appended piece by piece: GCC 12 -O3 warns falsely (-Wrestrict) on `const char* + string`.
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string DTypeList(std::initializer_list<DType> dtypes) {
  std::string s;
  for (DType d : dtypes) {
    if (!s.empty()) s += '|';
    s += DTypeName(d);
  }
  return s;
}

std::optional<std::vector<int64_t>> BroadcastShapes(const std::vector<int64_t>& a,
                                                    const std::vector<int64_t>& b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::optional<int64_t> NormalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

}  // namespace anec::mil
