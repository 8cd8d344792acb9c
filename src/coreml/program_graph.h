// ProgramGraph: a read-only dataflow index of one function of a written MIL program (the
// protobuf as it is on disk), for static checks such as ane_rules.h.
//
// It flattens the function's block and every nested block into one op list in program order and
// records, per value name: its type, the op that produces it, the ops (and op parameters) that
// read it, and whether it is a compile-time constant. A value is constant when a `const` or
// `constexpr_*` op makes it, or when every input of the op that makes it is constant (Core ML
// folds such ops before anything runs). It also decodes the few constant payloads checks need:
// integers of small immediate tensors and the floats of fp16/fp32/bf16/fp64 values.
//
// The graph keeps pointers into the Function it was built from: REQUIRES the Function outlives
// it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coreml/blob_file.h"
#include "coreml/proto/mil.pb.h"

namespace anec::coreml {

// A use of a value: parameter `param` of op `op` (an index into ProgramGraph::ops()).
// op == kFunctionOutput: the function returns the value; param is then empty.
// A nested block's output is a use by the op that owns the block, with param kBlockOutput.
struct ValueUse {
  static constexpr int kFunctionOutput = -1;
  int op = kFunctionOutput;
  std::string param;
};
inline constexpr const char* kBlockOutput = "<block output>";

struct GraphOp {
  const CoreML::Specification::MILSpec::Operation* op = nullptr;
  std::string name;  // the op's `name` attribute, else its first output's name
  int depth = 0;     // 0 = the function's own block
  bool constant = false;
};

struct TensorShape {
  CoreML::Specification::MILSpec::DataType dtype = CoreML::Specification::MILSpec::UNUSED_TYPE;
  std::vector<int64_t> dims;  // -1 = unknown (flexible) dimension
  bool is_tensor = false;     // false for lists, tuples, dictionaries and untyped values
};

// The tensor a ValueType holds; a state's wrapped tensor counts as the state's tensor.
TensorShape ShapeOf(const CoreML::Specification::MILSpec::ValueType& type);
// "fp16", "int32", ...
std::string DataTypeName(CoreML::Specification::MILSpec::DataType t);
// Bytes per element; 0 for sub-byte, bool and string types.
int DataTypeBytes(CoreML::Specification::MILSpec::DataType t);

// Integers of an immediate int tensor (ints, longInts or int8/uint8 bytes); nullopt otherwise.
std::optional<std::vector<int64_t>> ImmediateInts(const CoreML::Specification::MILSpec::Value& v);

// Calls `visit` with every element of a float value (immediate floats/doubles, fp16 or bf16 bytes,
// or a blob of fp16/bf16/fp32 read through `weights`) until it returns false. Returns false when
// the payload could not be read (no weights, bad blob, not a float type); blobs over
// `max_blob_bytes` are skipped (returns true, nothing visited).
bool VisitFloats(const CoreML::Specification::MILSpec::Value& v, const BlobReader* weights,
                 uint64_t max_blob_bytes, const std::function<bool(double)>& visit);

class ProgramGraph {
 public:
  // Uses the block specialized for the function's opset (else its only block).
  explicit ProgramGraph(const CoreML::Specification::MILSpec::Function& fn);

  const std::vector<GraphOp>& ops() const { return ops_; }
  // Function inputs (states included) in declaration order.
  const std::vector<const CoreML::Specification::MILSpec::NamedValueType*>& inputs() const {
    return inputs_;
  }
  // Names the function returns.
  const std::vector<std::string>& outputs() const { return outputs_; }

  // Null for a name no op or input defines.
  const CoreML::Specification::MILSpec::ValueType* TypeOf(const std::string& value) const;
  TensorShape ShapeOfValue(const std::string& value) const;
  // Index into ops(), or -1 for a function or block input (or an unknown name).
  int ProducerOf(const std::string& value) const;
  const std::vector<ValueUse>& UsesOf(const std::string& value) const;
  bool IsConstant(const std::string& value) const;

  // The payload of a constant operand: the Value bound inline to `param` of `op`, or the `val`
  // attribute of the `const` op that makes the named value. Null otherwise (not a `const`).
  const CoreML::Specification::MILSpec::Value* ConstArg(
      const CoreML::Specification::MILSpec::Operation& op, const std::string& param) const;
  // The value names bound to `param` (several for a tuple such as concat.values); inline values
  // are left out.
  static std::vector<std::string> ArgNames(const CoreML::Specification::MILSpec::Operation& op,
                                           const std::string& param);

 private:
  struct ValueInfo {
    const CoreML::Specification::MILSpec::ValueType* type = nullptr;
    int producer = -1;
    bool constant = false;
    std::vector<ValueUse> uses;
  };
  void AddBlock(const CoreML::Specification::MILSpec::Block& block, int depth);

  std::vector<GraphOp> ops_;
  std::vector<const CoreML::Specification::MILSpec::NamedValueType*> inputs_;
  std::vector<std::string> outputs_;
  std::map<std::string, ValueInfo> values_;
};

}  // namespace anec::coreml
