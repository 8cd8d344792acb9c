#include "runtime/elementwise_simd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "runtime/elementwise.h"
#include "runtime/row_kernels.h"

namespace anec::runtime {
namespace {

float Reference(SimdBinary op, float x, float y) {
  switch (op) {
    case SimdBinary::kAdd:
      return x + y;
    case SimdBinary::kSub:
      return x - y;
    case SimdBinary::kMul:
      return x * y;
    case SimdBinary::kDiv:
      return x / y;
    case SimdBinary::kMax:
      return std::max(x, y);
    case SimdBinary::kMin:
      return std::min(x, y);
  }
  return 0;
}

Tensor Random(DType t, Shape shape, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> v(static_cast<size_t>(NumElements(shape)));
  const float specials[] = {0.0f,
                            -0.0f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            70000.0f};
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 37 == 3 ? specials[(i / 37) % 6] : normal(rng);
  return Tensor::FromFloats(t, std::move(shape), v);
}

// Every op, on every operand layout the fast path takes (same shape, a scalar, a repeated row, runs
// of a softmax row's max), fp16 and fp32 and mixed, with NaN / inf / signed zeros among the values
// and a partial last vector: bit for bit what MapBinary computes with std::max / std::min, with and
// without the pool.
TEST(ElementwiseSimdTest, EqualsMapBinaryBitForBit) {
  if (std::string_view(RowKernelPath()) != "avx512") GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(4);
  ThreadPool pool(2);
  struct Case {
    Shape a, b;
  };
  const Case cases[] = {
      {{3, 9, 64, 129}, {3, 9, 64, 129}},  // same shape, 222,912 values: the pool, a tail of 0
      {{5, 37}, {5, 37}},                  // 185 values: a partial last vector
      {{2, 9, 64, 512}, {2, 9, 64, 1}},    // a softmax row's max: runs of 512
      {{4, 48, 32}, {1, 48, 1}},           // runs of 32
      {{64, 576}, {576}},                  // a repeated row (a bias)
      {{3, 64}, {}},                       // a scalar
      {{}, {7, 32}},                       // a scalar on the left
  };
  const SimdBinary ops[] = {SimdBinary::kAdd, SimdBinary::kSub, SimdBinary::kMul,
                            SimdBinary::kDiv, SimdBinary::kMax, SimdBinary::kMin};
  const std::pair<DType, DType> dtypes[] = {{DType::kFloat16, DType::kFloat16},
                                            {DType::kFloat32, DType::kFloat32},
                                            {DType::kFloat16, DType::kFloat32}};
  for (const Case& c : cases) {
    for (const auto& [ta, tb] : dtypes) {
      Tensor a = Random(ta, c.a, rng), b = Random(tb, c.b, rng);
      const DType out_dtype = ta == tb ? ta : DType::kFloat32;
      auto shape = BroadcastShapes(c.a, c.b);
      ASSERT_TRUE(shape.ok());
      for (SimdBinary op : ops) {
        Tensor want = MapBinary(a, b, *shape, out_dtype, nullptr,
                                [op](float x, float y) { return Reference(op, x, y); });
        for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
          Tensor got;
          ASSERT_TRUE(TryMapBinarySimd(op, a, b, *shape, out_dtype, p, &got))
              << ShapeString(c.a) << " " << ShapeString(c.b);
          ASSERT_EQ(got.shape(), want.shape());
          ASSERT_EQ(got.dtype(), want.dtype());
          ASSERT_EQ(0, std::memcmp(got.bytes(), want.bytes(), want.nbytes()))
              << ShapeString(c.a) << " " << ShapeString(c.b) << " op " << static_cast<int>(op)
              << " " << DTypeName(ta) << "/" << DTypeName(tb);
        }
      }
    }
  }
}

// Layouts whose 16-value vectors would straddle two rows or runs are left to MapBinary, as are
// CPUs without AVX-512 (the row kernels' portable switch stands for one).
TEST(ElementwiseSimdTest, DeclinesOtherLayoutsAndCpus) {
  std::mt19937 rng(5);
  Tensor out;
  Tensor x = Random(DType::kFloat16, {8, 24}, rng);
  EXPECT_FALSE(TryMapBinarySimd(SimdBinary::kAdd, x, Random(DType::kFloat16, {24}, rng), {8, 24},
                                DType::kFloat16, nullptr, &out));  // rows of 24
  EXPECT_FALSE(TryMapBinarySimd(SimdBinary::kAdd, x, Random(DType::kFloat16, {8, 1}, rng), {8, 24},
                                DType::kFloat16, nullptr, &out));  // runs of 24
  EXPECT_FALSE(out.defined());
  Tensor y = Random(DType::kFloat16, {8, 32}, rng);
  ForcePortableRowKernels(true);
  EXPECT_FALSE(TryMapBinarySimd(SimdBinary::kAdd, y, y, {8, 32}, DType::kFloat16, nullptr, &out));
  ForcePortableRowKernels(false);
}

}  // namespace
}  // namespace anec::runtime
