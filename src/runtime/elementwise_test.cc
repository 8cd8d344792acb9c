#include "runtime/elementwise.h"

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <random>
#include <vector>

namespace anec::runtime {
namespace {

TEST(Elementwise, SuffixBroadcastShapes) {
  EXPECT_TRUE(IsSuffixBroadcast({2, 3, 4}, {2, 3, 4}));
  EXPECT_TRUE(IsSuffixBroadcast({}, {2, 3, 4}));
  EXPECT_TRUE(IsSuffixBroadcast({1, 1, 1}, {2, 3, 4}));
  EXPECT_TRUE(IsSuffixBroadcast({4}, {2, 3, 4}));
  EXPECT_TRUE(IsSuffixBroadcast({1, 3, 4}, {2, 3, 4}));
  EXPECT_FALSE(IsSuffixBroadcast({3, 1}, {2, 3, 4}));  // a column: not periodic in o
  EXPECT_FALSE(IsSuffixBroadcast({2, 1, 4}, {2, 3, 4}));
  EXPECT_FALSE(IsSuffixBroadcast({5, 3, 4}, {3, 4}));
}

TEST(Elementwise, BlockBroadcastRepeats) {
  EXPECT_EQ(BlockBroadcastRepeat({2, 3, 4}, {2, 3, 4}), 1);
  EXPECT_EQ(BlockBroadcastRepeat({4}, {2, 3, 4}), 1);
  EXPECT_EQ(BlockBroadcastRepeat({1, 9, 64, 1}, {1, 9, 64, 512}), 512);  // a softmax's row max
  EXPECT_EQ(BlockBroadcastRepeat({3, 1}, {2, 3, 4}), 4);                 // a column
  EXPECT_EQ(BlockBroadcastRepeat({3, 1, 1}, {3, 4, 5}), 20);
  EXPECT_EQ(BlockBroadcastRepeat({}, {2, 3, 4}), 24);              // a scalar: one element repeated
  EXPECT_EQ(BlockBroadcastRepeat({1, 1, 2, 3, 1}, {2, 3, 4}), 4);  // extra leading 1s
  EXPECT_EQ(BlockBroadcastRepeat({2, 2, 1}, {2, 3, 4}), std::nullopt);  // 2 against 3
  EXPECT_EQ(BlockBroadcastRepeat({5, 3, 4}, {3, 4}), std::nullopt);
  EXPECT_EQ(BlockBroadcastRepeat({2, 1, 4}, {2, 3, 4}), std::nullopt);  // a hole
  EXPECT_EQ(BlockBroadcastRepeat({2, 3, 1}, {1, 3, 4}), std::nullopt);  // wider than out
}

// Reference: numpy broadcasting by coordinates, fp32 compute, rounding through the output dtype.
std::vector<float> Reference(const Tensor& a, const Tensor& b, const Shape& shape, DType out) {
  std::vector<float> av = a.ToFloats(), bv = b.ToFloats(),
                     r(static_cast<size_t>(NumElements(shape)));
  // Index into `t` of output element o.
  auto at = [&](const Tensor& t, int64_t o) {
    int64_t index = 0, stride = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      const int64_t coord = o % shape[static_cast<size_t>(d)];
      o /= shape[static_cast<size_t>(d)];
      const int64_t td = d - static_cast<int64_t>(shape.size()) + t.rank();
      if (td < 0) continue;
      if (t.dim(td) != 1) index += coord * stride;
      stride *= t.dim(td);
    }
    return static_cast<size_t>(index);
  };
  for (size_t o = 0; o < r.size(); ++o) {
    float v = av[at(a, static_cast<int64_t>(o))] * 0.5f - bv[at(b, static_cast<int64_t>(o))];
    r[o] = out == DType::kFloat16 ? RoundToHalf(v) : v;
  }
  return r;
}

TEST(Elementwise, MapBinaryMatchesReferenceSerialAndOnThePool) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  ThreadPool pool(2);
  auto random = [&](DType t, Shape s) {
    std::vector<float> v(static_cast<size_t>(NumElements(s)));
    for (float& f : v) f = u(rng);
    return Tensor::FromFloats(t, std::move(s), v);
  };
  for (int64_t rows : {3, 200}) {  // 200 x 576 > kParallelElements: split over the pool
    Shape shape{1, rows, 576};
    for (DType ta : {DType::kFloat16, DType::kFloat32}) {
      for (Shape bs : {Shape{1, rows, 576}, Shape{576}, Shape{1}, Shape{1, 1, 576},
                       Shape{1, rows, 1}, Shape{rows, 1}}) {
        Tensor a = random(ta, shape), b = random(DType::kFloat16, bs);
        DType out = ta;
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          Tensor got =
              MapBinary(a, b, shape, out, p, [](float x, float y) { return x * 0.5f - y; });
          ASSERT_EQ(got.shape(), shape);
          ASSERT_EQ(got.dtype(), out);
          EXPECT_EQ(got.ToFloats(), Reference(a, b, shape, out))
              << rows << " rows, b " << ShapeString(bs) << ", pool " << (p != nullptr);
        }
      }
    }
  }
}

TEST(Elementwise, MapUnaryKeepsDtypeAndRoundsOnce) {
  std::vector<float> v = {1.0f / 3.0f, -2.5f, 65504.0f, 0.0f};
  for (DType t : {DType::kFloat16, DType::kFloat32}) {
    Tensor x = Tensor::FromFloats(t, {2, 2}, v);
    Tensor y = MapUnary(x, nullptr, [](float f) { return f * 3.0f; });
    ASSERT_EQ(y.dtype(), t);
    std::vector<float> xs = x.ToFloats(), ys = y.ToFloats();
    for (size_t i = 0; i < v.size(); ++i) {
      float want = xs[i] * 3.0f;
      EXPECT_EQ(ys[i], t == DType::kFloat16 ? RoundToHalf(want) : want) << i;
    }
  }
}

// The pooled conversions equal Tensor::ToFloats / FromFloats bit for bit, at sizes below and
// above the pool's threshold and with a partial last block, for fp16, fp32 and an integer dtype
// (converted serially).
TEST(Elementwise, PooledConversionsEqualTheTensorOnes) {
  ThreadPool pool(2);
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{40000} + 17}) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& f : v) f = normal(rng);
    for (DType t : {DType::kFloat16, DType::kFloat32, DType::kInt32}) {
      Tensor x = Tensor::FromFloats(t, {n}, v);
      for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
        std::vector<float> got(static_cast<size_t>(n), -1.0f);
        ToFloatsPooled(x, got.data(), p);
        EXPECT_EQ(got, x.ToFloats()) << DTypeName(t) << " n " << n;
        Tensor y = FromFloatsPooled(t, {n}, v.data(), p);
        ASSERT_EQ(y.dtype(), t);
        ASSERT_EQ(y.shape(), Shape{n});
        EXPECT_EQ(0, std::memcmp(y.bytes(), x.bytes(), x.nbytes())) << DTypeName(t) << " n " << n;
      }
    }
  }
}

}  // namespace
}  // namespace anec::runtime
