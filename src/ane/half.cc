#include "ane/half.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace anec::ane {

uint16_t FloatToHalf(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Subnormal fp16 (or zero): value = abs_float / 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25 rounds to 0
    uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    int shift = 126 - static_cast<int>(abs >> 23);  // 14 + (113 - exp) ... bits to drop - 10
    // value = mant * 2^(exp-150); in units of 2^-24: mant * 2^(exp-126) -> right shift by 126-exp
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  // Normal: rebias exponent, round mantissa 23 -> 10 bits to nearest even.
  uint32_t h = ((abs - 0x38000000u) >> 13);
  uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

namespace {

Status ConvertInto(const io::TensorData& t, int64_t begin, int64_t end, uint8_t* dst) {
  int64_t n = t.info.num_elements();
  if (begin < 0 || end < begin || end > n) {
    return Internal("tensor {}: element range [{}, {}) outside its {} elements", t.info.name, begin,
                    end, n);
  }
  size_t elem = io::TensorDTypeSize(t.info.dtype);
  if (t.data.size() < static_cast<size_t>(n) * elem) {
    return Corrupt("tensor {}: {} bytes for {} elements of {}", t.info.name, t.data.size(), n,
                   io::TensorDTypeName(t.info.dtype));
  }
  const size_t count = static_cast<size_t>(end - begin);
  auto put = [dst](size_t i, uint16_t h) { std::memcpy(dst + 2 * i, &h, 2); };
  const uint8_t* p = t.data.data() + static_cast<size_t>(begin) * elem;
  auto check = [&](size_t i, float f, uint16_t h) -> Status {
    if ((h & 0x7c00u) == 0x7c00u && std::isfinite(f)) {
      return InvalidArgument(
          "tensor {}: element {} = {} overflows fp16 (max 65504); the Neural Engine computes in "
          "fp16, so this checkpoint cannot be converted without rescaling",
          t.info.name, begin + static_cast<int64_t>(i), f);
    }
    return Status::Ok();
  };
  switch (t.info.dtype) {
    case io::TensorDType::kF16:
      std::memcpy(dst, p, count * 2);
      return Status::Ok();
    case io::TensorDType::kBF16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t b;
        std::memcpy(&b, p + 2 * i, 2);
        float f = std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
        const uint16_t h = FloatToHalf(f);
        if ((h & 0x7c00u) == 0x7c00u) ANEC_RETURN_IF_ERROR(check(i, f, h));
        put(i, h);
      }
      return Status::Ok();
    case io::TensorDType::kF32:
      for (size_t i = 0; i < count; ++i) {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        const uint16_t h = FloatToHalf(f);
        if ((h & 0x7c00u) == 0x7c00u) ANEC_RETURN_IF_ERROR(check(i, f, h));
        put(i, h);
      }
      return Status::Ok();
    case io::TensorDType::kF64:
      for (size_t i = 0; i < count; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        float f = static_cast<float>(d);
        const uint16_t h = FloatToHalf(f);
        if ((h & 0x7c00u) == 0x7c00u) ANEC_RETURN_IF_ERROR(check(i, f, h));
        put(i, h);
      }
      return Status::Ok();
    default:
      return InvalidArgument("tensor {}: dtype {} is not a float type; expected F32, F16 or BF16",
                             t.info.name, io::TensorDTypeName(t.info.dtype));
  }
}

}  // namespace

Result<std::vector<uint16_t>> ToHalfRange(const io::TensorData& t, int64_t begin, int64_t end) {
  std::vector<uint16_t> out(static_cast<size_t>(std::max<int64_t>(end - begin, 0)));
  ANEC_RETURN_IF_ERROR(ConvertInto(t, begin, end, reinterpret_cast<uint8_t*>(out.data())));
  return out;
}

Result<std::vector<uint8_t>> ToHalfBytes(const io::TensorData& t, int64_t begin, int64_t end) {
  std::vector<uint8_t> out(static_cast<size_t>(std::max<int64_t>(end - begin, 0)) * 2);
  ANEC_RETURN_IF_ERROR(ConvertInto(t, begin, end, out.data()));
  return out;
}

Result<std::vector<uint16_t>> ToHalf(const io::TensorData& t) {
  return ToHalfRange(t, 0, t.info.num_elements());
}

}  // namespace anec::ane
