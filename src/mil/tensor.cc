// DType helpers and constant Tensors (program_builder.h).
#include <cmath>
#include <cstring>

#include "coreml/blob_file.h"
#include "mil/function_internal.h"
#include "mil/program_builder.h"

namespace anec::mil {

namespace MS = CoreML::Specification::MILSpec;

namespace {

struct DTypeRow {
  DType dtype;
  std::string_view name;
  int bits;
  MS::DataType proto;
};

constexpr DTypeRow kDTypes[] = {
    {DType::kBool, "bool", 8, MS::BOOL},          {DType::kString, "string", 0, MS::STRING},
    {DType::kFloat16, "fp16", 16, MS::FLOAT16},   {DType::kFloat32, "fp32", 32, MS::FLOAT32},
    {DType::kFloat64, "fp64", 64, MS::FLOAT64},   {DType::kBFloat16, "bf16", 16, MS::BFLOAT16},
    {DType::kInt8, "int8", 8, MS::INT8},          {DType::kInt16, "int16", 16, MS::INT16},
    {DType::kInt32, "int32", 32, MS::INT32},      {DType::kInt64, "int64", 64, MS::INT64},
    {DType::kUInt8, "uint8", 8, MS::UINT8},       {DType::kUInt16, "uint16", 16, MS::UINT16},
    {DType::kUInt32, "uint32", 32, MS::UINT32},   {DType::kUInt64, "uint64", 64, MS::UINT64},
    {DType::kInt4, "int4", 4, MS::INT4},          {DType::kUInt1, "uint1", 1, MS::UINT1},
    {DType::kUInt2, "uint2", 2, MS::UINT2},       {DType::kUInt3, "uint3", 3, MS::UINT3},
    {DType::kUInt4, "uint4", 4, MS::UINT4},       {DType::kUInt6, "uint6", 6, MS::UINT6},
};

const DTypeRow& Row(DType t) {
  for (const auto& r : kDTypes) {
    if (r.dtype == t) return r;
  }
  return kDTypes[0];
}

bool IsSigned(DType t) {
  return t == DType::kInt4 || t == DType::kInt8 || t == DType::kInt16 || t == DType::kInt32 ||
         t == DType::kInt64;
}

std::vector<uint8_t> LittleEndian(const void* data, size_t n) {
  // Host is little-endian (x86-64 / arm64), as is every Core ML file.
  std::vector<uint8_t> out(n);
  if (n) std::memcpy(out.data(), data, n);
  return out;
}

}  // namespace

std::string_view DTypeName(DType t) { return Row(t).name; }
int DTypeBits(DType t) { return Row(t).bits; }
MS::DataType MilDataType(DType t) { return Row(t).proto; }

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const auto& r : kDTypes) {
    if (r.name == name) return r.dtype;
  }
  return std::nullopt;
}

bool IsFloat(DType t) {
  return t == DType::kFloat16 || t == DType::kFloat32 || t == DType::kFloat64 ||
         t == DType::kBFloat16;
}

bool IsSubByte(DType t) { return Row(t).bits > 0 && Row(t).bits < 8; }

std::string_view OpsetName(Opset o) {
  switch (o) {
    case Opset::kIOS16: return "CoreML6";
    case Opset::kIOS17: return "CoreML7";
    case Opset::kIOS18: return "CoreML8";
  }
  return "CoreML8";
}

int SpecificationVersion(Opset o) {
  switch (o) {
    case Opset::kIOS16: return 7;
    case Opset::kIOS17: return 8;
    case Opset::kIOS18: return 9;
  }
  return 9;
}

int64_t TensorType::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorType::ToString() const {
  std::string s(DTypeName(dtype));
  s += "[";
  // Appended piece by piece: GCC 12 -O3 warns falsely (-Wrestrict) on `const char* + string`.
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

bool IsIdentifier(const std::string& s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '@') return false;
  }
  return true;
}

uint16_t FloatToHalfBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t exp = (x >> 23) & 0xff;
  uint32_t mant = x & 0x7fffff;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 : 0));  // inf/nan
  int32_t e = static_cast<int32_t>(exp) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00);  // overflow -> inf
  if (e <= 0) {                                              // subnormal or zero
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into exponent: correct
  return static_cast<uint16_t>(sign | half);
}

float HalfBitsToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      x = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000 | (mant << 13);
  } else {
    x = sign | (exp - 15 + 127) << 23 | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// ---- Tensor ----

Tensor::Tensor(TensorType type, std::vector<uint8_t> bytes)
    : type_(std::move(type)),
      bytes_(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))) {}

Tensor Tensor::Strings(std::vector<std::string> values, std::vector<int64_t> shape) {
  Tensor t;
  t.type_ = TensorType{DType::kString, std::move(shape)};
  t.bytes_ = std::make_shared<const std::vector<uint8_t>>();
  t.strings_ = std::make_shared<const std::vector<std::string>>(std::move(values));
  return t;
}

Tensor Tensor::F32(std::vector<int64_t> shape, const std::vector<float>& values) {
  return Tensor({DType::kFloat32, std::move(shape)}, LittleEndian(values.data(), values.size() * 4));
}

