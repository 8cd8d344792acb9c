// Runs one function of a loaded Program on the CPU.
//
// States: the caller owns one fp16 buffer per state name (a StateStore) and passes the same
// store to every call of every function and chunk that declares the state, as ANEMLL's runtime
// does with Core ML's MLState. Calls on one store must not run concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/status.h"
#include "runtime/op_context.h"
#include "runtime/program.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

namespace anec::runtime {

using NamedTensors = std::map<std::string, Tensor, std::less<>>;

// Binds `inputs` (every non-state input of `fn`, dtype and known dims checked), runs the ops in
// order and returns the block outputs by name. Errors name the package, function and op.
// `pool` may be null (single thread).
Result<NamedTensors> RunFunction(const CompiledFunction& fn, const NamedTensors& inputs,
                                 StateStore* states, ThreadPool* pool);

// Adds a zero-filled buffer to `states` for every state `fn` declares that is not there yet;
// checks the existing ones have the declared dtype and shape.
Status PrepareStates(const CompiledFunction& fn, StateStore* states);

// Wall time per op type, summed over every RunFunction call while installed (runtime_bench
// --profile). Not thread-safe: install it only while one thread runs functions.
struct OpProfile {
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  std::map<std::string, Entry, std::less<>> by_type;
};
// Installs `profile` (null: none, the default) for later calls.
void SetOpProfile(OpProfile* profile);

// Sees every op just before it runs, with its bound inputs (calibration statistics,
// calib/activation_stats.h). Process-wide and not thread-safe, like OpProfile: install it only
// while one thread runs functions.
class OpObserver {
 public:
  virtual ~OpObserver() = default;
  virtual void BeforeOp(const CompiledOp& op, const OpContext& ctx) = 0;
  // After the op's kernel succeeded, before its outputs are checked against their declared types
  // and bound: an observer may replace an output with another of the same shape and dtype (a
  // what-if perturbation, calib/loss_sensitivity.h). The default does nothing.
  virtual void AfterOp(const CompiledOp& op, OpContext& ctx) {
    (void)op;
    (void)ctx;
  }
};
// Installs `observer` (null: none, the default) for later calls.
void SetOpObserver(OpObserver* observer);

// Installs an observer for a scope (the observer is process-wide) and removes it at the end.
class ScopedOpObserver {
 public:
  explicit ScopedOpObserver(OpObserver* o) { SetOpObserver(o); }
  ~ScopedOpObserver() { SetOpObserver(nullptr); }
  ScopedOpObserver(const ScopedOpObserver&) = delete;
  ScopedOpObserver& operator=(const ScopedOpObserver&) = delete;
};

}  // namespace anec::runtime
