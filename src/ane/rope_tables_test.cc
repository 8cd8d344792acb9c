#include "ane/rope_tables.h"

#include <gtest/gtest.h>

#include <cmath>

namespace anec::ane {
namespace {

model::ModelSpec Llama32Spec() {
  model::ModelSpec s;
  s.head_dim = 64;
  s.rope_theta = 500000.0;
  s.rope_scaling.type = model::RopeScalingType::kLlama3;
  s.rope_scaling.factor = 32.0;
  s.rope_scaling.low_freq_factor = 1.0;
  s.rope_scaling.high_freq_factor = 4.0;
  s.rope_scaling.original_max_position_embeddings = 8192;
  return s;
}

// Reference values: transformers' _compute_llama3_parameters for Llama-3.2-1B's config
// (theta 500000, head_dim 64, factor 32, low 1, high 4, original 8192), evaluated in float64.
TEST(RopeTablesTest, Llama3ScalingMatchesHuggingFaceRule) {
  std::vector<double> inv = RopeInverseFrequencies(Llama32Spec());
  ASSERT_EQ(inv.size(), 32u);
  EXPECT_DOUBLE_EQ(inv[0], 1.0);                       // high frequency: unchanged
  EXPECT_NEAR(inv[14], 0.0032114459947525913, 1e-18);  // last unchanged band
  EXPECT_NEAR(inv[15], 0.001290547928209264, 1e-17);   // medium: interpolated
  EXPECT_NEAR(inv[16], 0.00042955679655936815, 1e-17);
  EXPECT_NEAR(inv[17], 9.70828780262767e-05, 1e-18);
  EXPECT_NEAR(inv[18], 1.9461638184831125e-05, 1e-19);  // low frequency: / factor
  EXPECT_NEAR(inv[31], 9.418306725434911e-08, 1e-21);
}

TEST(RopeTablesTest, Llama3IsNotThetaTimesFactor) {
  model::ModelSpec approx = Llama32Spec();
  approx.rope_scaling.type = model::RopeScalingType::kNone;
  approx.rope_theta *= 32.0;
  std::vector<double> wrong = RopeInverseFrequencies(approx);
  std::vector<double> right = RopeInverseFrequencies(Llama32Spec());
  EXPECT_GT(std::abs(wrong[1] - right[1]) / right[1], 0.1);
}

// A Llama 3.x GGUF stores the llama3 rule as one divisor per frequency (rope_freqs.weight,
// float32): 1 above the high-frequency wavelength, `factor` below the low one, and
// 1 / ((1 - smooth) / factor + smooth) in between. Dividing by those factors must give the
// llama3 inverse frequencies (to float32 rounding of the stored factors).
TEST(RopeTablesTest, FrequencyFactorsReproduceLlama3) {
  const model::ModelSpec llama3 = Llama32Spec();
  model::ModelSpec gguf = llama3;
  gguf.rope_scaling.type = model::RopeScalingType::kFrequencyFactors;
  const double old_ctx = 8192, low = 1, high = 4, factor = 32;
  for (int64_t i = 0; i < 32; ++i) {
    const double f = 1.0 / std::pow(500000.0, 2.0 * static_cast<double>(i) / 64.0);
    const double wavelen = 2 * 3.14159265358979323846 / f;
    double d = 1;
    if (wavelen > old_ctx / low) {
      d = factor;
    } else if (wavelen >= old_ctx / high) {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      d = 1 / ((1 - smooth) / factor + smooth);
    }
    gguf.rope_scaling.frequency_factors.push_back(static_cast<float>(d));
  }
  const std::vector<double> want = RopeInverseFrequencies(llama3);
  const std::vector<double> got = RopeInverseFrequencies(gguf);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i] / want[i], 1.0, 1e-7) << i;
  // Not the unscaled frequencies: the low band is divided by 32.
  EXPECT_NEAR(got[31] * 32, 1.0 / std::pow(500000.0, 62.0 / 64.0), 1e-12);
}

TEST(RopeTablesTest, LinearScalingDividesPositions) {
  model::ModelSpec s;
  s.head_dim = 8;
  s.rope_theta = 10000.0;
  model::ModelSpec lin = s;
  lin.rope_scaling.type = model::RopeScalingType::kLinear;
  lin.rope_scaling.factor = 4.0;
  RopeTables plain = ComputeRopeTables(s, 16);
  RopeTables scaled = ComputeRopeTables(lin, 16);
  // Position 8 with factor 4 equals position 2 unscaled.
  for (int64_t d = 0; d < 8; ++d) {
    EXPECT_NEAR(scaled.cos[8 * 8 + d], plain.cos[2 * 8 + d], 1e-12);
    EXPECT_NEAR(scaled.sin[8 * 8 + d], plain.sin[2 * 8 + d], 1e-12);
  }
}

TEST(RopeTablesTest, TableLayoutRepeatsFrequencyBlock) {
  RopeTables t = ComputeRopeTables(Llama32Spec(), 1024);
  ASSERT_EQ(t.cos.size(), 1024u * 64u);
  const size_t row = 1000 * 64;
  EXPECT_NEAR(t.cos[row + 20], 0.9999632755852017, 1e-12);
  EXPECT_NEAR(t.sin[row + 20], 0.00857015057708544, 1e-12);
  EXPECT_NEAR(t.cos[row + 52], 0.9999632755852017, 1e-12);  // second half repeats
  EXPECT_NEAR(t.cos[row + 31], 0.9999999955647749, 1e-12);
  EXPECT_DOUBLE_EQ(t.cos[0], 1.0);
  EXPECT_DOUBLE_EQ(t.sin[0], 0.0);
}

}  // namespace
}  // namespace anec::ane
