// A typed builder for MIL programs (Core ML ML Program, iOS18 opset by default).
//
// A ProgramBuilder owns Functions; each Function builds one block of operations in SSA form.
// Every op's output types are inferred when it is added (op_registry.h), so a wrong construction
// is caught where it is made. Errors are sticky, as in leveldb's TableBuilder: the first error is
// recorded in status(), names the function, the op, its type, the input and what was expected vs
// found; later calls return invalid Values and do nothing. Check status() (or the Status from
// Serialize) once at the end.
//
// Constants: small ones (< kBlobThreshold elements, and every string/bool/int64) are stored inline
// in the program; larger ones are streamed to the BlobWriter at once and only their offset is
// kept, so building a chunk never holds all of its weights in memory. As in coremltools,
// (u)int16/(u)int32 constants go to the blob file only in iOS18 functions; bf16, fp64 and uint64
// constants are rejected (coremltools cannot represent them). SharedConst() lets several
// functions of one program (prefill and infer) point at one blob without re-adding the data.
//
// Names: an op named N has output N (single output) or N_0, N_1... (split); empty names get fresh
// ones. Optional op parameters are always written explicitly as const inputs (named
// <op>_<param>), except those coremltools leaves unset (conv.bias, squeeze.axes, reduce axes,
// constexpr vector_axis/offset). Serialization (serializer.cc) mirrors coremltools 9: attribute
// "name" on every op, const ops with "name" + "val", constexpr_* inputs bound to inline Values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"
#include "coreml/blob_file.h"
#include "coreml/proto/mil.pb.h"

namespace anec::mil {

enum class DType {
  kBool, kString, kFloat16, kFloat32, kFloat64, kBFloat16,
  kInt8, kInt16, kInt32, kInt64, kUInt8, kUInt16, kUInt32, kUInt64,
  kInt4, kUInt1, kUInt2, kUInt3, kUInt4, kUInt6,
};
std::string_view DTypeName(DType t);  // "fp16", "int32", "uint4", ... (coremltools' spelling)
int DTypeBits(DType t);
// Inverse of DTypeName ("fp16" -> kFloat16); nullopt for an unknown name.
std::optional<DType> DTypeFromName(std::string_view name);
// The MILSpec.DataType enum value (FLOAT16 = 10, ...).
CoreML::Specification::MILSpec::DataType MilDataType(DType t);
bool IsFloat(DType t);
bool IsSubByte(DType t);  // int4, uint1..uint6

enum class Opset { kIOS16, kIOS17, kIOS18 };
std::string_view OpsetName(Opset o);  // "CoreML6", "CoreML7", "CoreML8"
int SpecificationVersion(Opset o);    // 7, 8, 9

struct TensorType {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // empty = scalar; every dim is static
  int64_t num_elements() const;
  bool operator==(const TensorType&) const = default;
  std::string ToString() const;  // "fp16[1,64,2048]"
};

// Constant tensor data in its stored form: little-endian bytes; sub-byte types bit-packed
// LSB-first (coreml::PackBits); strings in `strings`. The bytes are shared (cheap to copy).
class Tensor {
 public:
  Tensor() = default;
  Tensor(TensorType type, std::vector<uint8_t> bytes);
  static Tensor Strings(std::vector<std::string> values, std::vector<int64_t> shape = {});

  static Tensor F32(std::vector<int64_t> shape, const std::vector<float>& values);
  static Tensor F16Bits(std::vector<int64_t> shape, const std::vector<uint16_t>& values);
  // Rounds each float to fp16 (round to nearest even).
  static Tensor F16(std::vector<int64_t> shape, const std::vector<float>& values);
  static Tensor I32(std::vector<int64_t> shape, const std::vector<int32_t>& values);
  static Tensor I64(std::vector<int64_t> shape, const std::vector<int64_t>& values);
  static Tensor Bool(std::vector<int64_t> shape, const std::vector<bool>& values);
  // Unsigned sub-byte or byte-sized integers, one value per element (packed here).
  static Tensor UInt(DType dtype, std::vector<int64_t> shape, const std::vector<uint8_t>& values);
  // Any integer dtype (int4..int64, uint1..uint64), one value per element; signed sub-byte values
  // are stored as two's complement. REQUIRES: every value fits the dtype.
  static Tensor Ints(DType dtype, std::vector<int64_t> shape, const std::vector<int64_t>& values);
  static Tensor ScalarF32(float v) { return F32({}, {v}); }
  static Tensor ScalarI32(int32_t v) { return I32({}, {v}); }
  static Tensor ScalarBool(bool v) { return Bool({}, {v}); }
  static Tensor ScalarString(std::string v) { return Strings({std::move(v)}); }

  const TensorType& type() const { return type_; }
  std::span<const uint8_t> bytes() const;
  const std::vector<std::string>& strings() const;
  // Element accessors for shape inference on small constants (REQUIRES matching dtype family).
  std::vector<int64_t> AsInts() const;     // int*/uint*/bool
  std::vector<double> AsDoubles() const;   // float types and ints

 private:
  TensorType type_;
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
  std::shared_ptr<const std::vector<std::string>> strings_;
};

class Function;

// A handle to an SSA value inside one Function. Cheap to copy. Invalid after an error.
class Value {
 public:
  Value() = default;
  bool valid() const { return fn_ != nullptr; }
  const std::string& name() const;
  const TensorType& type() const;
  bool is_state() const;  // a state input (wrapping an fp16 tensor)
  // The value of a const op stored inline (small constants), else null (used by shape inference).
  const Tensor* constant() const;
  // True for outputs of const ops (inline or blob) and of constexpr_* ops.
  bool is_compile_time_constant() const;
  Function* function() const { return fn_; }
  int id() const { return id_; }

