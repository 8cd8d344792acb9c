#include "runtime/row_reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "runtime/half.h"
#include "runtime/row_kernels.h"

namespace anec::runtime {
namespace {

// The documented order, written out: lane j mod 16 in order, then the tree.
double Reference(const std::vector<float>& v, int64_t begin, int64_t count, RowReduction op) {
  auto combine = [op](double a, double f) {
    return op == RowReduction::kSum   ? a + f
           : op == RowReduction::kMax ? std::max(a, f)
                                      : std::min(a, f);
  };
  const double init = op == RowReduction::kSum   ? 0.0
                      : op == RowReduction::kMax ? -std::numeric_limits<double>::infinity()
                                                 : std::numeric_limits<double>::infinity();
  std::vector<double> lane(16, init);
  for (int64_t j = 0; j < count; ++j) {
    lane[static_cast<size_t>(j % 16)] =
        combine(lane[static_cast<size_t>(j % 16)], v[static_cast<size_t>(begin + j)]);
  }
  for (size_t w = 8; w >= 1; w /= 2) {
    for (size_t l = 0; l < w; ++l) lane[l] = combine(lane[l], lane[l + w]);
  }
  return lane[0];
}

// Row lengths around the 16 lanes and the 1,024-value conversion chunk, fp32 and fp16, both
// paths: bit for bit the documented order, and within rounding of an in-order double sum.
TEST(ReduceRowsTest, EveryPathTakesTheDocumentedOrder) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int64_t count : {1, 7, 16, 17, 100, 1024, 1025, 2100}) {
    const int64_t rows = 5;
    std::vector<float> v(static_cast<size_t>(rows * count));
    for (float& f : v) f = RoundToHalf(normal(rng));  // exact in fp16 too
    for (bool half : {false, true}) {
      Tensor t = Tensor::FromFloats(half ? DType::kFloat16 : DType::kFloat32, {rows, count}, v);
      for (bool portable : {false, true}) {
        ForcePortableRowKernels(portable);
        for (RowReduction op : {RowReduction::kSum, RowReduction::kMax, RowReduction::kMin}) {
          std::vector<double> out(rows, -1.0);
          ReduceRows(t, count, op, 1, rows, out.data());  // rows 1..4, written from out[0]
          for (int64_t r = 1; r < rows; ++r) {
            const double want = Reference(v, r * count, count, op);
            ASSERT_EQ(out[static_cast<size_t>(r - 1)], want)
                << "count " << count << " half " << half << " portable " << portable << " row "
                << r;
            if (op == RowReduction::kSum) {
              double in_order = 0;
              for (int64_t j = 0; j < count; ++j) in_order += v[static_cast<size_t>(r * count + j)];
              EXPECT_NEAR(want, in_order, 1e-9 * static_cast<double>(count));
            }
          }
          EXPECT_EQ(out[rows - 1], -1.0);  // nothing written past last - first
        }
      }
    }
  }
  ForcePortableRowKernels(false);
}

// NaN: sums carry it, maxima and minima skip it (std::max / std::min with the accumulator first).
TEST(ReduceRowsTest, NanPropagatesThroughSumsOnly) {
  std::vector<float> v(40, 1.0f);
  v[21] = std::numeric_limits<float>::quiet_NaN();
  v[5] = 3.0f;
  Tensor t = Tensor::FromFloats(DType::kFloat32, {1, 40}, v);
  double out = 0;
  ReduceRows(t, 40, RowReduction::kSum, 0, 1, &out);
  EXPECT_TRUE(std::isnan(out));
  ReduceRows(t, 40, RowReduction::kMax, 0, 1, &out);
  EXPECT_EQ(out, 3.0);
  ReduceRows(t, 40, RowReduction::kMin, 0, 1, &out);
  EXPECT_EQ(out, 1.0);
}

}  // namespace
}  // namespace anec::runtime
