// Strided element walks shared by slicing, slice_update and transpose.
#pragma once

#include <cstdint>
#include <vector>

namespace anec::runtime {

// Walks an index space of `counts` (row-major). A position c maps to the strided element
// offset base + sum_k c_k * steps[k] and to its dense row-major number. Calls
// fn(dense_offset, strided_offset, run) for runs of `run` consecutive elements on both sides
// (run > 1 only when the innermost step is 1).
template <typename Fn>
void ForEachRun(const std::vector<int64_t>& counts, int64_t base, const std::vector<int64_t>& steps,
                Fn fn) {
  const size_t r = counts.size();
  int64_t total = 1;
  for (int64_t c : counts) total *= c;
  if (total == 0) return;
  if (r == 0) {
    fn(int64_t{0}, base, int64_t{1});
    return;
  }
  const int64_t inner = counts[r - 1];
  const int64_t inner_step = steps[r - 1];
  std::vector<int64_t> coord(r, 0);
  int64_t dense = 0;
  while (dense < total) {
    int64_t off = base;
    for (size_t k = 0; k + 1 < r; ++k) off += coord[k] * steps[k];
    if (inner_step == 1) {
      fn(dense, off, inner);
    } else {
      for (int64_t i = 0; i < inner; ++i) fn(dense + i, off + i * inner_step, int64_t{1});
    }
    dense += inner;
    for (int64_t k = static_cast<int64_t>(r) - 2; k >= 0; --k) {
      if (++coord[static_cast<size_t>(k)] < counts[static_cast<size_t>(k)]) break;
      coord[static_cast<size_t>(k)] = 0;
    }
  }
}

// As ForEachRun, one call per innermost row: fn(dense_offset, strided_offset, count, step) for
// the row's `count` elements at strided_offset + i * step (dense ones consecutive).
template <typename Fn>
void ForEachRow(const std::vector<int64_t>& counts, int64_t base, const std::vector<int64_t>& steps,
                Fn fn) {
  const size_t r = counts.size();
  int64_t total = 1;
  for (int64_t c : counts) total *= c;
  if (total == 0) return;
  if (r == 0) {
    fn(int64_t{0}, base, int64_t{1}, int64_t{1});
    return;
  }
  const int64_t inner = counts[r - 1];
  std::vector<int64_t> coord(r, 0);
  for (int64_t dense = 0; dense < total; dense += inner) {
    int64_t off = base;
    for (size_t k = 0; k + 1 < r; ++k) off += coord[k] * steps[k];
    fn(dense, off, inner, steps[r - 1]);
    for (int64_t k = static_cast<int64_t>(r) - 2; k >= 0; --k) {
      if (++coord[static_cast<size_t>(k)] < counts[static_cast<size_t>(k)]) break;
      coord[static_cast<size_t>(k)] = 0;
    }
  }
}

}  // namespace anec::runtime
