// Strided element walks shared by slicing, slice_update and transpose.
#pragma once

#include <cstdint>
#include <vector>

namespace anec::runtime {

// Walks an index space of `counts` (row-major). A position c maps to the strided element
// offset base + sum_k c_k * steps[k] and to its dense row-major number. Calls
// fn(dense_offset, strided_offset, count, step) once per innermost row: its `count` elements
// are at strided_offset + i * step and dense_offset + i.
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

// As ForEachRow, in runs of consecutive elements on both sides: fn(dense_offset,
// strided_offset, run), run > 1 only when the innermost step is 1.
template <typename Fn>
void ForEachRun(const std::vector<int64_t>& counts, int64_t base, const std::vector<int64_t>& steps,
                Fn fn) {
  ForEachRow(counts, base, steps, [&](int64_t dense, int64_t off, int64_t count, int64_t step) {
    if (step == 1) {
      fn(dense, off, count);
    } else {
      for (int64_t i = 0; i < count; ++i) fn(dense + i, off + i * step, int64_t{1});
    }
  });
}

}  // namespace anec::runtime
