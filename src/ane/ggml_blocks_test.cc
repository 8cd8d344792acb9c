#include "ane/ggml_blocks.h"

#include <gtest/gtest.h>

#include <random>

#include "ane/half.h"
#include "io/gguf_dequant.h"

namespace anec::ane {
namespace {

constexpr int64_t kRows = 3, kCols = 64;

// Random blocks of `type` with fp16 d (and m) of realistic size.
std::vector<uint8_t> RandomBlocks(io::GgmlType type, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  const int64_t block_bytes = io::GgmlBlockBytes(type);
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < kRows * kCols / 32; ++b) {
    std::vector<uint8_t> block(static_cast<size_t>(block_bytes));
    for (auto& x : block) x = static_cast<uint8_t>(rng());
    auto put_half = [&](size_t at, float v) {
      uint16_t h = FloatToHalf(v);
      block[at] = static_cast<uint8_t>(h & 0xFF);
      block[at + 1] = static_cast<uint8_t>(h >> 8);
    };
    put_half(0, scale(rng));
    if (type == io::GgmlType::kQ4_1) put_half(2, -8.0f * scale(rng));  // m: a negative offset
    out.insert(out.end(), block.begin(), block.end());
  }
  return out;
}

// What the fp16 conversion path stores: the reference dequantizer, rounded to fp16.
std::vector<uint16_t> ReferenceHalf(io::GgmlType type, const std::vector<uint8_t>& bytes) {
  std::vector<float> f(static_cast<size_t>(kRows * kCols));
  io::DequantizeGgml(type, bytes, kRows * kCols, f);
  std::vector<uint16_t> h;
  for (float x : f) h.push_back(FloatToHalf(x));
  return h;
}

uint8_t Nibble(std::span<const uint8_t> packed, size_t i) {
  return i % 2 == 0 ? (packed[i / 2] & 15) : static_cast<uint8_t>(packed[i / 2] >> 4);
}

uint16_t Half(std::span<const uint8_t> b, size_t i) {
  return static_cast<uint16_t>(b[2 * i] | (b[2 * i + 1] << 8));
}

// Evaluates the constexpr op the way Core ML defines it, with fp16 output.
std::vector<uint16_t> Evaluate(const PreservedBlocks& p, int64_t rows) {
  std::vector<uint16_t> out;
  auto data = p.first.bytes();
  auto second = p.second.bytes();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < kCols; ++c) {
      const size_t i = static_cast<size_t>(r * kCols + c);
      const size_t block = static_cast<size_t>(r * (kCols / 32) + c / 32);
      if (p.op == "constexpr_lut_to_dense") {
        out.push_back(Half(second, block * 16 + Nibble(data, i)));
      } else {
        int q = p.first.type().dtype == mil::DType::kInt8
                    ? static_cast<int8_t>(data[i])
                    : (Nibble(data, i) >= 8 ? Nibble(data, i) - 16 : Nibble(data, i));
        out.push_back(FloatToHalf(HalfToFloat(Half(second, block)) * static_cast<float>(q)));
      }
    }
  }
  return out;
}

TEST(GgmlBlocks, Q41BecomesPerBlockTablesEqualToTheFp16Path) {
  auto bytes = RandomBlocks(io::GgmlType::kQ4_1, 1);
  auto p =
      EncodeGgmlBlocks(io::GgmlType::kQ4_1, bytes, kRows, kCols, 0, kRows, {kRows, kCols, 1, 1});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->op, "constexpr_lut_to_dense");
  EXPECT_EQ(p->first.type().ToString(), "uint4[3,64,1,1]");
  EXPECT_EQ(p->second.type().ToString(), "fp16[3,2,1,1,16,1]");
  EXPECT_EQ(Evaluate(*p, kRows), ReferenceHalf(io::GgmlType::kQ4_1, bytes));
}

TEST(GgmlBlocks, Q40BecomesInt4ShiftScaleEqualToTheFp16Path) {
  auto bytes = RandomBlocks(io::GgmlType::kQ4_0, 2);
  auto p =
      EncodeGgmlBlocks(io::GgmlType::kQ4_0, bytes, kRows, kCols, 0, kRows, {kRows, kCols, 1, 1});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->op, "constexpr_blockwise_shift_scale");
  EXPECT_EQ(p->first.type().ToString(), "int4[3,64,1,1]");
  EXPECT_EQ(p->second.type().ToString(), "fp16[3,2,1,1]");
  EXPECT_EQ(Evaluate(*p, kRows), ReferenceHalf(io::GgmlType::kQ4_0, bytes));
}

TEST(GgmlBlocks, Q80RowRangeBecomesInt8ShiftScale) {
  auto bytes = RandomBlocks(io::GgmlType::kQ8_0, 3);
  auto p = EncodeGgmlBlocks(io::GgmlType::kQ8_0, bytes, kRows, kCols, 1, 3, {2, kCols});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->first.type().ToString(), "int8[2,64]");
  EXPECT_EQ(p->second.type().ToString(), "fp16[2,2]");
  std::vector<uint16_t> want = ReferenceHalf(io::GgmlType::kQ8_0, bytes);
  want.erase(want.begin(), want.begin() + kCols);  // rows 1 and 2 only
  EXPECT_EQ(Evaluate(*p, 2), want);
}

TEST(GgmlBlocks, RejectsOtherTypesAndShapes) {
  auto bytes = RandomBlocks(io::GgmlType::kQ8_0, 4);
  auto wrong_shape =
      EncodeGgmlBlocks(io::GgmlType::kQ8_0, bytes, kRows, kCols, 0, kRows, {kRows, kCols, 2, 1});
  EXPECT_FALSE(wrong_shape.ok());
  auto short_bytes = EncodeGgmlBlocks(io::GgmlType::kQ8_0, std::span(bytes).first(10), kRows, kCols,
                                      0, kRows, {kRows, kCols});
  EXPECT_FALSE(short_bytes.ok());
  auto k_quant =
      EncodeGgmlBlocks(io::GgmlType::kQ4_K, bytes, kRows, kCols, 0, kRows, {kRows, kCols});
  ASSERT_FALSE(k_quant.ok());
  EXPECT_NE(k_quant.status().message().find("Q4_0, Q4_1 and Q8_0"), std::string::npos);
}

}  // namespace
}  // namespace anec::ane

namespace anec::ane {
namespace {

TEST(GgmlBlocksTest, CarriedBitsPerWeightCountScalesAndTables) {
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ4_0), 4.5);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ8_0), 8.5);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ4_1), 12.0);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ6_K), 0.0);  // converted, not carried
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kF16), 0.0);
}

}  // namespace
}  // namespace anec::ane
