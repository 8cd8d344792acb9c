#include "runtime/const_value.h"

#include <cstring>

#include "coreml/package.h"

namespace anec::runtime {

std::string ValueSpec::TypeString() const {
  std::vector<std::string> d;
  for (int64_t x : dims) d.push_back(x < 0 ? "?" : std::to_string(x));
  std::string t = fmt::format("{}[{}]", DTypeName(dtype), any_rank ? "*" : fmt::format("{}", fmt::join(d, ", ")));
  return is_state ? "state<" + t + ">" : t;
}

bool ValueSpec::Matches(const Tensor& t) const {
  if (!t.defined() || t.dtype() != dtype) return false;
  if (any_rank) return true;
  if (t.rank() != static_cast<int64_t>(dims.size())) return false;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] >= 0 && dims[i] != t.shape()[i]) return false;
  }
  return true;
}

Result<ValueSpec> DecodeValueType(const milspec::ValueType& type, std::string name) {
  ValueSpec spec;
  spec.name = std::move(name);
  const milspec::ValueType* t = &type;
  if (t->has_statetype()) {
    spec.is_state = true;
    t = &t->statetype().wrappedtype();
  }
  if (!t->has_tensortype()) {
    return Unsupported("value '{}' is not a tensor (lists, tuples and dictionaries are not supported)",
                       spec.name);
  }
  const milspec::TensorType& tt = t->tensortype();
  auto dt = DTypeFromMil(tt.datatype());
  if (!dt.ok()) return dt.status().WithContext(fmt::format("value '{}'", spec.name));
  spec.dtype = *dt;
  if (tt.rank() < 0) {
    spec.any_rank = true;
    return spec;
  }
  if (tt.dimensions_size() != tt.rank()) {
    return Corrupt("value '{}' declares rank {} but lists {} dimensions", spec.name, tt.rank(),
                   tt.dimensions_size());
  }
  for (const milspec::Dimension& d : tt.dimensions()) {
    if (d.has_constant()) {
      spec.dims.push_back(static_cast<int64_t>(d.constant().size()));
    } else {
      if (d.unknown().variadic()) spec.any_rank = true;
      spec.dims.push_back(-1);
    }
  }
  return spec;
}

namespace {

std::span<const uint8_t> AsBytes(const void* p, size_t n) {
  return {static_cast<const uint8_t*>(p), n};
}

uint64_t StoredBytes(DType t, int64_t n) {
  int bits = SubByteBits(t);
  if (bits) return (static_cast<uint64_t>(n) * static_cast<uint64_t>(bits) + 7) / 8;
  return static_cast<uint64_t>(n) * ElementSize(t);
}

}  // namespace

