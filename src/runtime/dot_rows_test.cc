#include "runtime/dot_rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "runtime/row_kernels.h"

namespace anec::runtime {
namespace {

// Every row count around the 16-row step, k with and without a partial 16-lane chunk, rows
// wider than k (a strided cache): each result against a double-precision dot of that row.
TEST(DotF16RowsTest, MatchesDoubleDotsOnEveryPath) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (bool portable : {false, true}) {
    ForcePortableRowKernels(portable);
    for (int64_t k : {1, 15, 16, 64, 100}) {
      for (int64_t count : {1, 15, 16, 17, 40}) {
        const int64_t stride = k + 3;
        std::vector<float> x(static_cast<size_t>(k));
        for (float& v : x) v = normal(rng);
        std::vector<Half> rows(static_cast<size_t>(count * stride));
        for (Half& h : rows) h = FloatToHalf(normal(rng));
        std::vector<float> out(static_cast<size_t>(count), -1.0f);
        DotF16Rows(x.data(), rows.data(), stride, count, k, out.data());
        for (int64_t j = 0; j < count; ++j) {
          double want = 0, scale = 0;
          for (int64_t c = 0; c < k; ++c) {
            const double term = double{x[static_cast<size_t>(c)]} *
                                HalfToFloat(rows[static_cast<size_t>(j * stride + c)]);
            want += term;
            scale += std::abs(term);
          }
          ASSERT_NEAR(out[static_cast<size_t>(j)], want, 1e-6 * scale + 1e-30)
              << "k " << k << " count " << count << " row " << j << " portable " << portable;
        }
      }
    }
  }
  ForcePortableRowKernels(false);
}

// Weights @ V: the bits of one AxpyF16 per row with a nonzero weight, for widths kept in
// registers (multiples of 16 up to 128) and the others.
TEST(AxpyF16RowsTest, EqualsOneAxpyPerRow) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (bool portable : {false, true}) {
    ForcePortableRowKernels(portable);
    for (int64_t n : {16, 48, 64, 72, 80, 128, 144}) {
      const int64_t count = 37, stride = n + 8;
      std::vector<float> a(static_cast<size_t>(count)), start(static_cast<size_t>(n));
      for (size_t r = 0; r < a.size(); ++r) a[r] = r % 5 == 2 ? 0.0f : normal(rng);
      for (float& v : start) v = normal(rng);
      std::vector<Half> rows(static_cast<size_t>(count * stride));
      for (Half& h : rows) h = FloatToHalf(normal(rng));
      std::vector<float> want = start, got = start;
      for (int64_t r = 0; r < count; ++r) {
        if (a[static_cast<size_t>(r)] != 0.0f) {
          AxpyF16(a[static_cast<size_t>(r)], rows.data() + r * stride, want.data(), n);
        }
      }
      AxpyF16Rows(a.data(), count, rows.data(), stride, got.data(), n);
      EXPECT_EQ(got, want) << "n " << n << " portable " << portable;
    }
  }
  ForcePortableRowKernels(false);
}

}  // namespace
}  // namespace anec::runtime
