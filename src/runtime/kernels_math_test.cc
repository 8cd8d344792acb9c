#include <cmath>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/mil_test_util.h"

namespace anec::runtime {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::Pointwise;

std::vector<float> Run1(const std::string& type, std::vector<std::pair<std::string, Tensor>> in,
                        std::vector<Bind> params, Out out, ThreadPool* pool = nullptr) {
  auto r = RunOp(type, std::move(in), std::move(params), {out}, pool);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  const Tensor& t = r->at(out.name);
  EXPECT_EQ(t.shape(), Shape(out.dims.begin(), out.dims.end()));
  return t.ToFloats();
}

TEST(MathKernels, BroadcastBinaryOps) {
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = F32({3}, {10, 20, 30});
  EXPECT_THAT(Run1("add", {{"x", x}, {"y", y}}, {}, {"o", kFp32, {2, 3}}),
              ElementsAre(11, 22, 33, 14, 25, 36));
  EXPECT_THAT(Run1("sub", {{"x", x}, {"y", y}}, {}, {"o", kFp32, {2, 3}}),
              ElementsAre(-9, -18, -27, -6, -15, -24));
  EXPECT_THAT(Run1("mul", {{"x", F32({2, 1}, {2, 3})}, {"y", y}}, {}, {"o", kFp32, {2, 3}}),
              ElementsAre(20, 40, 60, 30, 60, 90));
  EXPECT_THAT(Run1("real_div", {{"x", y}, {"y", F32({}, {4})}}, {}, {"o", kFp32, {3}}),
              ElementsAre(2.5, 5, 7.5));
  EXPECT_THAT(Run1("pow", {{"x", F32({3}, {2, 3, 4})}, {"y", F32({1}, {2})}}, {}, {"o", kFp32, {3}}),
              ElementsAre(4, 9, 16));
  EXPECT_THAT(Run1("maximum", {{"x", x}, {"y", F32({2, 1}, {2.5, 4.5})}}, {}, {"o", kFp32, {2, 3}}),
              ElementsAre(2.5, 2.5, 3, 4.5, 5, 6));
  EXPECT_THAT(Run1("minimum", {{"x", x}, {"y", F32({2, 1}, {2.5, 4.5})}}, {}, {"o", kFp32, {2, 3}}),
              ElementsAre(1, 2, 2.5, 4, 4.5, 4.5));
}

// Softmax-sized trailing reductions read the rows in place on the pool (ReduceRows): each
// output is its row's reduction in ReduceRows's order (16 in-order accumulators, then a fixed
// tree), on fp32 and fp16 inputs, with and without the pool, rows past a multiple of 8 too.
TEST(MathKernels, TrailingReductionsOnThePoolTakeTheRowOrder) {
  ThreadPool pool(2);
  const int64_t rows = 3 * 37, count = 500;  // 111 rows: 13 groups of 8 and 7 more
  std::vector<float> v(static_cast<size_t>(rows * count));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  for (bool half : {false, true}) {
    Tensor x = half ? F16({3, 37, count}, v) : F32({3, 37, count}, v);
    const std::vector<float> xv = x.ToFloats();
    for (std::string op : {"reduce_sum", "reduce_max", "reduce_mean"}) {
      for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
        auto r = RunOp(op, {{"x", x}}, {{"axes", Int32s({-1})}, {"keep_dims", Bool(true)}},
                       {{"o", half ? kFp16 : kFp32, {3, 37, 1}}}, p);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        std::vector<float> got = r->at("o").ToFloats();
        for (int64_t o = 0; o < rows; ++o) {
          const bool max = op == "reduce_max";
          double lane[16], in_order = max ? -INFINITY : 0.0;
          std::fill(lane, lane + 16, max ? -INFINITY : 0.0);
          for (int64_t j = 0; j < count; ++j) {
            const double f = xv[static_cast<size_t>(o * count + j)];
            lane[j % 16] = max ? std::max(lane[j % 16], f) : lane[j % 16] + f;
            in_order = max ? std::max(in_order, f) : in_order + f;
          }
          for (int w = 8; w >= 1; w /= 2) {
            for (int l = 0; l < w; ++l) lane[l] = max ? std::max(lane[l], lane[l + w]) : lane[l] + lane[l + w];
          }
          double want = lane[0];
          if (op == "reduce_mean") {
            want /= static_cast<double>(count);
            in_order /= static_cast<double>(count);
          }
          const float stored = half ? RoundToHalf(static_cast<float>(want)) : static_cast<float>(want);
          ASSERT_EQ(got[static_cast<size_t>(o)], stored) << op << " row " << o;
          ASSERT_NEAR(got[static_cast<size_t>(o)], in_order, half ? 0.02 : 1e-5) << op << " row " << o;
        }
      }
    }
  }
}

