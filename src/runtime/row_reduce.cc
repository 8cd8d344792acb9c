#include "runtime/row_reduce.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/half.h"
#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"

namespace anec::runtime {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kChunk = 1024;  // values converted to fp32 at a time; a multiple of kLanes

template <RowReduction kOp>
inline double Combine(double a, double f) {
  if constexpr (kOp == RowReduction::kSum) return a + f;
  if constexpr (kOp == RowReduction::kMax) return std::max(a, f);
  return std::min(a, f);
}

template <RowReduction kOp>
constexpr double Identity() {
  if constexpr (kOp == RowReduction::kSum) return 0.0;
  if constexpr (kOp == RowReduction::kMax) return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::infinity();
}

#if defined(__x86_64__)
// The 16-lane loop of Rows for maxima and minima over x[0, len) rounded down to whole steps;
// returns the values consumed. GCC leaves std::max / std::min of doubles scalar (an IEEE-exact
// pattern its vectorizer does not take), so by hand: vmaxpd(x, a) is x > a ? x : a and returns
// a for a NaN x, as std::max(a, x) does; likewise vminpd.
template <RowReduction kOp>
__attribute__((target("avx512f"))) int64_t MaxMinAvx512(const float* x, int64_t len, double* acc) {
  __m512d a0 = _mm512_loadu_pd(acc), a1 = _mm512_loadu_pd(acc + 8);
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes) {
    const __m512d x0 = _mm512_cvtps_pd(_mm256_loadu_ps(x + j));
    const __m512d x1 = _mm512_cvtps_pd(_mm256_loadu_ps(x + j + 8));
    a0 = kOp == RowReduction::kMax ? _mm512_max_pd(x0, a0) : _mm512_min_pd(x0, a0);
    a1 = kOp == RowReduction::kMax ? _mm512_max_pd(x1, a1) : _mm512_min_pd(x1, a1);
  }
  _mm512_storeu_pd(acc, a0);
  _mm512_storeu_pd(acc + 8, a1);
  return j;
}
#endif

// One body for every path: the compiler vectorizes the 16-lane loop for the target it is
// inlined into, and lanes are independent, so every path adds the same numbers in the same order.
template <RowReduction kOp, bool kAvx512>
__attribute__((always_inline)) inline void Rows(const Tensor& t, int64_t count, int64_t first,
                                                int64_t last, double* out) {
  float buf[kChunk];
  const bool half = t.dtype() == DType::kFloat16;
  for (int64_t r = first; r < last; ++r) {
    double acc[kLanes];
    std::fill(acc, acc + kLanes, Identity<kOp>());
    for (int64_t c = 0; c < count; c += kChunk) {
      const int64_t len = std::min(kChunk, count - c);
      const int64_t at = r * count + c;
      const float* x = buf;
      if (half) {
        HalfToFloatN(t.data<Half>() + at, buf, len);
      } else {
        x = t.data<float>() + at;
      }
      int64_t j = 0;
#if defined(__x86_64__)
      if constexpr (kAvx512 && kOp != RowReduction::kSum) j = MaxMinAvx512<kOp>(x, len, acc);
#endif
      for (; j + kLanes <= len; j += kLanes) {
        for (int l = 0; l < kLanes; ++l) acc[l] = Combine<kOp>(acc[l], double{x[j + l]});
      }
      for (; j < len; ++j) acc[j % kLanes] = Combine<kOp>(acc[j % kLanes], double{x[j]});
    }
    for (int width = kLanes / 2; width >= 1; width /= 2) {
      for (int l = 0; l < width; ++l) acc[l] = Combine<kOp>(acc[l], acc[l + width]);
    }
    out[r - first] = acc[0];
  }
}

template <RowReduction kOp>
void RowsPortable(const Tensor& t, int64_t count, int64_t first, int64_t last, double* out) {
  Rows<kOp, false>(t, count, first, last, out);
}

#if defined(__x86_64__)
template <RowReduction kOp>
__attribute__((target("avx512f"))) void RowsAvx512(const Tensor& t, int64_t count, int64_t first,
                                                   int64_t last, double* out) {
  Rows<kOp, true>(t, count, first, last, out);
}
#endif

template <RowReduction kOp>
void Dispatch(const Tensor& t, int64_t count, int64_t first, int64_t last, double* out) {
#if defined(__x86_64__)
  if (RowKernelSimdPath() == SimdPath::kAvx512) return RowsAvx512<kOp>(t, count, first, last, out);
#endif
  RowsPortable<kOp>(t, count, first, last, out);
}

}  // namespace

void ReduceRows(const Tensor& t, int64_t count, RowReduction op, int64_t first, int64_t last,
                double* out) {
  switch (op) {
    case RowReduction::kSum:
      return Dispatch<RowReduction::kSum>(t, count, first, last, out);
    case RowReduction::kMax:
      return Dispatch<RowReduction::kMax>(t, count, first, last, out);
    case RowReduction::kMin:
      return Dispatch<RowReduction::kMin>(t, count, first, last, out);
  }
}

}  // namespace anec::runtime
