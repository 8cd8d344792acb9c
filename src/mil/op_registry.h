// The MIL op registry: for each op type, its parameters and a type/shape inference function.
//
// Facts (parameter names, which are required or must be compile-time constants, allowed dtypes)
// follow the MIL op definitions of the iOS15..iOS18 opsets; each op resolves to the definition at
// or below its function's opset. Optional parameters are given their default explicitly (as const
// inputs), as coremltools does, so the written program never relies on implicit defaults.
//
// Errors name the function, the op, its type, the input parameter, what was expected and what was
// found: "function 'main', op 'q_proj' (conv): input 'weight': expected fp16 like 'x', found fp32".
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "mil/program_builder.h"

namespace anec::mil {

enum class ParamKind {
  kTensor,  // one tensor value
  kTuple,   // one or more tensor values (concat.values)
  kState,   // a state function input (read_state.input, write_state.input)
};

struct ParamSpec {
  std::string name;
  bool required = true;
  bool must_be_const = false;  // a const or constexpr_* output
  ParamKind kind = ParamKind::kTensor;
};

class OpCall;
using InferFn = std::function<Result<std::vector<TensorType>>(OpCall&)>;

struct OpDef {
  std::string type;
  Opset min_opset = Opset::kIOS16;
  std::vector<ParamSpec> params;
  InferFn infer;
  bool is_constexpr = false;  // constexpr_*: inputs serialized inline, output is compile-time
};

class OpRegistry {
 public:
  static const OpRegistry& Get();  // every op family registered
  void Register(OpDef def);
  const OpDef* Find(const std::string& type) const;
  std::vector<std::string> Types() const;

 private:
  std::map<std::string, OpDef> ops_;
};

// Registration functions, one per op family (ops_*.cc).
void RegisterElementwiseOps(OpRegistry& r);
void RegisterLinearOps(OpRegistry& r);
void RegisterShapeOps(OpRegistry& r);
void RegisterReductionOps(OpRegistry& r);
void RegisterStateOps(OpRegistry& r);
void RegisterConstexprOps(OpRegistry& r);
void RegisterTensorOps(OpRegistry& r);

// What an inference function sees of the op being added.
class OpCall {
 public:
  OpCall(Function* fn, const OpDef* def, std::string name,
         std::vector<std::pair<std::string, std::vector<Value>>>* inputs)
      : fn_(fn), def_(def), name_(std::move(name)), inputs_(inputs) {}

  const std::string& type() const { return def_->type; }
  const std::string& name() const { return name_; }
  Opset opset() const { return fn_->opset(); }

  bool Has(const std::string& param) const;
  Value In(const std::string& param) const;  // invalid Value when absent
  std::vector<Value> Tuple(const std::string& param) const;
  // Adds `value` as a const input when `param` was not given (optional params made explicit).
  void Default(const std::string& param, Tensor value);

  // An InvalidArgument naming function, op, type and input.
  Status Error(const std::string& param, const std::string& message) const;
  // Checks the dtype of `param` (when present) is one of `allowed`.
  Status ExpectDType(const std::string& param, std::initializer_list<DType> allowed) const;
  // Checks `param` (when present) has the same dtype as `like`.
  Status SameDType(const std::string& param, const std::string& like) const;
  Status ExpectRank(const std::string& param, size_t rank) const;
  // Values of an inline const input (REQUIRES: a small constant; errors otherwise).
  Result<std::vector<int64_t>> Ints(const std::string& param) const;
  Result<int64_t> Int(const std::string& param) const;
  Result<bool> Bool(const std::string& param) const;
  Result<std::vector<bool>> Bools(const std::string& param) const;
  Result<double> Double(const std::string& param) const;
  Result<std::string> String(const std::string& param) const;

 private:
  Result<const Tensor*> Const(const std::string& param) const;
  Function* fn_;
  const OpDef* def_;
  std::string name_;
  std::vector<std::pair<std::string, std::vector<Value>>>* inputs_;
};

// Shared inference helpers.
std::string ShapeString(const std::vector<int64_t>& shape);
std::string DTypeList(std::initializer_list<DType> dtypes);
// Numpy broadcasting of two shapes; nullopt when incompatible.
std::optional<std::vector<int64_t>> BroadcastShapes(const std::vector<int64_t>& a,
                                                    const std::vector<int64_t>& b);
// Normalizes a possibly negative axis into [0, rank); nullopt when out of range.
std::optional<int64_t> NormalizeAxis(int64_t axis, int64_t rank);

}  // namespace anec::mil
