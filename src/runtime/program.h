// A Core ML mlProgram loaded for execution: every function's inputs, its ops in order with their
// argument bindings resolved to value slots, and all constants (const and constexpr_* ops)
// decoded once at load time. Loading validates what can be checked without running: unknown op
// types, bindings to undefined names, constant values against their declared types.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "coreml/blob_file.h"
#include "coreml/proto/model.pb.h"
#include "runtime/const_value.h"
#include "runtime/tensor.h"

namespace anec::runtime {

class OpContext;
using KernelFn = Status (*)(OpContext&);

// One binding of an op input: a value slot filled at run time, or a constant.
struct Arg {
  int slot = -1;  // >= 0: env slot
  Tensor constant;
  // The const (or constexpr op output) the binding names, when it names one; "" for inline
  // values. Calibration (calib/activation_stats.h) finds each weight by it.
  std::string constant_name;
};

struct CompiledOp {
  std::string type, name;
  KernelFn kernel = nullptr;
  std::vector<std::pair<std::string, std::vector<Arg>>> inputs;  // param name -> bindings
  std::vector<ValueSpec> outputs;
  std::vector<int> output_slots;
  std::vector<int> release;  // slots no longer needed after this op
  // slice_update whose result goes to write_state of the state it read, with no other reader
  // in between: may update the state buffer in place (see interpreter.cc).
  bool in_place_state_update = false;
};

struct CompiledFunction {
  std::string name;
  std::string package;            // for error messages
  std::vector<ValueSpec> inputs;  // declared inputs (tensors and states)
  std::vector<int> input_slots;
  std::vector<CompiledOp> ops;
  std::vector<std::string> output_names;
  std::vector<Arg> outputs;
  int num_slots = 0;

  const ValueSpec* FindInput(std::string_view name) const;
};

class Program {
 public:
  // `name` names the package in errors. `source.keep_alive` must own `model` and the weights.
  static Result<std::shared_ptr<const Program>> Load(const CoreML::Specification::Model& model,
                                                     const ValueSource& source, std::string name);

  const std::string& name() const { return name_; }
  // Null when there is no such function.
  const CompiledFunction* Find(std::string_view function) const;
  std::vector<std::string> function_names() const;
  const CoreML::Specification::ModelDescription& description() const { return description_; }
  // Bytes of constants kept compressed (LUT) and dense, for reporting.
  uint64_t constant_bytes() const { return constant_bytes_; }

 private:
  std::string name_;
  std::map<std::string, CompiledFunction, std::less<>> functions_;
  CoreML::Specification::ModelDescription description_;
  uint64_t constant_bytes_ = 0;
};

// The kernel for an op type, or null.
KernelFn FindKernel(std::string_view type);

}  // namespace anec::runtime
