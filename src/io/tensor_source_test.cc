#include "io/tensor_source.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace anec::io {
namespace {

TensorData Make(TensorDType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  TensorData t;
  t.info.name = std::string("w");  // not `= "w"`: GCC 12 -O3 warns falsely (-Wrestrict) there
  t.info.dtype = dtype;
  t.info.shape = std::move(shape);
  t.owned = std::move(bytes);
  t.data = t.owned;
  return t;
}

template <typename T>
std::vector<uint8_t> Bytes(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST(TensorSourceTest, NamesSizesAndCounts) {
  EXPECT_EQ(TensorDTypeName(TensorDType::kBF16), "bf16");
  EXPECT_EQ(TensorDTypeName(TensorDType::kBool), "bool");
  EXPECT_EQ(TensorDTypeSize(TensorDType::kF32), 4u);
  EXPECT_EQ(TensorDTypeSize(TensorDType::kF16), 2u);
  EXPECT_EQ(TensorDTypeSize(TensorDType::kI64), 8u);
  EXPECT_EQ(TensorDTypeSize(TensorDType::kF64), 8u);
  EXPECT_EQ(TensorDTypeSize(TensorDType::kU8), 1u);
  TensorInfo info;
  info.shape = {3, 4, 5};
  EXPECT_EQ(info.num_elements(), 60);
  info.shape = {};
  EXPECT_EQ(info.num_elements(), 1);  // a scalar
  info.shape = {7, 0};
  EXPECT_EQ(info.num_elements(), 0);
}

TEST(TensorSourceTest, F32PassesThrough) {
  std::vector<float> v = {1.5f, -0.0f, 3.25e-20f, INFINITY};
  auto out = ToFloat32(Make(TensorDType::kF32, {2, 2}, Bytes(v)));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 4u);
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(std::memcmp(&(*out)[i], &v[i], 4), 0) << i;
  }
}

// The value of an IEEE half computed from its definition, independently of the converter.
double HalfByDefinition(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  if (e == 0) return sign * std::ldexp(m, -24);
  if (e == 31) return m == 0 ? sign * INFINITY : NAN;
  return sign * std::ldexp(1024 + m, e - 25);
}

TEST(TensorSourceTest, F16IsExactForEveryBitPattern) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  auto out = ToFloat32(Make(TensorDType::kF16, {65536}, Bytes(all)));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  for (size_t i = 0; i < all.size(); ++i) {
    double want = HalfByDefinition(all[i]);
    float got = (*out)[i];
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << i;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << "bits 0x" << std::hex << i;
      EXPECT_EQ(std::signbit(got), (i & 0x8000) != 0) << i;
    }
  }
  // Spot values people know: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal).
  auto spot =
      ToFloat32(Make(TensorDType::kF16, {4}, Bytes<uint16_t>({0x3C00, 0xC000, 0x7BFF, 0x0001})));
  ASSERT_TRUE(spot.ok());
  EXPECT_EQ((*spot)[0], 1.0f);
  EXPECT_EQ((*spot)[1], -2.0f);
  EXPECT_EQ((*spot)[2], 65504.0f);
  EXPECT_EQ((*spot)[3], std::ldexp(1.0f, -24));
}

TEST(TensorSourceTest, BF16IsTheHighHalfOfF32) {
  // 1.0 = 0x3F80, -3.5 = 0xC060, 0x3E20 = 0.15625, a bf16 subnormal 0x0001 = 2^-133.
  auto out =
      ToFloat32(Make(TensorDType::kBF16, {4}, Bytes<uint16_t>({0x3F80, 0xC060, 0x3E20, 0x0001})));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0], 1.0f);
  EXPECT_EQ((*out)[1], -3.5f);
  EXPECT_EQ((*out)[2], 0.15625f);
  EXPECT_EQ((*out)[3], std::ldexp(1.0f, -133));
}

TEST(TensorSourceTest, IntegerTypesAreRejectedNamingTheTensor) {
  auto out = ToFloat32(Make(TensorDType::kI32, {2}, Bytes<int32_t>({1, 2})));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("tensor w"), std::string::npos);
  EXPECT_NE(out.status().message().find("i32"), std::string::npos);
  EXPECT_FALSE(ToFloat32(Make(TensorDType::kU8, {1}, {7})).ok());
}

TEST(TensorSourceTest, ByteCountMismatchIsAnError) {
  auto out = ToFloat32(Make(TensorDType::kF32, {3}, Bytes<float>({1, 2})));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("8 bytes"), std::string::npos);
}

}  // namespace
}  // namespace anec::io
