#include "ane/half.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace anec::ane {

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
