#include "runtime/tensor.h"

#include <cmath>
#include <cstring>

#include "runtime/half.h"
#include "runtime/lut_weight.h"

namespace anec::runtime {

size_t ElementSize(DType t) {
  switch (t) {
    case DType::kFloat16: case DType::kInt16: case DType::kUInt16: return 2;
    case DType::kFloat32: case DType::kInt32: case DType::kUInt32: return 4;
    case DType::kFloat64: case DType::kInt64: return 8;
    case DType::kString: return 0;
    default: return 1;
  }
}

std::string_view DTypeName(DType t) {
  switch (t) {
    case DType::kBool: return "bool";
    case DType::kFloat16: return "fp16";
    case DType::kFloat32: return "fp32";
    case DType::kFloat64: return "fp64";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kUInt16: return "uint16";
    case DType::kInt32: return "int32";
    case DType::kUInt32: return "uint32";
    case DType::kInt64: return "int64";
    case DType::kInt4: return "int4";
    case DType::kUInt1: return "uint1";
    case DType::kUInt2: return "uint2";
    case DType::kUInt3: return "uint3";
    case DType::kUInt4: return "uint4";
    case DType::kUInt6: return "uint6";
    case DType::kString: return "string";
  }
  return "?";
}

Result<DType> DTypeFromMil(int v) {
  switch (v) {
    case 1: return DType::kBool;
    case 2: return DType::kString;
    case 10: return DType::kFloat16;
    case 11: return DType::kFloat32;
    case 12: return DType::kFloat64;
    case 21: return DType::kInt8;
    case 22: return DType::kInt16;
    case 23: return DType::kInt32;
    case 24: return DType::kInt64;
    case 25: return DType::kInt4;
    case 31: return DType::kUInt8;
    case 32: return DType::kUInt16;
    case 33: return DType::kUInt32;
    case 35: return DType::kUInt4;
    case 36: return DType::kUInt2;
    case 37: return DType::kUInt1;
    case 38: return DType::kUInt6;
    case 39: return DType::kUInt3;
    default:
      return Unsupported("MIL data type {} is not supported by the anec runtime", v);
  }
}

Result<DType> DTypeFromName(std::string_view name) {
  static constexpr DType kAll[] = {
      DType::kBool, DType::kFloat16, DType::kFloat32, DType::kFloat64, DType::kInt8,
      DType::kUInt8, DType::kInt16, DType::kUInt16, DType::kInt32, DType::kUInt32, DType::kInt64};
  for (DType t : kAll) {
    if (DTypeName(t) == name) return t;
  }
  return InvalidArgument("unknown dtype name '{}' (expected fp16, fp32, int32, bool, ...)", name);
}

bool IsFloat(DType t) {
  return t == DType::kFloat16 || t == DType::kFloat32 || t == DType::kFloat64;
}
bool IsSubByte(DType t) { return SubByteBits(t) != 0; }
int SubByteBits(DType t) {
  switch (t) {
    case DType::kUInt1: return 1;
    case DType::kUInt2: return 2;
    case DType::kUInt3: return 3;
    case DType::kInt4: case DType::kUInt4: return 4;
    case DType::kUInt6: return 6;
    default: return 0;
  }
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeString(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor Tensor::Zeros(DType dtype, Shape shape) { return Allocate(dtype, std::move(shape), true); }

Tensor Tensor::Uninitialized(DType dtype, Shape shape) {
  return Allocate(dtype, std::move(shape), false);
}

Tensor Tensor::Allocate(DType dtype, Shape shape, bool zero) {
  Tensor t;
  t.defined_ = true;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  size_t n = std::max<size_t>(t.nbytes(), 1);
  std::shared_ptr<uint8_t[]> buf(zero || dtype == DType::kString ? new uint8_t[n]()
                                                                  : new uint8_t[n]);
  t.data_ = buf.get();
  t.storage_ = std::move(buf);
  t.writable_ = true;
  if (dtype == DType::kString) {
    t.strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(t.size()));
  }
  return t;
}

Tensor Tensor::View(DType dtype, Shape shape, const uint8_t* data,
                    std::shared_ptr<const void> keep_alive) {
  Tensor t;
  t.defined_ = true;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.storage_ = keep_alive ? std::move(keep_alive) : std::make_shared<int>(0);
  t.data_ = const_cast<uint8_t*>(data);  // never written: writable_ stays false
  return t;
}

Tensor Tensor::Strings(Shape shape, std::vector<std::string> values) {
  Tensor t;
  t.defined_ = true;
  t.dtype_ = DType::kString;
  t.shape_ = std::move(shape);
  t.strings_ = std::make_shared<std::vector<std::string>>(std::move(values));
  return t;
}

Tensor Tensor::Lut(std::shared_ptr<const LutWeight> lut) {
  Tensor t;
  t.defined_ = true;
  t.dtype_ = lut->dtype();
  t.shape_ = lut->shape();
  t.lut_ = std::move(lut);
  return t;
}

namespace {
template <typename T>
void StoreAll(uint8_t* out, std::span<const float> v) {
  T* o = reinterpret_cast<T*>(out);
  for (size_t i = 0; i < v.size(); ++i) o[i] = static_cast<T>(v[i]);
}
template <typename T>
void StoreAllInts(uint8_t* out, std::span<const int64_t> v) {
  T* o = reinterpret_cast<T*>(out);
  for (size_t i = 0; i < v.size(); ++i) o[i] = static_cast<T>(v[i]);
}
}  // namespace

Tensor Tensor::FromFloats(DType dtype, Shape shape, std::span<const float> values) {
  // Every element is written below, so the buffer is not zero-filled first (a memset of each
  // op's output was 3% of SmolLM2's prefill).
  Tensor t = Allocate(dtype, std::move(shape), false);
  assert(static_cast<int64_t>(values.size()) == t.size());
  uint8_t* o = t.data_;
  switch (dtype) {
    case DType::kFloat16: FloatToHalfN(values.data(), t.mutable_data<Half>(), t.size()); break;
    case DType::kFloat32: std::memcpy(o, values.data(), values.size() * 4); break;
    case DType::kFloat64: StoreAll<double>(o, values); break;
    case DType::kBool:
      for (size_t i = 0; i < values.size(); ++i) o[i] = values[i] != 0.0f;
      break;
    case DType::kInt8: case DType::kInt4: StoreAll<int8_t>(o, values); break;
    case DType::kInt16: StoreAll<int16_t>(o, values); break;
    case DType::kUInt16: StoreAll<uint16_t>(o, values); break;
    case DType::kInt32: StoreAll<int32_t>(o, values); break;
    case DType::kUInt32: StoreAll<uint32_t>(o, values); break;
    case DType::kInt64: StoreAll<int64_t>(o, values); break;
    case DType::kString: break;
    default: StoreAll<uint8_t>(o, values); break;
  }
  return t;
}

Tensor Tensor::FromInts(DType dtype, Shape shape, std::span<const int64_t> values) {
  if (IsFloat(dtype)) {  // through FromFloats, which allocates the one buffer
    std::vector<float> f(values.begin(), values.end());
    return FromFloats(dtype, std::move(shape), f);
  }
  Tensor t = Allocate(dtype, std::move(shape), false);  // every element is written below
  assert(static_cast<int64_t>(values.size()) == t.size());
  uint8_t* o = t.data_;
  switch (dtype) {
    case DType::kBool:
      for (size_t i = 0; i < values.size(); ++i) o[i] = values[i] != 0;
      break;
    case DType::kInt8: case DType::kInt4: StoreAllInts<int8_t>(o, values); break;
    case DType::kInt16: StoreAllInts<int16_t>(o, values); break;
    case DType::kUInt16: StoreAllInts<uint16_t>(o, values); break;
    case DType::kInt32: StoreAllInts<int32_t>(o, values); break;
    case DType::kUInt32: StoreAllInts<uint32_t>(o, values); break;
    case DType::kInt64: StoreAllInts<int64_t>(o, values); break;
    case DType::kString: break;
    default: StoreAllInts<uint8_t>(o, values); break;
  }
  return t;
}

const std::vector<std::string>& Tensor::strings() const {
  static const std::vector<std::string> kEmpty;
  return strings_ ? *strings_ : kEmpty;
}

Tensor Tensor::Reshaped(Shape shape) const {
  assert(NumElements(shape) == size());
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::SubView(size_t byte_offset, Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  assert(!is_lut() && dtype_ != DType::kString && byte_offset + t.nbytes() <= nbytes());
  t.data_ = data_ + byte_offset;
  t.writable_ = false;
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t = Zeros(dtype_, shape_);
  if (data_ != nullptr && nbytes() > 0) std::memcpy(t.data_, data_, nbytes());
  if (strings_) t.strings_ = std::make_shared<std::vector<std::string>>(*strings_);
  return t;
}

float Tensor::FloatAt(int64_t i) const {
  switch (dtype_) {
    case DType::kFloat16: return HalfToFloatFast(data<Half>()[i]);
    case DType::kFloat32: return data<float>()[i];
    case DType::kFloat64: return static_cast<float>(data<double>()[i]);
    default: return static_cast<float>(IntAt(i));
  }
}

int64_t Tensor::IntAt(int64_t i) const {
  switch (dtype_) {
    case DType::kFloat16: case DType::kFloat32: case DType::kFloat64:
      return static_cast<int64_t>(FloatAt(i));
    case DType::kInt8: case DType::kInt4: return data<int8_t>()[i];
    case DType::kInt16: return data<int16_t>()[i];
    case DType::kUInt16: return data<uint16_t>()[i];
    case DType::kInt32: return data<int32_t>()[i];
    case DType::kUInt32: return data<uint32_t>()[i];
    case DType::kInt64: return data<int64_t>()[i];
    case DType::kString: return 0;
    default: return data<uint8_t>()[i];
  }
}

std::vector<float> Tensor::ToFloats() const {
  std::vector<float> out(static_cast<size_t>(size()));
  if (dtype_ == DType::kFloat16) {
    HalfToFloatN(data<Half>(), out.data(), size());
  } else if (dtype_ == DType::kFloat32) {
    if (!out.empty()) std::memcpy(out.data(), data_, out.size() * 4);
  } else {
    for (int64_t i = 0; i < size(); ++i) out[static_cast<size_t>(i)] = FloatAt(i);
  }
  return out;
}

std::vector<int64_t> Tensor::ToInts() const {
  const int64_t n = size();
  std::vector<int64_t> out(static_cast<size_t>(n));
  if (dtype_ == DType::kInt32) {  // shapes, axes, begin / end: the common case, no switch
    const int32_t* d = data<int32_t>();
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = d[i];
    return out;
  }
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = IntAt(i);
  return out;
}

std::string Tensor::TypeString() const {
  return fmt::format("{}{}", DTypeName(dtype_), ShapeString(shape_));
}

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) {
    s[static_cast<size_t>(i)] = s[static_cast<size_t>(i + 1)] * shape[static_cast<size_t>(i + 1)];
  }
  return s;
}

Result<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes {} and {} cannot be broadcast together", ShapeString(a),
                             ShapeString(b));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return InvalidArgument("axis {} is out of range for a tensor of rank {}", axis, rank);
  }
  return axis < 0 ? axis + rank : axis;
}

}  // namespace anec::runtime