TEST(MathKernels, Fp16RoundsOncePerOp) {
  // 2049 is not representable in fp16: 2048 + 1 rounds to 2048 (nearest even).
  auto r = Run1("add", {{"x", F16({1}, {2048})}, {"y", F16({1}, {1})}}, {}, {"o", kFp16, {1}});
  EXPECT_THAT(r, ElementsAre(2048));
  r = Run1("add", {{"x", F16({1}, {2048})}, {"y", F16({1}, {3})}}, {}, {"o", kFp16, {1}});
  EXPECT_THAT(r, ElementsAre(2052));
}

TEST(MathKernels, IntArithmeticIsExact) {
  auto r = RunOp("add", {{"x", I32({2}, {2147483000, -5})}, {"y", I32({1}, {600})}}, {},
                 {{"o", kInt32, {2}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->at("o").ToInts(), ElementsAre(2147483600, 595));
}

TEST(MathKernels, UnaryOps) {
  Tensor x = F32({3}, {0.0f, 1.0f, -2.0f});
  auto near = [](std::vector<float> v) { return Pointwise(FloatNear(1e-6), v); };
  EXPECT_THAT(Run1("exp", {{"x", x}}, {}, {"o", kFp32, {3}}), near({1.0f, std::exp(1.0f), std::exp(-2.0f)}));
  EXPECT_THAT(Run1("sigmoid", {{"x", x}}, {}, {"o", kFp32, {3}}),
              near({0.5f, 1 / (1 + std::exp(-1.0f)), 1 / (1 + std::exp(2.0f))}));
  EXPECT_THAT(Run1("silu", {{"x", x}}, {}, {"o", kFp32, {3}}),
              near({0.0f, 1 / (1 + std::exp(-1.0f)), -2 / (1 + std::exp(2.0f))}));
  EXPECT_THAT(Run1("tanh", {{"x", x}}, {}, {"o", kFp32, {3}}), near({0.0f, std::tanh(1.0f), std::tanh(-2.0f)}));
  EXPECT_THAT(Run1("cos", {{"x", x}}, {}, {"o", kFp32, {3}}), near({1.0f, std::cos(1.0f), std::cos(-2.0f)}));
  EXPECT_THAT(Run1("sin", {{"x", x}}, {}, {"o", kFp32, {3}}), near({0.0f, std::sin(1.0f), std::sin(-2.0f)}));
  Tensor p = F32({3}, {4.0f, 16.0f, 0.25f});
  EXPECT_THAT(Run1("sqrt", {{"x", p}}, {}, {"o", kFp32, {3}}), ElementsAre(2, 4, 0.5));
  // rsqrt(x + epsilon): epsilon 0 gives exact reciprocals of the square roots.
  EXPECT_THAT(Run1("rsqrt", {{"x", p}}, {{"epsilon", ScalarF(0.0f)}}, {"o", kFp32, {3}}),
              ElementsAre(0.5, 0.25, 2));
  EXPECT_THAT(Run1("rsqrt", {{"x", F32({1}, {3.0f})}}, {{"epsilon", ScalarF(1.0f)}}, {"o", kFp32, {1}}),
              ElementsAre(0.5));
}

TEST(MathKernels, GeluModes) {
  Tensor x = F32({2}, {1.0f, -0.5f});
  auto exact = [](float v) { return 0.5f * v * (1 + std::erf(v / std::sqrt(2.0f))); };
  auto tanh_a = [](float v) {
    return 0.5f * v * (1 + std::tanh(std::sqrt(2 / 3.14159265f) * (v + 0.044715f * v * v * v)));
  };
  EXPECT_THAT(Run1("gelu", {{"x", x}}, {{"mode", Str("EXACT")}}, {"o", kFp32, {2}}),
              Pointwise(FloatNear(1e-6), std::vector<float>{exact(1), exact(-0.5f)}));
  EXPECT_THAT(Run1("gelu", {{"x", x}}, {{"mode", Str("TANH_APPROXIMATION")}}, {"o", kFp32, {2}}),
              Pointwise(FloatNear(1e-6), std::vector<float>{tanh_a(1), tanh_a(-0.5f)}));
  auto bad = RunOp("gelu", {{"x", x}}, {{"mode", Str("FAST")}}, {{"o", kFp32, {2}}});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("FAST"));
}

TEST(MathKernels, CastTruncatesAndRounds) {
  auto r = RunOp("cast", {{"x", F32({3}, {1.7f, -1.7f, 2.0f})}}, {{"dtype", Str("int32")}},
                 {{"o", kInt32, {3}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->at("o").ToInts(), ElementsAre(1, -1, 2));
  auto h = Run1("cast", {{"x", F32({1}, {0.1f})}}, {{"dtype", Str("fp16")}}, {"o", kFp16, {1}});
  EXPECT_THAT(h, ElementsAre(RoundToHalf(0.1f)));
  EXPECT_NE(h[0], 0.1f);
}

TEST(MathKernels, Reductions) {
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 9});
  EXPECT_THAT(Run1("reduce_sum", {{"x", x}}, {{"axes", Int32s({1})}, {"keep_dims", Bool(false)}},
                   {"o", kFp32, {2}}), ElementsAre(6, 18));
  EXPECT_THAT(Run1("reduce_mean", {{"x", x}}, {{"axes", Int32s({-1})}, {"keep_dims", Bool(true)}},
                   {"o", kFp32, {2, 1}}), ElementsAre(2, 6));
  EXPECT_THAT(Run1("reduce_max", {{"x", x}}, {{"axes", Int32s({0})}, {"keep_dims", Bool(false)}},
                   {"o", kFp32, {3}}), ElementsAre(4, 5, 9));
  EXPECT_THAT(Run1("reduce_sum", {{"x", x}}, {}, {"o", kFp32, {}}), ElementsAre(24));
  auto am = RunOp("reduce_argmax", {{"x", x}}, {{"axis", Scalar(1)}, {"keep_dims", Bool(false)}},
                  {{"o", kInt32, {2}}});
  ASSERT_TRUE(am.ok()) << am.status().ToString();
  EXPECT_THAT(am->at("o").ToInts(), ElementsAre(2, 2));
}

TEST(MathKernels, SoftmaxAlongAxis) {
  Tensor x = F32({2, 2}, {0, 0, 1, 3});
  float e = std::exp(2.0f);
  EXPECT_THAT(Run1("softmax", {{"x", x}}, {{"axis", Scalar(-1)}}, {"o", kFp32, {2, 2}}),
              Pointwise(FloatNear(1e-6), std::vector<float>{0.5f, 0.5f, 1 / (1 + e), e / (1 + e)}));
  float a = 1 / (1 + std::exp(1.0f)), b = 1 / (1 + std::exp(3.0f));
  EXPECT_THAT(Run1("softmax", {{"x", x}}, {{"axis", Scalar(0)}}, {"o", kFp32, {2, 2}}),
              Pointwise(FloatNear(1e-6), std::vector<float>{a, b, 1 - a, 1 - b}));
}

TEST(MathKernels, LayerNormMatchesFormula) {
  // Row [1, 3]: mean 2, var 1 -> [-1, 1] / sqrt(1 + eps); gamma [2, 3], beta [0.5, -0.5].
  Tensor x = F32({2, 2}, {1, 3, -4, 4});
  auto r = Run1("layer_norm", {{"x", x}},
                {{"axes", Int32s({-1})}, {"gamma", Fp32({2}, {2, 3})}, {"beta", Fp32({2}, {0.5, -0.5})},
                 {"epsilon", ScalarF(0.0f)}},
                {"o", kFp32, {2, 2}});
  EXPECT_THAT(r, Pointwise(FloatNear(1e-6), std::vector<float>{-1.5f, 2.5f, -1.5f, 2.5f}));
  // The ANEMLL RMSNorm trick: layer_norm over concat([x, -x]) has mean 0, so it divides by the
  // root mean square: [3, 4, -3, -4] -> rms = sqrt(12.5).
  auto rms = Run1("layer_norm", {{"x", F32({4}, {3, 4, -3, -4})}},
                  {{"axes", Int32s({0})}, {"epsilon", ScalarF(0.0f)}}, {"o", kFp32, {4}});
  float s = std::sqrt(12.5f);
  EXPECT_THAT(rms, Pointwise(FloatNear(1e-6), std::vector<float>{3 / s, 4 / s, -3 / s, -4 / s}));
}

TEST(MathKernels, LayerNormLongRowsMatchDoubleAndAnyThreadCount) {
  // 40 rows of 1155 values (8-value partial sums plus a tail of 3), offset by a large mean so
  // that a wrong mean or a lost tail shows: against a double-precision reference, and the same
  // bits with the pool as without (rows are independent).
  const int64_t rows = 40, len = 1155;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * len)), gamma(static_cast<size_t>(len));
  for (size_t i = 0; i < x.size(); ++i) x[i] = 50.0f + normal(rng) * (1.0f + static_cast<float>(i % 7));
  for (float& g : gamma) g = normal(rng);
  std::vector<Bind> params = {{"axes", Int32s({-1})}, {"gamma", Fp32({len}, gamma)}, {"epsilon", ScalarF(1e-5f)}};
  auto plain = Run1("layer_norm", {{"x", F32({rows, len}, x)}}, params, {"o", kFp32, {rows, len}});
  ThreadPool pool(2);
  auto pooled = Run1("layer_norm", {{"x", F32({rows, len}, x)}}, params, {"o", kFp32, {rows, len}}, &pool);
  EXPECT_EQ(plain, pooled);
  ASSERT_EQ(plain.size(), x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t k = 0; k < len; ++k) mean += x[static_cast<size_t>(r * len + k)];
    mean /= len;
    for (int64_t k = 0; k < len; ++k) {
      const double d = x[static_cast<size_t>(r * len + k)] - mean;
      var += d * d;
    }
    var /= len;
    for (int64_t k = 0; k < len; ++k) {
      const double want = (x[static_cast<size_t>(r * len + k)] - mean) / std::sqrt(var + 1e-5) * gamma[static_cast<size_t>(k)];
      ASSERT_NEAR(plain[static_cast<size_t>(r * len + k)], want, 1e-5 * (1 + std::abs(want))) << r << " " << k;
    }
  }
}

