#include "quant/fp16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#if defined(__clang__) && __clang_major__ < 15
#include <immintrin.h>
#endif

namespace anec::quant {
namespace {

// The compiler's half conversions (IEEE round to nearest even) are the independent reference:
// _Float16. Clang 14 has no _Float16 on x86 (and its __fp16 conversions need compiler-rt, which
// is not linked): there the CPU's F16C instructions convert floats, and a double goes to the
// nearest half by definition, among the neighbours of the F16C rounding of float(d) (which
// rounding twice can leave one step off).
#if defined(__clang__) && __clang_major__ < 15
__attribute__((target("f16c"))) uint16_t RefHalf(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float RefHalfToFloat(uint16_t b) { return _cvtsh_ss(b); }
uint16_t RefHalfFromDouble(double d) {
  if (std::isnan(d)) return 0x7E00;
  const uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  const double a = std::fabs(d);
  if (a >= 65520.0) return sign | 0x7C00;  // halfway past the largest half, 65504
  uint16_t best = RefHalf(static_cast<float>(a));
  const int guess = best;
  for (int c : {guess - 1, guess + 1}) {
    if (c < 0 || c > 0x7BFF) continue;
    const double dc = std::fabs(a - RefHalfToFloat(static_cast<uint16_t>(c)));
    const double db = std::fabs(a - RefHalfToFloat(best));
    if (dc < db || (dc == db && c % 2 == 0)) best = static_cast<uint16_t>(c);
  }
  return sign | best;
}
#else
uint16_t RefHalf(float f) { return std::bit_cast<uint16_t>(static_cast<_Float16>(f)); }
uint16_t RefHalfFromDouble(double d) { return std::bit_cast<uint16_t>(static_cast<_Float16>(d)); }
float RefHalfToFloat(uint16_t b) { return static_cast<float>(std::bit_cast<_Float16>(b)); }
#endif

TEST(Fp16, HalfToFloatMatchesReferenceForEveryPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float want = RefHalfToFloat(static_cast<uint16_t>(b));
    const float got = HalfToFloat(static_cast<uint16_t>(b));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << b;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << b;
    }
  }
}

TEST(Fp16, FloatToHalfRoundsLikeTheReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any;
  int checked = 0;
  for (int i = 0; i < 2000000; ++i) {
    // Random bit patterns concentrated on the fp16 range (exponents 100..145), plus anything.
    uint32_t f = any(rng);
    if (i % 4 != 0) f = (f & 0x807FFFFFu) | ((100u + f % 46u) << 23);
    const float x = std::bit_cast<float>(f);
    if (std::isnan(x)) continue;
    ASSERT_EQ(FloatToHalf(x), RefHalf(x)) << "float bits " << f;
    ++checked;
  }
  EXPECT_GT(checked, 1000000);
  // Exact halfway points between neighbouring halves, where only ties-to-even decides.
  for (uint32_t b = 0; b < 0x7BFF; ++b) {
    const double mid = (static_cast<double>(HalfToFloat(static_cast<uint16_t>(b))) +
                        HalfToFloat(static_cast<uint16_t>(b + 1))) /
                       2;
    ASSERT_EQ(FloatToHalf(static_cast<float>(mid)), RefHalf(static_cast<float>(mid))) << b;
    ASSERT_EQ(DoubleToHalf(mid), RefHalfFromDouble(mid)) << b;
    ASSERT_EQ(DoubleToHalf(-mid), RefHalfFromDouble(-mid)) << b;
  }
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // rounds up past the largest half
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_TRUE(HalfIsNonFinite(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
}

TEST(Fp16, DoubleToHalfRoundsOnceNotTwice) {
  // 1 + 2^-11 + 2^-40 is just above a half-way point; float rounding lands exactly on it and
  // would then tie to even (1.0). A single rounding must go up.
  const double x = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  EXPECT_EQ(FloatToHalf(static_cast<float>(x)), 0x3C00);
  EXPECT_EQ(DoubleToHalf(x), 0x3C01);
  EXPECT_EQ(DoubleToHalf(x), RefHalfFromDouble(x));
  EXPECT_EQ(DoubleToHalf(65519.99999999), 0x7BFF);
  std::mt19937_64 rng(8);
  std::normal_distribution<double> normal(0.0, 0.05);
  for (int i = 0; i < 200000; ++i) {
    const double d = normal(rng);
    ASSERT_EQ(DoubleToHalf(d), RefHalfFromDouble(d)) << d;
  }
}

TEST(Fp16, Bf16Conversions) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(Bf16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(FloatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even
  EXPECT_EQ(FloatToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(Bf16ToHalf(0x3F80), 0x3C00);
  EXPECT_EQ(Bf16ToHalf(FloatToBf16(1e6f)), 0x7C00);  // beyond fp16: Inf, rejected later
  // Every bf16 in the normal fp16 range converts exactly (fp16 has more mantissa bits).
  for (uint32_t b = 0; b < 0x8000; ++b) {
    const float f = Bf16ToFloat(static_cast<uint16_t>(b));
    if (f >= std::ldexp(1.0f, -14) && f <= 65504.0f) {
      ASSERT_EQ(HalfToFloat(Bf16ToHalf(static_cast<uint16_t>(b))), f) << b;
    }
  }
}

TEST(Fp16, OrderKeyIsMonotoneAndMergesSignedZeros) {
  EXPECT_EQ(HalfOrderKey(0x8000), HalfOrderKey(0x0000));
  uint16_t prev_key = 0;
  float prev_value = -std::numeric_limits<float>::infinity();
  for (uint32_t key = 0x0400; key <= 0xFBFF; ++key) {
    if (key == 0x7FFF) continue;  // would be -0, which shares +0's key
    const uint16_t bits = HalfFromOrderKey(static_cast<uint16_t>(key));
    ASSERT_FALSE(HalfIsNonFinite(bits)) << key;
    ASSERT_EQ(HalfOrderKey(bits), key);
    const float v = HalfToFloat(bits);
    ASSERT_GT(v, prev_value) << key;
    prev_value = v;
    prev_key = static_cast<uint16_t>(key);
  }
  EXPECT_EQ(prev_key, 0xFBFF);
}

}  // namespace
}  // namespace anec::quant
