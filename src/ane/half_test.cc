#include "ane/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace anec::ane {
namespace {

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
