// What a kernel sees while running one op: its inputs by MIL parameter name, typed parameter
// readers with defaults, the caller's state buffers, the thread pool, and its outputs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/program.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

namespace anec::runtime {

// Caller-owned state buffers (fp16), by state name; shared by every call and function.
using StateStore = std::map<std::string, Tensor, std::less<>>;

class OpContext {
 public:
  OpContext(const CompiledFunction& fn, const CompiledOp& op, std::vector<Tensor>* env,
            StateStore* states, ThreadPool* pool)
      : fn_(fn), op_(op), env_(env), states_(states), pool_(pool) {}

  const CompiledOp& op() const { return op_; }
  StateStore* states() { return states_; }
  ThreadPool* pool() { return pool_; }

  bool Has(std::string_view param) const { return Find(param) != nullptr; }
  // Required single input, dense (a compressed LUT constant is expanded).
  Result<Tensor> Input(std::string_view param) const;
  // As Input, but an undefined Tensor when the op does not bind `param`.
  Result<Tensor> OptionalInput(std::string_view param) const;
  // Required single input as bound: LUT constants stay compressed (for weight paths).
  Result<Tensor> RawInput(std::string_view param) const;
  // Every binding of a tuple input (concat.values).
  Result<std::vector<Tensor>> InputList(std::string_view param) const;
  // Like Input, but moves the value out of its slot when this op is its last user, so the
  // kernel may own the only reference.
  Result<Tensor> TakeInput(std::string_view param);

  Result<int64_t> Int(std::string_view param) const;
  Result<int64_t> IntOr(std::string_view param, int64_t def) const;
  Result<float> Float(std::string_view param) const;
  Result<float> FloatOr(std::string_view param, float def) const;
  Result<bool> BoolOr(std::string_view param, bool def) const;
  Result<std::vector<int64_t>> Ints(std::string_view param) const;
  Result<std::optional<std::vector<int64_t>>> OptionalInts(std::string_view param) const;
  // n values, all `def` when absent.
  Result<std::vector<bool>> BoolsOr(std::string_view param, size_t n, bool def) const;
  Result<std::string> StringOr(std::string_view param, std::string def) const;

  // The state (function input of state type) that `param` binds; its buffer is
  // (*states())[name].
  Result<std::string> StateName(std::string_view param) const;

  std::vector<Tensor>& outputs() { return outputs_; }
  void AddOutput(Tensor t) { outputs_.push_back(std::move(t)); }

 private:
  const std::vector<Arg>* Find(std::string_view param) const;
  // The value bound to a single-binding input, in place.
  Result<const Tensor*> Bound(std::string_view param) const;
  Result<Tensor> Single(std::string_view param) const;
  // The bound value of a parameter read by the typed readers (Int, Ints, ...), without copying
  // the tensor: a copy touches its shape and reference count, cache lines that decode has
  // evicted by the next token (docs/RUNTIME.md, "Per-op costs").
  Result<const Tensor*> Param(std::string_view param) const;

  const CompiledFunction& fn_;
  const CompiledOp& op_;
  std::vector<Tensor>* env_;
  StateStore* states_;
  ThreadPool* pool_;
  std::vector<Tensor> outputs_;
};

}  // namespace anec::runtime
