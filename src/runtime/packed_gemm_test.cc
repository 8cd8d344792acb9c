#include "runtime/packed_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace anec::runtime {
namespace {

struct Problem {
  int64_t m, n, k;
  std::vector<float> x, w, bias;
};

Problem MakeProblem(int64_t m, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Problem p{m, n, k, {}, {}, {}};
  for (int64_t i = 0; i < m * k; ++i) p.x.push_back(normal(rng));
  for (int64_t i = 0; i < n * k; ++i) p.w.push_back(0.05f * normal(rng));
  for (int64_t i = 0; i < n; ++i) p.bias.push_back(normal(rng));
  return p;
}

std::vector<float> Multiply(const Problem& p, const float* x, int64_t m, bool with_bias,
                            ThreadPool* pool) {
  std::vector<float> out(static_cast<size_t>(m * p.n), -1.0f);
  DecodeRowFn decode = [&](int64_t j, float* row) {
    std::memcpy(row, p.w.data() + j * p.k, static_cast<size_t>(p.k) * 4);
  };
  PackedGemm(x, m, p.n, p.k, decode, with_bias ? p.bias.data() : nullptr, out.data(), pool);
  return out;
}

class PackedGemmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PackedGemmAvailable()) GTEST_SKIP() << "no AVX-512 on this CPU: GemmXWt never packs";
  }
};

TEST_F(PackedGemmTest, MatchesADoublePrecisionLoopOnEveryShape) {
  ThreadPool pool(2);
  // Rows around the tile height (12), weight rows around a panel and its halves (32, 16),
  // k with and without a tail past the 16-column transposes.
  for (int64_t m : {1, 5, 11, 12, 13, 25}) {
    for (int64_t n : {1, 15, 16, 17, 32, 33, 70}) {
      for (int64_t k : {1, 3, 16, 64, 129}) {
        Problem p = MakeProblem(m, n, k, static_cast<uint32_t>(m * 10007 + n * 101 + k));
        for (bool with_bias : {false, true}) {
          std::vector<float> out = Multiply(p, p.x.data(), m, with_bias, &pool);
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              double want = with_bias ? p.bias[j] : 0.0, scale = std::abs(want);
              for (int64_t c = 0; c < k; ++c) {
                double term = static_cast<double>(p.x[i * k + c]) * p.w[j * k + c];
                want += term;
                scale += std::abs(term);
              }
              ASSERT_NEAR(out[i * n + j], want, 1e-6 * scale + 1e-30)
                  << "m " << m << " n " << n << " k " << k << " at [" << i << ", " << j << "]";
            }
          }
        }
      }
    }
  }
}

TEST_F(PackedGemmTest, EachRowHasTheSameBitsAloneInABatchAndOnAnyThreads) {
  ThreadPool pool(2);
  Problem p = MakeProblem(29, 100, 200, 7);
  std::vector<float> batch = Multiply(p, p.x.data(), p.m, true, &pool);
  std::vector<float> serial = Multiply(p, p.x.data(), p.m, true, nullptr);
  EXPECT_EQ(std::memcmp(batch.data(), serial.data(), batch.size() * 4), 0);
  for (int64_t i = 0; i < p.m; ++i) {
    std::vector<float> alone = Multiply(p, p.x.data() + i * p.k, 1, true, &pool);
    ASSERT_EQ(std::memcmp(alone.data(), batch.data() + i * p.n, alone.size() * 4), 0)
        << "row " << i;
  }
}

TEST_F(PackedGemmTest, SumsTheTermsInColumnOrderWithOneFmaEach) {
  Problem p = MakeProblem(14, 40, 300, 11);
  std::vector<float> out = Multiply(p, p.x.data(), p.m, true, nullptr);
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      float want = p.bias[j];
      for (int64_t c = 0; c < p.k; ++c) want = std::fma(p.x[i * p.k + c], p.w[j * p.k + c], want);
      ASSERT_EQ(out[i * p.n + j], want) << "at [" << i << ", " << j << "]";
    }
  }
}

TEST_F(PackedGemmTest, ChannelsFirstLayoutsGiveTheRowMajorBits) {
  ThreadPool pool(2);
  for (int64_t m : {12, 30}) {
    Problem p = MakeProblem(m, 45, 70, 5);
    std::vector<float> row_major = Multiply(p, p.x.data(), m, true, &pool);
    // x as [k, m] and out as [n, m] (a 1x1 conv's channels-first tensors).
    std::vector<float> xt(p.x.size()), out(row_major.size(), -1.0f);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t c = 0; c < p.k; ++c) xt[c * m + i] = p.x[i * p.k + c];
    }
    DecodeRowFn decode = [&](int64_t j, float* row) {
      std::memcpy(row, p.w.data() + j * p.k, static_cast<size_t>(p.k) * 4);
    };
    PackedGemm(xt.data(), {1, m}, m, p.n, p.k, decode, p.bias.data(), out.data(), {1, m}, &pool);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        ASSERT_EQ(out[j * m + i], row_major[i * p.n + j])
            << "m " << m << " at [" << i << ", " << j << "]";
      }
    }
  }
}

}  // namespace
}  // namespace anec::runtime
