// Sums, maxima and minima along the rows of an fp16 / fp32 tensor, read in place: the trailing-
// axis reductions of a softmax (`reduce_max`, `reduce_sum` over each score row) and of norms.
// Converting the whole tensor to fp32 first and summing each row in one sequential chain of
// double additions took 100-130 us per softmax reduction of SmolLM2's prefill.
#pragma once

#include <cstdint>

#include "runtime/tensor.h"

namespace anec::runtime {

enum class RowReduction { kSum, kMax, kMin };

// out[r - first] = the reduction of elements [r * count, (r + 1) * count) of t, for r in
// [first, last), in double precision.
//
// The order is fixed, so results do not depend on the thread count or the CPU: element j of a row
// goes to accumulator j mod 16, each accumulator adds its elements in order, and the 16 are then
// combined as a[l] + a[l + 8], then + 4, + 2, + 1. Maxima and minima are exact in any order;
// they skip NaN elements, as std::max(acc, x) and std::min(acc, x) do.
// REQUIRES: t is fp16 or fp32, count >= 1, 0 <= first <= last, last * count <= t.size().
void ReduceRows(const Tensor& t, int64_t count, RowReduction op, int64_t first, int64_t last,
                double* out);

}  // namespace anec::runtime
