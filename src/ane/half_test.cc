#include "ane/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace anec::ane {
namespace {

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // rounds up to inf
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // tie rounds to even (0)
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp -> 2
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  // 1 + 2^-11 is a tie between 1 and 1+2^-10: even mantissa (1.0) wins.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

TEST(HalfTest, RoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;
    float f = HalfToFloat(static_cast<uint16_t>(h));
    ASSERT_EQ(FloatToHalf(f), h) << h;
  }
}

TEST(HalfTest, Bf16TensorConvertsAndOverflowIsAnError) {
  io::TensorData t;
  t.info.name = "w";
  t.info.dtype = io::TensorDType::kBF16;
  t.info.shape = {3};
  std::vector<float> vals = {1.5f, -0.25f, 1e5f};
  for (float v : vals) {
    uint16_t b = static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16);
    t.owned.push_back(static_cast<uint8_t>(b & 0xff));
    t.owned.push_back(static_cast<uint8_t>(b >> 8));
  }
  t.data = t.owned;
  auto ok = ToHalfRange(t, 0, 2);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0], 0x3e00);
  EXPECT_EQ((*ok)[1], 0xb400);
  auto bad = ToHalf(t);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("w"), std::string::npos);
  EXPECT_NE(bad.status().message().find("overflows fp16"), std::string::npos);
}

}  // namespace
}  // namespace anec::ane