 private:
  friend class Function;
  Value(Function* fn, int id) : fn_(fn), id_(id) {}
  Function* fn_ = nullptr;
  int id_ = -1;
};

// One op input: a single value, a tuple of values (concat.values), or a constant.
using Arg = std::variant<Value, std::vector<Value>, Tensor>;
struct NamedArg {
  std::string param;
  Arg arg;
};

class ProgramBuilder;

class Function {
 public:
  const std::string& name() const { return name_; }
  Opset opset() const { return opset_; }

  Value Input(const std::string& name, TensorType type);
  // A state input wrapping an fp16 tensor of `shape`.
  Value StateInput(const std::string& name, std::vector<int64_t> shape);

  // A const op. `name` empty: a fresh unique name.
  Value Const(Tensor t, const std::string& name = "");
  // A const op whose data is stored once per program under `key`: the first call (in any
  // function) writes the blob; later calls with the same key reuse its offset and ignore
  // `make` entirely (so the data is never produced twice). REQUIRES: same key -> same tensor.
  Value SharedConst(const std::string& key, const std::function<Tensor()>& make,
                    const std::string& name = "");

  // Adds an op; the types of its outputs are inferred. Tensor args become const ops.
  // `name` empty: a fresh unique name. Returns one Value per output (empty for write_state).
  std::vector<Value> AddOp(const std::string& type, std::vector<NamedArg> args,
                           const std::string& name = "");
  // AddOp for single-output ops.
  Value Op(const std::string& type, std::vector<NamedArg> args, const std::string& name = "");

  // Marks `v` as a function output named `name` (an identity op is added when the name differs).
  void Output(Value v, const std::string& name);

  // ---- Convenience wrappers (all via AddOp) ----
  Value Add(Value x, Value y, const std::string& name = "");
  Value Sub(Value x, Value y, const std::string& name = "");
  Value Mul(Value x, Value y, const std::string& name = "");
  Value RealDiv(Value x, Value y, const std::string& name = "");
  Value Cast(Value x, DType to, const std::string& name = "");
  Value Reshape(Value x, std::vector<int64_t> shape, const std::string& name = "");
  Value Transpose(Value x, std::vector<int64_t> perm, const std::string& name = "");
  Value Concat(std::vector<Value> xs, int64_t axis, const std::string& name = "");
  // conv over NCHW input, weight [Cout, Cin, kH, kW] (1x1 for the ANE's linear layers); strides
  // 1, valid padding, dilation 1, groups 1 written explicitly; bias optional.
  Value Conv(Value x, Value weight, std::optional<Value> bias = std::nullopt,
             const std::string& name = "");
  Value MatMul(Value x, Value y, bool transpose_x, bool transpose_y, const std::string& name = "");
  Value Softmax(Value x, int64_t axis, const std::string& name = "");

  // Internal details used by the serializer and the op registry (function_internal.h).
  struct ValueInfo;
  struct OpRecord;
  const std::vector<std::shared_ptr<ValueInfo>>& values() const { return values_; }
  const std::vector<std::shared_ptr<OpRecord>>& ops() const { return ops_; }
  const std::vector<std::pair<std::string, int>>& outputs() const { return outputs_; }
  const std::vector<int>& inputs() const { return inputs_; }
  ProgramBuilder* program() const { return program_; }
  // A fresh identifier starting with `base` that no value or op of this function uses.
  std::string FreshName(const std::string& base);

 private:
  friend class ProgramBuilder;
  friend class Value;
  Function(ProgramBuilder* program, std::string name, Opset opset);
  ProgramBuilder* program_;
  std::string name_;
  Opset opset_;
  std::vector<std::shared_ptr<ValueInfo>> values_;
  std::vector<std::shared_ptr<OpRecord>> ops_;
  std::vector<std::pair<std::string, int>> outputs_;
  std::vector<int> inputs_;
  std::set<std::string> used_names_;  // value and op names
  int next_id_ = 0;

  bool failed() const;
  void Fail(Status s);
  // Checks `name` is a fresh identifier; returns it or a fresh one when empty.
  std::optional<std::string> ClaimName(const std::string& name, const std::string& base);
  int AddValue(std::string name, TensorType type, bool is_state, int producer);
  Value MakeConst(Tensor t, const std::string& name, const std::string& shared_key,
                  const std::function<Tensor()>* make);
};

class ProgramBuilder {
 public:
  // `blobs` receives large constants as they are added; it may be null only if every constant
  // is small. REQUIRES: `blobs` outlives the builder.
  explicit ProgramBuilder(coreml::BlobWriter* blobs);
  ~ProgramBuilder();

  // REQUIRES: unique name, a valid identifier.
  Function* AddFunction(const std::string& name, Opset opset = Opset::kIOS18);
  Function* function(const std::string& name);
  const std::vector<std::unique_ptr<Function>>& functions() const { return functions_; }

  const Status& status() const { return status_; }
  // Records `s` as the builder's error if it has none yet (used by ops and by callers).
  void Fail(Status s);

  // Writes the MIL program. REQUIRES: status().ok() (else returns it).
  Status Serialize(CoreML::Specification::MILSpec::Program* out) const;

  static constexpr int64_t kBlobThreshold = 10;  // elements, as coremltools

 private:
  friend class Function;
  coreml::BlobWriter* blobs_;
  std::vector<std::unique_ptr<Function>> functions_;
  struct SharedEntry {
    TensorType type;
    std::optional<uint64_t> blob_offset;  // blob constants
    std::optional<Tensor> inline_value;   // small constants
  };
  std::map<std::string, SharedEntry> shared_;  // SharedConst key -> stored constant
  Status status_;
};

}  // namespace anec::mil
