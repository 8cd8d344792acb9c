#include "base/half.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace anec {
namespace {

// Independent reference: round a float to the nearest representable half by searching.
TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
      continue;
    }
    EXPECT_EQ(FloatToHalf(f), h) << std::hex << h;
  }
}

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // rounds up to infinity
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(1e-8f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
}

TEST(HalfTest, RoundsToNearestEven) {
  // Midpoints between consecutive halves round to the even one.
  for (uint32_t h = 0x0001; h < 0x7BFF; h += 97) {
    float a = HalfToFloat(static_cast<uint16_t>(h));
    float b = HalfToFloat(static_cast<uint16_t>(h + 1));
    float mid = static_cast<float>((static_cast<double>(a) + b) / 2);
    uint16_t even = (h % 2 == 0) ? h : h + 1;
    EXPECT_EQ(FloatToHalf(mid), even) << std::hex << h;
    EXPECT_EQ(FloatToHalf(std::nextafter(mid, 0.0f)), h);
    EXPECT_EQ(FloatToHalf(std::nextafter(mid, 1e9f)), h + 1);
  }
}

TEST(HalfTest, BFloat16) {
  EXPECT_EQ(BF16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(FloatToBF16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBF16(BitsFloat(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(FloatToBF16(BitsFloat(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(BF16ToFloat(FloatToBF16(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace anec
