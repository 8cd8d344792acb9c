// Tensor: the runtime's value type. A dtype, a shape and a byte buffer shared by copies.
//
// Tensors are immutable once a kernel has produced them; copies share storage. Buffers come
// either from the heap (writable) or from a mapped weight file (read-only views). Sub-byte
// integer types are stored unpacked, one element per byte. fp16 is stored as raw bits (Half).
// A tensor may also be a compressed constant (constexpr_lut_to_dense kept as indices + table,
// see lut_weight.h): then it has no dense bytes until someone asks for them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace anec::runtime {

class LutWeight;

enum class DType : uint8_t {
  kBool, kFloat16, kFloat32, kFloat64, kInt8, kUInt8, kInt16, kUInt16, kInt32, kUInt32, kInt64,
  kInt4, kUInt1, kUInt2, kUInt3, kUInt4, kUInt6, kString,
};

// Bytes per stored element (sub-byte types: 1, unpacked; strings: 0).
size_t ElementSize(DType t);
// MIL spelling: "fp16", "int32", "bool", "uint4", ...
std::string_view DTypeName(DType t);
// From the MILSpec.DataType enum value; error for unknown values.
Result<DType> DTypeFromMil(int mil_data_type);
// From a cast op's dtype string ("fp16", "fp32", "int32", ...).
Result<DType> DTypeFromName(std::string_view name);
bool IsFloat(DType t);
bool IsSubByte(DType t);
int SubByteBits(DType t);  // 1..6 for sub-byte types, else 0

using Shape = std::vector<int64_t>;
int64_t NumElements(const Shape& shape);
std::string ShapeString(const Shape& shape);  // "[1, 64, 2048]"

class Tensor {
 public:
  Tensor() = default;
  // A zero-filled heap tensor.
  static Tensor Zeros(DType dtype, Shape shape);
  // A heap tensor whose elements are unspecified until written: for kernels that write every
  // element (no zero-filling pass over a buffer about to be overwritten). Strings are still
  // constructed empty.
  static Tensor Uninitialized(DType dtype, Shape shape);
  // A read-only view of bytes owned by `keep_alive` (e.g. a mapped blob file).
  static Tensor View(DType dtype, Shape shape, const uint8_t* data,
                     std::shared_ptr<const void> keep_alive);
  static Tensor Strings(Shape shape, std::vector<std::string> values);
  // Converts fp32 values to `dtype` (rounding to fp16, truncating toward zero for ints).
  static Tensor FromFloats(DType dtype, Shape shape, std::span<const float> values);
  static Tensor FromInts(DType dtype, Shape shape, std::span<const int64_t> values);
  static Tensor Lut(std::shared_ptr<const LutWeight> lut);

  bool defined() const { return defined_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t axis) const { return shape_[static_cast<size_t>(axis)]; }
  int64_t size() const { return NumElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(size()) * ElementSize(dtype_); }

  // Dense bytes. REQUIRES: !is_lut().
  const uint8_t* bytes() const { return data_; }
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(data_); }
  // REQUIRES: writable().
  uint8_t* mutable_bytes() { return data_; }
  template <typename T>
  T* mutable_data() { return reinterpret_cast<T*>(data_); }
  bool writable() const { return writable_; }

  bool is_lut() const { return lut_ != nullptr; }
  const std::shared_ptr<const LutWeight>& lut() const { return lut_; }
  const std::vector<std::string>& strings() const;

  // Same storage, new shape. REQUIRES: same element count.
  Tensor Reshaped(Shape shape) const;
  // A read-only view of `shape` starting `byte_offset` bytes into this tensor's bytes, sharing
  // its storage (so it counts as a holder of the buffer). REQUIRES: dense, not strings; the
  // view lies within nbytes().
  Tensor SubView(size_t byte_offset, Shape shape) const;
  // A writable deep copy.
  Tensor Clone() const;
  bool SharesStorageWith(const Tensor& other) const {
    return storage_ != nullptr && storage_ == other.storage_;
  }
  long storage_use_count() const { return storage_.use_count(); }

  // Element i converted to fp32 / int64. REQUIRES: numeric or bool dtype, 0 <= i < size().
  float FloatAt(int64_t i) const;
  int64_t IntAt(int64_t i) const;
  std::vector<float> ToFloats() const;
  std::vector<int64_t> ToInts() const;

  // "fp16[1, 64, 2048]"
  std::string TypeString() const;

 private:
  // A heap tensor, zero-filled when `zero` (always for strings).
  static Tensor Allocate(DType dtype, Shape shape, bool zero);

  bool defined_ = false;
  DType dtype_ = DType::kFloat32;
  Shape shape_;
  std::shared_ptr<const void> storage_;
  uint8_t* data_ = nullptr;
  bool writable_ = false;
  std::shared_ptr<const std::vector<std::string>> strings_;
  std::shared_ptr<const LutWeight> lut_;
};

// Row-major strides of `shape` in elements.
std::vector<int64_t> Strides(const Shape& shape);
// Numpy-style broadcast of two shapes; error names both.
Result<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// Normalizes a possibly negative axis for a tensor of `rank`; error when out of range.
Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank);

}  // namespace anec::runtime
