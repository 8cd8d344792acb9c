// Decoding MIL values and types from the protobuf: immediate tensors of every encoding
// (floats / ints / longInts / bools / strings / doubles / bytes) and blob file values.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "coreml/blob_file.h"
#include "coreml/proto/mil.pb.h"
#include "runtime/tensor.h"

namespace anec::runtime {

namespace milspec = ::CoreML::Specification::MILSpec;

// A declared MIL type: a tensor (dims -1 when unknown) or a state wrapping a tensor.
struct ValueSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;  // -1 = unknown size
  bool is_state = false;
  bool any_rank = false;  // variadic: rank unknown

  std::string TypeString() const;  // "fp16[1, ?, 2048]", "state<fp16[...]>"
  // True when `t` has this dtype and matches every known dim.
  bool Matches(const Tensor& t) const;
};

Result<ValueSpec> DecodeValueType(const milspec::ValueType& type, std::string name);

// Raw stored form of a tensor value: sub-byte data stays packed.
struct StoredValue {
  ValueSpec spec;
  std::span<const uint8_t> bytes;  // packed for sub-byte types; empty for strings
  std::vector<std::string> strings;
  bool from_blob = false;
};

// Where decoded values come from. `keep_alive` owns the protobuf and the weight mapping that
// views returned by DecodeValue point into.
struct ValueSource {
  const coreml::BlobReader* weights = nullptr;  // null when the package has no weight file
  std::shared_ptr<const void> keep_alive;
};

// Decodes `value` (what: e.g. "op 'x' attribute 'val'", used in errors). Immediate numeric
// encodings are converted to the declared dtype's storage; blob values are checked against the
// declared dtype and element count.
Result<StoredValue> DecodeStored(const milspec::Value& value, const ValueSource& source,
                                 std::string_view what);
// DecodeStored then unpacked into a Tensor (views the blob/proto bytes when possible).
Result<Tensor> DecodeValue(const milspec::Value& value, const ValueSource& source,
                           std::string_view what);

}  // namespace anec::runtime
