#include "runtime/elementwise.h"

namespace anec::runtime {

bool IsSuffixBroadcast(const Shape& operand, const Shape& out) {
  size_t lead = 0;
  while (lead < operand.size() && operand[lead] == 1) ++lead;
  const size_t rest = operand.size() - lead;
  if (rest > out.size()) return false;
  return std::equal(operand.begin() + static_cast<std::ptrdiff_t>(lead), operand.end(),
                    out.end() - static_cast<std::ptrdiff_t>(rest));
}

namespace elementwise_internal {

void LoadBlock(const Tensor& t, int64_t begin, int64_t n, float* buf) {
  const int64_t size = t.size();
  if (size == 1) {
    std::fill(buf, buf + n, t.FloatAt(0));
    return;
  }
  int64_t idx = begin % size, done = 0;
  while (done < n) {
    const int64_t run = std::min(n - done, size - idx);
    if (t.dtype() == DType::kFloat16) {
      HalfToFloatN(t.data<Half>() + idx, buf + done, run);
    } else {
      std::memcpy(buf + done, t.data<float>() + idx, static_cast<size_t>(run) * sizeof(float));
    }
    done += run;
    idx = 0;
  }
}

void StoreBlock(const float* buf, int64_t n, int64_t begin, Tensor* out) {
  if (out->dtype() == DType::kFloat16) {
    FloatToHalfN(buf, out->mutable_data<Half>() + begin, n);
  } else {
    std::memcpy(out->mutable_data<float>() + begin, buf, static_cast<size_t>(n) * sizeof(float));
  }
}

}  // namespace elementwise_internal
}  // namespace anec::runtime
