#include "runtime/op_context.h"

#include <algorithm>

#include "runtime/lut_weight.h"

namespace anec::runtime {

const std::vector<Arg>* OpContext::Find(std::string_view param) const {
  for (const auto& [name, args] : op_.inputs) {
    if (name == param) return &args;
  }
  return nullptr;
}

Result<const Tensor*> OpContext::Bound(std::string_view param) const {
  const std::vector<Arg>* args = Find(param);
  if (args == nullptr) return InvalidArgument("required input '{}' is not bound", param);
  if (args->size() != 1) {
    return InvalidArgument("input '{}' must have exactly one binding, found {}", param,
                           args->size());
  }
  const Arg& a = (*args)[0];
  const Tensor& t = a.slot >= 0 ? (*env_)[static_cast<size_t>(a.slot)] : a.constant;
  if (!t.defined()) return Internal("input '{}' has no value at run time", param);
  return &t;
}

Result<Tensor> OpContext::Single(std::string_view param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* t, Bound(param));
  return *t;
}

Result<const Tensor*> OpContext::Param(std::string_view param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* t, Bound(param));
  if (t->is_lut()) {
    return InvalidArgument(
        "input '{}' is a constexpr_lut_to_dense output; a parameter must be a plain const (the "
        "model is malformed: convert it again)",
        param);
  }
  return t;
}

Result<Tensor> OpContext::RawInput(std::string_view param) const { return Single(param); }

Result<Tensor> OpContext::Input(std::string_view param) const {
  ANEC_ASSIGN_OR_RETURN(Tensor t, Single(param));
  if (t.is_lut()) return t.lut()->Dense();
  return t;
}

Result<Tensor> OpContext::OptionalInput(std::string_view param) const {
  if (!Has(param)) return Tensor();
  return Input(param);
}

Result<std::vector<Tensor>> OpContext::InputList(std::string_view param) const {
  const std::vector<Arg>* args = Find(param);
  if (args == nullptr) return InvalidArgument("required input '{}' is not bound", param);
  std::vector<Tensor> out;
  for (const Arg& a : *args) {
    const Tensor& t = a.slot >= 0 ? (*env_)[static_cast<size_t>(a.slot)] : a.constant;
    if (!t.defined()) return Internal("input '{}' has no value at run time", param);
    out.push_back(t.is_lut() ? t.lut()->Dense() : t);
  }
  return out;
}

Result<Tensor> OpContext::TakeInput(std::string_view param) {
  const std::vector<Arg>* args = Find(param);
  if (args != nullptr && args->size() == 1 && (*args)[0].slot >= 0) {
    int slot = (*args)[0].slot;
    int uses = 0;
    for (const auto& [name, bound] : op_.inputs) {
      for (const Arg& a : bound) uses += a.slot == slot;
    }
    bool dies_here = std::find(op_.release.begin(), op_.release.end(), slot) != op_.release.end();
    Tensor& t = (*env_)[static_cast<size_t>(slot)];
    if (uses == 1 && dies_here && t.defined() && !t.is_lut()) return std::move(t);
  }
  return Input(param);
}

Result<std::string> OpContext::StateName(std::string_view param) const {
  const std::vector<Arg>* args = Find(param);
  if (args == nullptr || args->size() != 1 || (*args)[0].slot < 0) {
    return InvalidArgument("input '{}' must bind a state input of the function", param);
  }
  int slot = (*args)[0].slot;
  for (size_t i = 0; i < fn_.inputs.size(); ++i) {
    if (fn_.input_slots[i] == slot && fn_.inputs[i].is_state) return fn_.inputs[i].name;
  }
  return InvalidArgument("input '{}' must bind a state input of the function", param);
}

Result<int64_t> OpContext::Int(std::string_view param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* p, Param(param));
  const Tensor& t = *p;
  if (t.size() != 1 || t.dtype() == DType::kString) {
    return InvalidArgument("input '{}' must be an integer scalar, found {}", param, t.TypeString());
  }
  return t.IntAt(0);
}
Result<int64_t> OpContext::IntOr(std::string_view param, int64_t def) const {
  return Has(param) ? Int(param) : Result<int64_t>(def);
}

Result<float> OpContext::Float(std::string_view param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* p, Param(param));
  const Tensor& t = *p;
  if (t.size() != 1 || t.dtype() == DType::kString) {
    return InvalidArgument("input '{}' must be a numeric scalar, found {}", param, t.TypeString());
  }
  return t.FloatAt(0);
}
Result<float> OpContext::FloatOr(std::string_view param, float def) const {
  return Has(param) ? Float(param) : Result<float>(def);
}

Result<bool> OpContext::BoolOr(std::string_view param, bool def) const {
  if (!Has(param)) return def;
  ANEC_ASSIGN_OR_RETURN(const Tensor* p, Param(param));
  const Tensor& t = *p;
  if (t.size() != 1 || t.dtype() == DType::kString) {
    return InvalidArgument("input '{}' must be a bool scalar, found {}", param, t.TypeString());
  }
  return t.IntAt(0) != 0;
}

Result<std::vector<int64_t>> OpContext::Ints(std::string_view param) const {
  ANEC_ASSIGN_OR_RETURN(const Tensor* p, Param(param));
  const Tensor& t = *p;
  if (t.rank() > 1 || t.dtype() == DType::kString || IsFloat(t.dtype())) {
    return InvalidArgument("input '{}' must be an integer vector, found {}", param,
                           t.TypeString());
  }
  return t.ToInts();
}

Result<std::optional<std::vector<int64_t>>> OpContext::OptionalInts(std::string_view param) const {
  if (!Has(param)) return std::optional<std::vector<int64_t>>();
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> v, Ints(param));
  return std::optional<std::vector<int64_t>>(std::move(v));
}

Result<std::vector<bool>> OpContext::BoolsOr(std::string_view param, size_t n, bool def) const {
  if (!Has(param)) return std::vector<bool>(n, def);
  ANEC_ASSIGN_OR_RETURN(const Tensor* p, Param(param));
  const Tensor& t = *p;
  if (static_cast<size_t>(t.size()) != n || t.dtype() == DType::kString) {
    return InvalidArgument("input '{}' must hold {} bools, found {}", param, n, t.TypeString());
  }
  std::vector<bool> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = t.IntAt(static_cast<int64_t>(i)) != 0;
  return out;
}

Result<std::string> OpContext::StringOr(std::string_view param, std::string def) const {
  if (!Has(param)) return def;
  ANEC_ASSIGN_OR_RETURN(const Tensor* p, Param(param));
  const Tensor& t = *p;
  if (t.dtype() != DType::kString || t.size() != 1) {
    return InvalidArgument("input '{}' must be a string scalar, found {}", param, t.TypeString());
  }
  return t.strings()[0];
}

}  // namespace anec::runtime