Tensor Tensor::F16Bits(std::vector<int64_t> shape, const std::vector<uint16_t>& values) {
  return Tensor({DType::kFloat16, std::move(shape)}, LittleEndian(values.data(), values.size() * 2));
}

Tensor Tensor::F16(std::vector<int64_t> shape, const std::vector<float>& values) {
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = FloatToHalfBits(values[i]);
  return F16Bits(std::move(shape), bits);
}

Tensor Tensor::I32(std::vector<int64_t> shape, const std::vector<int32_t>& values) {
  return Tensor({DType::kInt32, std::move(shape)}, LittleEndian(values.data(), values.size() * 4));
}

Tensor Tensor::I64(std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  return Tensor({DType::kInt64, std::move(shape)}, LittleEndian(values.data(), values.size() * 8));
}

Tensor Tensor::Bool(std::vector<int64_t> shape, const std::vector<bool>& values) {
  std::vector<uint8_t> bytes(values.size());
  for (size_t i = 0; i < values.size(); ++i) bytes[i] = values[i] ? 1 : 0;
  return Tensor({DType::kBool, std::move(shape)}, std::move(bytes));
}

Tensor Tensor::UInt(DType dtype, std::vector<int64_t> shape, const std::vector<uint8_t>& values) {
  int bits = DTypeBits(dtype);
  if (bits < 8) return Tensor({dtype, std::move(shape)}, coreml::PackBits(values, bits));
  return Tensor({dtype, std::move(shape)}, values);
}

Tensor Tensor::Ints(DType dtype, std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  int bits = DTypeBits(dtype);
  if (bits < 8) {
    std::vector<uint8_t> codes(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      codes[i] = static_cast<uint8_t>(values[i] & ((1 << bits) - 1));
    }
    return Tensor({dtype, std::move(shape)}, coreml::PackBits(codes, bits));
  }
  size_t width = static_cast<size_t>(bits / 8);
  std::vector<uint8_t> bytes(values.size() * width);
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t v = static_cast<uint64_t>(values[i]);
    for (size_t b = 0; b < width; ++b) bytes[i * width + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  return Tensor({dtype, std::move(shape)}, std::move(bytes));
}

std::span<const uint8_t> Tensor::bytes() const {
  if (!bytes_) return {};
  return std::span<const uint8_t>(bytes_->data(), bytes_->size());
}

const std::vector<std::string>& Tensor::strings() const {
  static const std::vector<std::string> kEmpty;
  return strings_ ? *strings_ : kEmpty;
}

std::vector<int64_t> Tensor::AsInts() const {
  std::vector<int64_t> out;
  if (!bytes_ || IsFloat(type_.dtype) || type_.dtype == DType::kString) return out;
  size_t n = static_cast<size_t>(type_.num_elements());
  int bits = DTypeBits(type_.dtype);
  if (bits < 8) {
    std::vector<uint8_t> codes = coreml::UnpackBits(*bytes_, bits, n);
    for (uint8_t c : codes) {
      int64_t v = c;
      if (IsSigned(type_.dtype) && (c & (1 << (bits - 1)))) v -= (int64_t{1} << bits);
      out.push_back(v);
    }
    return out;
  }
  size_t width = static_cast<size_t>(bits / 8);
  if (bytes_->size() < n * width) return out;
  for (size_t i = 0; i < n; ++i) {
    uint64_t u = 0;
    for (size_t b = 0; b < width; ++b) u |= uint64_t{(*bytes_)[i * width + b]} << (8 * b);
    int64_t v = static_cast<int64_t>(u);
    if (IsSigned(type_.dtype) && width < 8 && (u >> (8 * width - 1)) & 1) {
      v = static_cast<int64_t>(u | (~uint64_t{0} << (8 * width)));
    }
    out.push_back(v);
  }
  return out;
}

std::vector<double> Tensor::AsDoubles() const {
  std::vector<double> out;
  if (!bytes_) return out;
  size_t n = static_cast<size_t>(type_.num_elements());
  switch (type_.dtype) {
    case DType::kFloat16:
    case DType::kBFloat16:
      if (bytes_->size() < n * 2) return out;
      for (size_t i = 0; i < n; ++i) {
        uint16_t h = static_cast<uint16_t>((*bytes_)[2 * i] | ((*bytes_)[2 * i + 1] << 8));
        if (type_.dtype == DType::kFloat16) {
          out.push_back(HalfBitsToFloat(h));
        } else {
          uint32_t x = uint32_t{h} << 16;
          float f;
          std::memcpy(&f, &x, 4);
          out.push_back(f);
        }
      }
      return out;
    case DType::kFloat32:
      if (bytes_->size() < n * 4) return out;
      for (size_t i = 0; i < n; ++i) {
        float f;
        std::memcpy(&f, bytes_->data() + 4 * i, 4);
        out.push_back(f);
      }
      return out;
    case DType::kFloat64:
      if (bytes_->size() < n * 8) return out;
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, bytes_->data() + 8 * i, 8);
        out.push_back(d);
      }
      return out;
    default:
      for (int64_t v : AsInts()) out.push_back(static_cast<double>(v));
      return out;
  }
}

}  // namespace anec::mil