Result<StoredValue> DecodeStored(const milspec::Value& value, const ValueSource& source,
                                 std::string_view what) {
  StoredValue out;
  ANEC_ASSIGN_OR_RETURN(out.spec, DecodeValueType(value.type(), std::string(what)));
  if (out.spec.is_state || out.spec.any_rank) {
    return InvalidArgument("{}: a constant must be a tensor of known rank, found {}", what,
                           out.spec.TypeString());
  }
  for (int64_t d : out.spec.dims) {
    if (d < 0) return InvalidArgument("{}: a constant must have a known shape", what);
  }
  const int64_t n = NumElements(out.spec.dims);
  const DType dt = out.spec.dtype;
  if (value.has_blobfilevalue()) {
    const auto& b = value.blobfilevalue();
    if (b.filename() != coreml::kWeightFileName) {
      return InvalidArgument("{}: blob file '{}' is not supported (expected '{}')", what,
                             b.filename(), coreml::kWeightFileName);
    }
    if (source.weights == nullptr) {
      return NotFound("{}: refers to {} but the package has no weight file", what, b.filename());
    }
    auto blob_dtype = coreml::BlobDTypeForMilDataType(static_cast<int>(value.type().tensortype().datatype()));
    if (!blob_dtype.has_value()) {
      return InvalidArgument("{}: dtype {} cannot be stored in a blob file", what, DTypeName(dt));
    }
    auto blob = source.weights->Get(b.offset(), *blob_dtype, static_cast<uint64_t>(n));
    if (!blob.ok()) {
      return blob.status().WithContext(
          fmt::format("{} ({} at offset {} of {})", what, out.spec.TypeString(), b.offset(),
                      source.weights->path()));
    }
    out.bytes = blob->data;
    out.from_blob = true;
    return out;
  }
  if (!value.has_immediatevalue() || !value.immediatevalue().has_tensor()) {
    return InvalidArgument("{}: expected an immediate tensor or a blob value", what);
  }
  const milspec::TensorValue& tv = value.immediatevalue().tensor();
  size_t count = 0;
  bool ok_kind = true;
  switch (tv.value_case()) {
    case milspec::TensorValue::kFloats:
      count = static_cast<size_t>(tv.floats().values_size());
      ok_kind = dt == DType::kFloat32;
      out.bytes = AsBytes(tv.floats().values().data(), count * 4);
      break;
    case milspec::TensorValue::kDoubles:
      count = static_cast<size_t>(tv.doubles().values_size());
      ok_kind = dt == DType::kFloat64;
      out.bytes = AsBytes(tv.doubles().values().data(), count * 8);
      break;
    case milspec::TensorValue::kInts:
      count = static_cast<size_t>(tv.ints().values_size());
      ok_kind = dt == DType::kInt32 || dt == DType::kInt16 || dt == DType::kUInt16 ||
                dt == DType::kUInt32 || dt == DType::kInt8 || dt == DType::kUInt8;
      out.bytes = AsBytes(tv.ints().values().data(), count * 4);
      break;
    case milspec::TensorValue::kLongInts:
      count = static_cast<size_t>(tv.longints().values_size());
      ok_kind = dt == DType::kInt64;
      out.bytes = AsBytes(tv.longints().values().data(), count * 8);
      break;
    case milspec::TensorValue::kBools:
      count = static_cast<size_t>(tv.bools().values_size());
      ok_kind = dt == DType::kBool;
      out.bytes = AsBytes(tv.bools().values().data(), count);
      break;
    case milspec::TensorValue::kStrings:
      count = static_cast<size_t>(tv.strings().values_size());
      ok_kind = dt == DType::kString;
      out.strings.assign(tv.strings().values().begin(), tv.strings().values().end());
      break;
    case milspec::TensorValue::kBytes: {
      const std::string& s = tv.bytes().values();
      ok_kind = dt != DType::kString;
      out.bytes = AsBytes(s.data(), s.size());
      if (s.size() != StoredBytes(dt, n)) {
        return InvalidArgument("{}: {} needs {} bytes, the value holds {}", what,
                               out.spec.TypeString(), StoredBytes(dt, n), s.size());
      }
      count = static_cast<size_t>(n);
      break;
    }
    default:
      return InvalidArgument("{}: immediate tensor has no values", what);
  }
  if (!ok_kind) {
    return InvalidArgument("{}: declared {} but stored in an encoding for another dtype", what,
                           out.spec.TypeString());
  }
  if (static_cast<int64_t>(count) != n) {
    return InvalidArgument("{}: declared {} ({} elements) but holds {} values", what,
                           out.spec.TypeString(), n, count);
  }
  return out;
}

Result<Tensor> DecodeValue(const milspec::Value& value, const ValueSource& source,
                           std::string_view what) {
  ANEC_ASSIGN_OR_RETURN(StoredValue sv, DecodeStored(value, source, what));
  const DType dt = sv.spec.dtype;
  Shape shape(sv.spec.dims.begin(), sv.spec.dims.end());
  const int64_t n = NumElements(shape);
  if (dt == DType::kString) return Tensor::Strings(shape, std::move(sv.strings));
  if (int bits = SubByteBits(dt)) {
    std::vector<uint8_t> v = coreml::UnpackBits(sv.bytes, bits, static_cast<size_t>(n));
    Tensor t = Tensor::Zeros(dt, shape);
    uint8_t* o = t.mutable_bytes();
    for (int64_t i = 0; i < n; ++i) {
      uint8_t x = v[static_cast<size_t>(i)];
      // int4 is two's complement: sign-extend the nibble.
      o[i] = dt == DType::kInt4 && (x & 8) ? static_cast<uint8_t>(x | 0xF0) : x;
    }
    return t;
  }
  const milspec::TensorValue::ValueCase kind =
      sv.from_blob ? milspec::TensorValue::kBytes
                   : value.immediatevalue().tensor().value_case();
  if (kind == milspec::TensorValue::kInts && ElementSize(dt) != 4) {
    // Narrow integer types arrive as int32 values.
    std::vector<int64_t> v(static_cast<size_t>(n));
    const int32_t* p = reinterpret_cast<const int32_t*>(sv.bytes.data());
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = p[i];
    return Tensor::FromInts(dt, shape, v);
  }
  if (kind == milspec::TensorValue::kBools) {
    Tensor t = Tensor::Zeros(dt, shape);
    for (int64_t i = 0; i < n; ++i) t.mutable_bytes()[i] = sv.bytes[static_cast<size_t>(i)] ? 1 : 0;
    return t;
  }
  // Byte layout already matches the storage: view it (64-byte aligned blobs; the protobuf's
  // own buffers are suitably aligned for their element types).
  return Tensor::View(dt, shape, sv.bytes.data(), source.keep_alive);
}

}  // namespace anec::runtime
