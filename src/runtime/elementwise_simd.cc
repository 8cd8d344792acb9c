#include "runtime/elementwise_simd.h"

#include <algorithm>
#include <optional>

#include "runtime/elementwise.h"
#include "runtime/half.h"
#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"  // nothing here reads an uninitialized value

namespace anec::runtime {

#if defined(__x86_64__)
namespace {

// How an operand's elements line up with the output's: element o of the output reads
//   kDense: o;  kScalar: 0;  kRows: o mod size;  kRuns: (o / repeat) mod size.
// For kRows and kRuns, 16 consecutive outputs starting at a multiple of 16 read 16 consecutive
// elements (kRows) or one element (kRuns).
enum class Mode { kDense, kScalar, kRows, kRuns };

struct Operand {
  Mode mode = Mode::kDense;
  const void* data = nullptr;
  bool half = false;
  int64_t size = 1, repeat = 1;
};

std::optional<Operand> Classify(const Tensor& t, const Shape& shape, int64_t n) {
  const std::optional<int64_t> repeat = BlockBroadcastRepeat(t.shape(), shape);
  if (!repeat.has_value()) return std::nullopt;
  Operand o;
  o.data = t.bytes();
  o.half = t.dtype() == DType::kFloat16;
  o.size = t.size();
  o.repeat = *repeat;
  if (o.size == n) {
    o.mode = Mode::kDense;
  } else if (o.size == 1) {
    o.mode = Mode::kScalar;
  } else if (o.repeat == 1 && o.size % 16 == 0) {
    o.mode = Mode::kRows;
  } else if (o.repeat > 1 && o.repeat % 16 == 0) {
    o.mode = Mode::kRuns;
  } else {
    return std::nullopt;
  }
  return o;
}

inline int64_t Index(const Operand& o, int64_t i) {
  switch (o.mode) {
    case Mode::kDense:
      return i;
    case Mode::kScalar:
      return 0;
    case Mode::kRows:
      return i % o.size;
    case Mode::kRuns:
      return (i / o.repeat) % o.size;
  }
  return 0;
}

inline float ScalarAt(const Operand& o, int64_t i) {
  const int64_t at = Index(o, i);
  return o.half ? HalfToFloat(static_cast<const Half*>(o.data)[at])
                : static_cast<const float*>(o.data)[at];
}

inline float Scalar(SimdBinary op, float a, float b) {
  switch (op) {
    case SimdBinary::kAdd:
      return a + b;
    case SimdBinary::kSub:
      return a - b;
    case SimdBinary::kMul:
      return a * b;
    case SimdBinary::kDiv:
      return a / b;
    case SimdBinary::kMax:
      return a < b ? b : a;
    case SimdBinary::kMin:
      return b < a ? b : a;
  }
  return 0;
}

#define ANEC_SIMD_BINARY __attribute__((target("avx512f")))

// An operand's position in the output, advanced 16 outputs at a time without divisions (one
// per vector was the loop's cost: a 64-bit division takes tens of cycles).
struct Cursor {
  const Operand* o;
  int64_t at;      // element of the operand for the current vector's first output
  int64_t within;  // kRuns: position in the current run
};

inline Cursor CursorAt(const Operand& o, int64_t i) {
  return {&o, Index(o, i), o.mode == Mode::kRuns ? i % o.repeat : 0};
}

inline void Advance16(Cursor& c) {
  switch (c.o->mode) {
    case Mode::kDense:
      c.at += 16;
      break;
    case Mode::kScalar:
      break;
    case Mode::kRows:
      c.at += 16;
      if (c.at == c.o->size) c.at = 0;
      break;
    case Mode::kRuns:
      c.within += 16;
      if (c.within == c.o->repeat) {
        c.within = 0;
        if (++c.at == c.o->size) c.at = 0;
      }
      break;
  }
}

ANEC_SIMD_BINARY inline __m512 Load16(const Cursor& c) {
  const Operand& o = *c.o;
  if (o.mode == Mode::kScalar || o.mode == Mode::kRuns) {
    return _mm512_set1_ps(o.half ? HalfToFloat(static_cast<const Half*>(o.data)[c.at])
                                 : static_cast<const float*>(o.data)[c.at]);
  }
  if (o.half) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const Half*>(o.data) + c.at)));
  }
  return _mm512_loadu_ps(static_cast<const float*>(o.data) + c.at);
}

