#include "runtime/interpreter.h"

#include <chrono>

#include "runtime/lut_weight.h"

namespace anec::runtime {
namespace {
OpProfile* g_profile = nullptr;

void PrefetchLines(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b);
}

// Asks for the cache lines an op's bookkeeping reads: the op, its bindings, its constants' shapes
// and first values, its output declarations. Decode streams all the weights once per token, so
// by the next token these lines are gone; a kernel that reads them cold stalls on each in turn
// (SmolLM2 LUT6 decode, ~2,000 ops per token: 67 -> 75 tok/s with this, docs/RUNTIME.md
// "Per-op costs"). Called for the op after next while the current one runs.
void PrefetchOp(const CompiledOp& op) {
  PrefetchLines(&op, sizeof(CompiledOp));
  PrefetchLines(op.inputs.data(), op.inputs.size() * sizeof(op.inputs[0]));
  for (const auto& binding : op.inputs) {
    const std::vector<Arg>& args = binding.second;
    PrefetchLines(args.data(), args.size() * sizeof(Arg));
    for (const Arg& a : args) {
      if (a.slot >= 0 || !a.constant.defined() || a.constant.is_lut()) continue;
      __builtin_prefetch(a.constant.shape().data());
      __builtin_prefetch(a.constant.bytes());
    }
  }
  PrefetchLines(op.outputs.data(), op.outputs.size() * sizeof(ValueSpec));
  for (const ValueSpec& v : op.outputs) __builtin_prefetch(v.dims.data());
  __builtin_prefetch(op.output_slots.data());
  __builtin_prefetch(op.release.data());
}
}  // namespace

void SetOpProfile(OpProfile* profile) { g_profile = profile; }

OpObserver* g_observer = nullptr;
void SetOpObserver(OpObserver* observer) { g_observer = observer; }

Status PrepareStates(const CompiledFunction& fn, StateStore* states) {
  for (const ValueSpec& in : fn.inputs) {
    if (!in.is_state) continue;
    auto it = states->find(in.name);
    if (it == states->end()) {
      for (int64_t d : in.dims) {
        if (d < 0)
          return InvalidArgument("{}: state '{}' has an unknown dimension", fn.package, in.name);
      }
      states->emplace(in.name, Tensor::Zeros(in.dtype, Shape(in.dims.begin(), in.dims.end())));
    } else if (!in.Matches(it->second)) {
      return InvalidArgument("{}: function '{}' declares state '{}' as {} but the buffer is {}",
                             fn.package, fn.name, in.name, in.TypeString(),
                             it->second.TypeString());
    }
  }
  return Status::Ok();
}

Result<NamedTensors> RunFunction(const CompiledFunction& fn, const NamedTensors& inputs,
                                 StateStore* states, ThreadPool* pool) {
  std::vector<Tensor> env(static_cast<size_t>(fn.num_slots));
  for (size_t i = 0; i < fn.inputs.size(); ++i) {
    const ValueSpec& spec = fn.inputs[i];
    if (spec.is_state) {
      if (states == nullptr) {
        return InvalidArgument("{}: function '{}' needs state '{}' but no state store was given",
                               fn.package, fn.name, spec.name);
      }
      auto it = states->find(spec.name);
      if (it == states->end() || !spec.Matches(it->second)) {
        return InvalidArgument("{}: function '{}' state '{}' ({}) is {}", fn.package, fn.name,
                               spec.name, spec.TypeString(),
                               it == states->end() ? "missing" : it->second.TypeString());
      }
      continue;  // read through read_state / write_state by name
    }
    auto it = inputs.find(spec.name);
    if (it == inputs.end()) {
      return InvalidArgument("{}: function '{}' input '{}' ({}) was not given", fn.package, fn.name,
                             spec.name, spec.TypeString());
    }
    if (!spec.Matches(it->second)) {
      return InvalidArgument("{}: function '{}' input '{}' must be {}, got {}", fn.package, fn.name,
                             spec.name, spec.TypeString(), it->second.TypeString());
    }
    env[static_cast<size_t>(fn.input_slots[i])] = it->second;
  }
  for (const auto& [name, t] : inputs) {
    if (fn.FindInput(name) == nullptr) {
      return InvalidArgument("{}: function '{}' has no input named '{}'", fn.package, fn.name,
                             name);
    }
  }
  for (size_t i = 0; i < fn.ops.size(); ++i) {
    const CompiledOp& op = fn.ops[i];
    // Two ops ahead (1, 2, 4 and 8 ran the same): the next op's lines were asked for one op ago.
    if (i == 0 && fn.ops.size() > 1) PrefetchOp(fn.ops[1]);
    if (i + 2 < fn.ops.size()) PrefetchOp(fn.ops[i + 2]);
    OpContext ctx(fn, op, &env, states, pool);
    if (g_observer != nullptr) g_observer->BeforeOp(op, ctx);
    std::chrono::steady_clock::time_point start;
    if (g_profile != nullptr) start = std::chrono::steady_clock::now();
    Status s = op.kernel(ctx);
    if (g_profile != nullptr) {
      auto it = g_profile->by_type.find(op.type);
      if (it == g_profile->by_type.end())
        it = g_profile->by_type.emplace(op.type, OpProfile::Entry{}).first;
      it->second.calls++;
      it->second.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    auto where = [&] {
      return fmt::format("{}: function '{}': op '{}' ({})", fn.package, fn.name, op.name, op.type);
    };
    if (!s.ok()) return s.WithContext(where());
    if (g_observer != nullptr) g_observer->AfterOp(op, ctx);
    if (ctx.outputs().size() != op.outputs.size()) {
      return Internal("{}: produced {} outputs, {} declared", where(), ctx.outputs().size(),
                      op.outputs.size());
    }
    for (size_t k = 0; k < op.outputs.size(); ++k) {
      Tensor& t = ctx.outputs()[k];
      if (!op.outputs[k].Matches(t)) {
        return InvalidArgument("{}: output '{}' is declared {} but computes {}", where(),
                               op.outputs[k].name, op.outputs[k].TypeString(), t.TypeString());
      }
      env[static_cast<size_t>(op.output_slots[k])] = std::move(t);
    }
    for (int slot : op.release) env[static_cast<size_t>(slot)] = Tensor();
  }
  NamedTensors out;
  for (size_t i = 0; i < fn.outputs.size(); ++i) {
    const Arg& a = fn.outputs[i];
    Tensor t = a.slot >= 0 ? env[static_cast<size_t>(a.slot)] : a.constant;
    if (t.is_lut()) t = t.lut()->Dense();
    out[fn.output_names[i]] = std::move(t);
  }
  return out;
}

}  // namespace anec::runtime
