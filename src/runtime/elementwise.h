// Elementwise float maps over fp16 / fp32 tensors without whole-tensor float copies: operands
// are converted to fp32 in blocks on the stack, the result is rounded once to the output dtype
// (as the general kernels do, so results are identical), and large tensors are split over the
// thread pool. The kernels in kernels_math.cc use it when their operands allow.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "runtime/half.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

namespace anec::runtime {

// True when element o of a tensor of shape `out` reads element (o mod operand size) of
// `operand`: the operand's shape, leading 1s aside, is a suffix of `out` (same shape, a scalar,
// or a row repeated over the leading dims, such as a norm's gamma or a bias).
bool IsSuffixBroadcast(const Shape& operand, const Shape& out);
// When element o of a tensor of shape `out` reads element ((o / repeat) mod operand size) of
// `operand`, the repeat; otherwise nullopt. Besides the suffix broadcasts (repeat 1), this covers
// an operand whose trailing dims are 1 where out's are not, such as a softmax's per-row max or
// sum ([1, 9, 64, 1] against [1, 9, 64, 512]: repeat 512).
std::optional<int64_t> BlockBroadcastRepeat(const Shape& operand, const Shape& out);
// fp16 or fp32 (the dtypes the block loaders read).
inline bool IsBlockFloat(DType t) { return t == DType::kFloat16 || t == DType::kFloat32; }

namespace elementwise_internal {
constexpr int64_t kBlock = 1024;
// Tensors this large are split over the pool.
constexpr int64_t kParallelElements = 32768;

// buf[i] = t[((begin + i) / repeat) mod t.size()] for i < n. REQUIRES: IsBlockFloat(t.dtype()),
// repeat >= 1.
void LoadBlock(const Tensor& t, int64_t begin, int64_t n, float* buf, int64_t repeat = 1);
// out[begin + i] = buf[i] rounded to out's dtype. REQUIRES: IsBlockFloat(out->dtype()).
void StoreBlock(const float* buf, int64_t n, int64_t begin, Tensor* out);

template <typename Work>
void ForBlocks(int64_t n, ThreadPool* pool, const Work& work) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (pool != nullptr && n >= kParallelElements) {
    pool->ParallelFor(blocks, 4, work);
  } else {
    work(0, blocks);
  }
}
}  // namespace elementwise_internal

// An fp32 buffer whose values are unspecified until written (std::vector<float> zero-fills).
using FloatBuffer = std::unique_ptr<float[]>;
inline FloatBuffer NewFloats(int64_t n) { return FloatBuffer(new float[static_cast<size_t>(n)]); }

// t's values as fp32 into out[0, t.size()), as Tensor::ToFloats gives them; fp16 / fp32 are
// converted a block at a time over the pool when large (the rest serially). For the inputs of the
// weight products and attention, whose conversion otherwise runs on one thread between two
// parallel calls. REQUIRES: out holds t.size() floats; t is a numeric, dense tensor.
void ToFloatsPooled(const Tensor& t, float* out, ThreadPool* pool);
// Tensor::FromFloats(dtype, shape, values), with fp16 / fp32 stored a block at a time over the
// pool when large. REQUIRES: values holds NumElements(shape) floats.
Tensor FromFloatsPooled(DType dtype, Shape shape, const float* values, ThreadPool* pool);

// out[o] = fn(a at o, b at o) in fp32 (numpy broadcasting), stored as `out_dtype`.
// REQUIRES: BlockBroadcastRepeat(a, shape) and BlockBroadcastRepeat(b, shape) have values; a, b
// and out_dtype IsBlockFloat.
template <typename Fn>
Tensor MapBinary(const Tensor& a, const Tensor& b, Shape shape, DType out_dtype, ThreadPool* pool,
                 Fn fn) {
  using namespace elementwise_internal;  // NOLINT
  const int64_t repeat_a = BlockBroadcastRepeat(a.shape(), shape).value_or(1);
  const int64_t repeat_b = BlockBroadcastRepeat(b.shape(), shape).value_or(1);
  Tensor out = Tensor::Uninitialized(out_dtype, std::move(shape));
  const int64_t n = out.size();
  ForBlocks(n, pool, [&](int64_t first, int64_t last) {
    float x[kBlock], y[kBlock], z[kBlock];
    for (int64_t blk = first; blk < last; ++blk) {
      const int64_t s = blk * kBlock, len = std::min(kBlock, n - s);
      LoadBlock(a, s, len, x, repeat_a);
      LoadBlock(b, s, len, y, repeat_b);
      for (int64_t i = 0; i < len; ++i) z[i] = fn(x[i], y[i]);
      StoreBlock(z, len, s, &out);
    }
  });
  return out;
}

// x's values in fp32, transformed in place by block_fn(float* values, int64_t count) a block
// (at most kBlock values) at a time, stored in x's dtype: for maps that run several values per
// instruction (ExpN). REQUIRES: IsBlockFloat(x.dtype()).
template <typename BlockFn>
Tensor MapUnaryBlocks(const Tensor& x, ThreadPool* pool, BlockFn block_fn) {
  using namespace elementwise_internal;  // NOLINT
  Tensor out = Tensor::Uninitialized(x.dtype(), x.shape());
  const int64_t n = out.size();
  ForBlocks(n, pool, [&](int64_t first, int64_t last) {
    float v[kBlock];
    for (int64_t blk = first; blk < last; ++blk) {
      const int64_t s = blk * kBlock, len = std::min(kBlock, n - s);
      LoadBlock(x, s, len, v);
      block_fn(v, len);
      StoreBlock(v, len, s, &out);
    }
  });
  return out;
}

// out[o] = fn(x[o]) in fp32, stored in x's dtype. REQUIRES: IsBlockFloat(x.dtype()).
template <typename Fn>
Tensor MapUnary(const Tensor& x, ThreadPool* pool, Fn fn) {
  return MapUnaryBlocks(x, pool, [&fn](float* v, int64_t len) {
    for (int64_t i = 0; i < len; ++i) v[i] = fn(v[i]);
  });
}

}  // namespace anec::runtime
