#include "runtime/half.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace anec::runtime {
namespace {

TEST(Half, KnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // rounds up to infinity
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -26)), 0x0000);  // below half of it
  EXPECT_EQ(FloatToHalf(2049.0f), FloatToHalf(2048.0f));  // tie -> even
  EXPECT_EQ(FloatToHalf(2051.0f), FloatToHalf(2052.0f));  // tie -> even
  EXPECT_EQ(FloatToHalf(-INFINITY), 0xFC00);
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
}

TEST(Half, EveryHalfRoundTripsAndBulkMatchesScalar) {
  std::vector<Half> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<Half>(i);
  std::vector<float> f(65536);
  HalfToFloatN(all.data(), f.data(), 65536);
  std::vector<Half> back(65536);
  FloatToHalfN(f.data(), back.data(), 65536);
  for (uint32_t i = 0; i < 65536; ++i) {
    float s = HalfToFloat(static_cast<Half>(i));
    if (std::isnan(s)) {
      EXPECT_TRUE(std::isnan(f[i]));
      continue;
    }
    ASSERT_EQ(f[i], s) << i;
    ASSERT_EQ(FloatToHalf(s), i) << i;
    ASSERT_EQ(back[i], i) << i;
  }
}

TEST(Half, BulkConversionRoundsLikeScalar) {
  std::vector<float> v;
  for (int i = -3000; i < 3000; ++i) v.push_back(static_cast<float>(i) * 1.37e-3f + 1e-7f * static_cast<float>(i));
  v.push_back(70000.0f);
  v.push_back(1e-6f);
  std::vector<Half> h(v.size());
  FloatToHalfN(v.data(), h.data(), static_cast<int64_t>(v.size()));
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(h[i], FloatToHalf(v[i])) << v[i];
}

}  // namespace
}  // namespace anec::runtime
