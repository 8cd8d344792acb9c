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

std::optional<int64_t> BlockBroadcastRepeat(const Shape& operand, const Shape& out) {
  if (operand.size() > out.size()) {
    if (!std::all_of(operand.begin(), operand.end() - static_cast<std::ptrdiff_t>(out.size()),
                     [](int64_t d) { return d == 1; })) {
      return std::nullopt;
    }
  }
  // The operand aligned to out's rank (leading 1s added or dropped).
  Shape aligned(out.size(), 1);
  for (size_t i = 0; i < std::min(operand.size(), out.size()); ++i) {
    aligned[aligned.size() - 1 - i] = operand[operand.size() - 1 - i];
  }
  // Trailing axes where the operand is 1 repeat each of its elements.
  size_t kept = aligned.size();
  int64_t repeat = 1;
  while (kept > 0 && aligned[kept - 1] == 1) repeat *= out[--kept];
  // The rest must be a suffix broadcast of out's leading axes.
  Shape rest(aligned.begin(), aligned.begin() + static_cast<std::ptrdiff_t>(kept));
  Shape out_rest(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(kept));
  if (!IsSuffixBroadcast(rest, out_rest)) return std::nullopt;
  return repeat;
}

namespace elementwise_internal {

void LoadBlock(const Tensor& t, int64_t begin, int64_t n, float* buf, int64_t repeat) {
  const int64_t size = t.size();
  if (repeat > 1 && size > 1) {
    // Runs of one repeated element.
    for (int64_t done = 0, o = begin; done < n;) {
      const int64_t run = std::min(n - done, repeat - o % repeat);
      std::fill(buf + done, buf + done + run, t.FloatAt((o / repeat) % size));
      done += run;
      o += run;
    }
    return;
  }
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

void ToFloatsPooled(const Tensor& t, float* out, ThreadPool* pool) {
  using namespace elementwise_internal;  // NOLINT
  const int64_t n = t.size();
  if (!IsBlockFloat(t.dtype())) {
    for (int64_t i = 0; i < n; ++i) out[i] = t.FloatAt(i);
    return;
  }
  ForBlocks(n, pool, [&](int64_t first, int64_t last) {
    for (int64_t blk = first; blk < last; ++blk) {
      const int64_t s = blk * kBlock;
      LoadBlock(t, s, std::min(kBlock, n - s), out + s);
    }
  });
}

Tensor FromFloatsPooled(DType dtype, Shape shape, const float* values, ThreadPool* pool) {
  using namespace elementwise_internal;  // NOLINT
  const int64_t n = NumElements(shape);
  if (!IsBlockFloat(dtype)) {
    return Tensor::FromFloats(dtype, std::move(shape), {values, static_cast<size_t>(n)});
  }
  Tensor out = Tensor::Uninitialized(dtype, std::move(shape));
  ForBlocks(n, pool, [&](int64_t first, int64_t last) {
    for (int64_t blk = first; blk < last; ++blk) {
      const int64_t s = blk * kBlock;
      StoreBlock(values + s, std::min(kBlock, n - s), s, &out);
    }
  });
  return out;
}

}  // namespace anec::runtime
