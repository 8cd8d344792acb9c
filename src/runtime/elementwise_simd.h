// The arithmetic binary ops (add, sub, mul, real_div, maximum, minimum) on fp16 / fp32 tensors,
// 16 values per AVX-512 instruction, converted and computed in registers. MapBinary goes through
// fp32 blocks in memory, with the op compiled for the baseline x86-64 (4 values per instruction):
// on a SmolLM2 prefill the softmax's `sub` and `real_div` took 62-72 us per 295k values.
#pragma once

#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

namespace anec::runtime {

enum class SimdBinary { kAdd, kSub, kMul, kDiv, kMax, kMin };

// If this CPU has AVX-512 and each operand is either of out's size, a single value, a row of a
// multiple of 16 values repeated (a norm's gamma, a bias), or broadcast in runs of a multiple of
// 16 equal values (a softmax's per-row max or sum: BlockBroadcastRepeat), sets *out to
// a (op) b over `shape` in `out_dtype` and returns true; otherwise returns false and leaves *out.
// The result equals MapBinary with Apply's fp32 arithmetic bit for bit: the same IEEE operation
// per element, maximum as (a < b ? b : a) and minimum as (b < a ? b : a) (std::max / std::min),
// one rounding to the output dtype.
// REQUIRES: a, b and out_dtype are fp16 or fp32; shape is their broadcast shape.
bool TryMapBinarySimd(SimdBinary op, const Tensor& a, const Tensor& b, const Shape& shape,
                      DType out_dtype, ThreadPool* pool, Tensor* out);

}  // namespace anec::runtime
