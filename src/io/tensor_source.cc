#include "io/tensor_source.h"

#include <bit>
#include <cstring>

namespace anec::io {

std::string_view TensorDTypeName(TensorDType t) {
  switch (t) {
    case TensorDType::kF32:
      return "f32";
    case TensorDType::kF16:
      return "f16";
    case TensorDType::kBF16:
      return "bf16";
    case TensorDType::kI8:
      return "i8";
    case TensorDType::kU8:
      return "u8";
    case TensorDType::kI32:
      return "i32";
    case TensorDType::kI64:
      return "i64";
    case TensorDType::kF64:
      return "f64";
    case TensorDType::kBool:
      return "bool";
  }
  return "unknown";
}

size_t TensorDTypeSize(TensorDType t) {
  switch (t) {
    case TensorDType::kF32:
      return 4;
    case TensorDType::kF16:
      return 2;
    case TensorDType::kBF16:
      return 2;
    case TensorDType::kI8:
      return 1;
    case TensorDType::kU8:
      return 1;
    case TensorDType::kI32:
      return 4;
    case TensorDType::kI64:
      return 8;
    case TensorDType::kF64:
      return 8;
    case TensorDType::kBool:
      return 1;
  }
  return 0;
}

int64_t TensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

// IEEE half -> single, exact for every input (normals, subnormals, zeros, inf, NaN payloads).
float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf / NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: normalize; value = mantissa * 2^-24.
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3FFu;
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

}  // namespace

Result<std::vector<float>> ToFloat32(const TensorData& t) {
  const int64_t n = t.info.num_elements();
  const size_t elem = TensorDTypeSize(t.info.dtype);
  if (n < 0 || t.data.size() != static_cast<size_t>(n) * elem) {
    return InvalidArgument("tensor {}: {} bytes of data for {} elements of {}", t.info.name,
                           t.data.size(), n, TensorDTypeName(t.info.dtype));
  }
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = t.data.data();
  switch (t.info.dtype) {
    case TensorDType::kF32:
      if (n > 0) std::memcpy(out.data(), p, out.size() * sizeof(float));
      return out;
    case TensorDType::kF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = HalfToFloat(h);
      }
      return out;
    case TensorDType::kBF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
      }
      return out;
    default:
      return InvalidArgument(
          "tensor {} has dtype {}; expected a float type (f32, f16 or bf16) for weights",
          t.info.name, TensorDTypeName(t.info.dtype));
  }
}

}  // namespace anec::io