TEST(MathKernels, LayerNormOverAMiddleAxis) {
  // Channels-first [1, C=4, 1, S=2]: each of the 2 columns is normalized over its 4 channels.
  // Column 0 = (3, 4, -3, -4): rms sqrt(12.5); column 1 = (1, 1, 1, 5): mean 2, var 3.
  Tensor x = F32({1, 4, 1, 2}, {3, 1, 4, 1, -3, 1, -4, 5});
  auto r = Run1("layer_norm", {{"x", x}},
                {{"axes", Int32s({1})}, {"gamma", Fp32({4}, {1, 2, 1, 1})}, {"epsilon", ScalarF(0.0f)}},
                {"o", kFp32, {1, 4, 1, 2}});
  const float s = std::sqrt(12.5f), t = std::sqrt(3.0f);
  EXPECT_THAT(r, Pointwise(FloatNear(1e-6), std::vector<float>{3 / s, -1 / t, 2 * 4 / s, 2 * -1 / t,
                                                              -3 / s, -1 / t, -4 / s, 3 / t}));
  // Axes that are not one contiguous run are refused, naming the op's axes.
  auto bad = RunOp("layer_norm", {{"x", x}}, {{"axes", Int32s({1, 3})}}, {{"o", kFp32, {1, 4, 1, 2}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("contiguous"));
}

TEST(MathKernels, ComparisonsGiveBool) {
  auto r = RunOp("less", {{"x", F32({3}, {1, 2, 3})}, {"y", F32({}, {2})}}, {}, {{"o", kBool, {3}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->at("o").ToInts(), ElementsAre(1, 0, 0));
}

TEST(MathKernels, DeclaredOutputTypeIsChecked) {
  auto r = RunOp("add", {{"x", F32({2}, {1, 2})}, {"y", F32({2}, {1, 2})}}, {}, {{"o", kFp16, {2}}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("declared fp16[2] but computes fp32[2]"));
}

}  // namespace
}  // namespace anec::runtime