// vmaxps / vminps return their second operand when either is NaN, as the scalar forms above do
// with the operands in this order.
template <SimdBinary kOp>
ANEC_SIMD_BINARY inline __m512 Apply16(__m512 a, __m512 b) {
  switch (kOp) {
    case SimdBinary::kAdd:
      return _mm512_add_ps(a, b);
    case SimdBinary::kSub:
      return _mm512_sub_ps(a, b);
    case SimdBinary::kMul:
      return _mm512_mul_ps(a, b);
    case SimdBinary::kDiv:
      return _mm512_div_ps(a, b);
    case SimdBinary::kMax:
      return _mm512_max_ps(b, a);
    case SimdBinary::kMin:
      return _mm512_min_ps(b, a);
  }
  return a;
}

// Outputs [16 * first, min(16 * last, n)).
template <SimdBinary kOp>
ANEC_SIMD_BINARY void Run(const Operand& a, const Operand& b, int64_t n, Tensor* out, int64_t first,
                          int64_t last) {
  const bool half = out->dtype() == DType::kFloat16;
  const int64_t end = std::min(16 * last, n);
  int64_t i = 16 * first;
  Cursor ca = CursorAt(a, i), cb = CursorAt(b, i);
  for (; i + 16 <= end; i += 16, Advance16(ca), Advance16(cb)) {
    const __m512 z = Apply16<kOp>(Load16(ca), Load16(cb));
    if (half) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out->mutable_data<Half>() + i),
                          _mm512_cvtps_ph(z, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    } else {
      _mm512_storeu_ps(out->mutable_data<float>() + i, z);
    }
  }
  for (; i < end; ++i) {
    const float z = Scalar(kOp, ScalarAt(a, i), ScalarAt(b, i));
    if (half) {
      out->mutable_data<Half>()[i] = FloatToHalf(z);
    } else {
      out->mutable_data<float>()[i] = z;
    }
  }
}

template <SimdBinary kOp>
void RunOnPool(const Operand& a, const Operand& b, int64_t n, ThreadPool* pool, Tensor* out) {
  const int64_t vectors = (n + 15) / 16;
  if (pool != nullptr && n >= elementwise_internal::kParallelElements) {
    pool->ParallelFor(vectors, 64,
                      [&](int64_t first, int64_t last) { Run<kOp>(a, b, n, out, first, last); });
  } else {
    Run<kOp>(a, b, n, out, 0, vectors);
  }
}

}  // namespace

bool TryMapBinarySimd(SimdBinary op, const Tensor& a, const Tensor& b, const Shape& shape,
                      DType out_dtype, ThreadPool* pool, Tensor* out) {
  if (RowKernelSimdPath() != SimdPath::kAvx512) return false;
  const int64_t n = NumElements(shape);
  const std::optional<Operand> oa = Classify(a, shape, n), ob = Classify(b, shape, n);
  if (!oa.has_value() || !ob.has_value() || n == 0) return false;
  Tensor result = Tensor::Uninitialized(out_dtype, shape);
  switch (op) {
    case SimdBinary::kAdd:
      RunOnPool<SimdBinary::kAdd>(*oa, *ob, n, pool, &result);
      break;
    case SimdBinary::kSub:
      RunOnPool<SimdBinary::kSub>(*oa, *ob, n, pool, &result);
      break;
    case SimdBinary::kMul:
      RunOnPool<SimdBinary::kMul>(*oa, *ob, n, pool, &result);
      break;
    case SimdBinary::kDiv:
      RunOnPool<SimdBinary::kDiv>(*oa, *ob, n, pool, &result);
      break;
    case SimdBinary::kMax:
      RunOnPool<SimdBinary::kMax>(*oa, *ob, n, pool, &result);
      break;
    case SimdBinary::kMin:
      RunOnPool<SimdBinary::kMin>(*oa, *ob, n, pool, &result);
      break;
  }
  *out = std::move(result);
  return true;
}

#else  // not x86-64: MapBinary runs instead

bool TryMapBinarySimd(SimdBinary, const Tensor&, const Tensor&, const Shape&, DType, ThreadPool*,
                      Tensor*) {
  return false;
}

#endif

}  // namespace anec::runtime
