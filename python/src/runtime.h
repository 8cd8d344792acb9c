// The Core ML-like part of the package: a loaded .mlpackage (Package) whose functions run on
// the CPU runtime with numpy inputs and outputs, and the state buffers (State) stateful functions
// read and write, as coremltools' MLModel.predict / make_state do on a Mac.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace anec::python {

// Caller-owned state buffers (runtime::StateStore) by name. One State may be passed to every
// function and chunk that declares the states, as ANEMLL's runtime passes one MLState.
class State {
 public:
  std::mutex mu;  // held while a function runs on the buffers
  runtime::StateStore store;
};

class Package {
 public:
  // Loads `path` (a .mlpackage folder); the weights are mapped, not copied.
  static std::unique_ptr<Package> Open(const std::string& path);
  explicit Package(std::shared_ptr<const runtime::Program> program)
      : program_(std::move(program)) {}

  const runtime::Program& program() const { return *program_; }
  std::vector<std::string> functions() const { return program_->function_names(); }
  // The package's default function (its description's, else "main", else the only one); ""
  // when there is none.
  std::string default_function() const;
  // Errors list the package's functions.
  Result<const runtime::CompiledFunction*> Function(const std::string& name) const;
  // A State with zero buffers for every state the package's functions declare.
  Result<std::unique_ptr<State>> MakeState() const;
  // Runs `function` on numpy `inputs` (a dict) with `state` (may be null). Needs the GIL;
  // releases it while the function runs.
  nanobind::dict Predict(const std::string& function, nanobind::dict inputs, State* state);

 private:
  std::shared_ptr<const runtime::Program> program_;
  std::mutex mu_;  // one call at a time per package
};

// {"inputs": [(name, dtype, shape)], "states": [...], "outputs": [name, ...]}; dtype in MIL
// spelling ("fp16", "int32"), -1 for a dimension of unknown size.
nanobind::dict DescribeFunction(const runtime::CompiledFunction& fn);

}  // namespace anec::python
