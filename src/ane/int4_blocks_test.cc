#include "ane/int4_blocks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "ane/half.h"

namespace anec::ane {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kOut = 8, kIn = 64, kGroup = 16, kGroups = kIn / kGroup;

// A GPTQ-like linear with random codes, zeros 1..16 and fp16 scales; act-order when `shuffled`.
io::Int4Linear RandomLinear(bool shuffled, bool zero16, uint32_t seed) {
  std::mt19937 rng(seed);
  io::Int4Linear l;
  l.name = "model.layers.0.mlp.up_proj.weight";
  l.out_features = kOut;
  l.in_features = kIn;
  l.num_groups = kGroups;
  for (int64_t k = 0; k < kOut * kIn; ++k) l.codes.push_back(static_cast<uint8_t>(rng() % 16));
  for (int64_t k = 0; k < kOut * kGroups; ++k) {
    l.zeros.push_back(static_cast<uint8_t>(1 + rng() % 15));
    l.scales.push_back(HalfToFloat(FloatToHalf(0.001f + 0.01f * static_cast<float>(rng() % 97))));
  }
  if (zero16) l.zeros[5] = 16;
  std::vector<int32_t> order(kIn);
  for (int64_t i = 0; i < kIn; ++i) order[i] = static_cast<int32_t>(i);
  if (shuffled) std::shuffle(order.begin(), order.end(), rng);
  l.group_of_input.resize(kIn);
  for (int64_t k = 0; k < kIn; ++k) l.group_of_input[order[k]] = static_cast<int32_t>(k / kGroup);
  return l;
}

// Core ML's constexpr_blockwise_shift_scale, in float32 then fp16 once, followed by the gather
// the emitter adds for act-order: the weight rows [row_begin, ...) in the checkpoint's order.
std::vector<uint16_t> Evaluate(const Int4Constants& c, int64_t rows) {
  auto data = c.data.bytes();
  auto scale = c.scale.bytes();
  auto offset = c.offset.bytes();
  const bool fp16_offset = c.offset.type().dtype == mil::DType::kFloat16;
  auto nibble = [](std::span<const uint8_t> p, int64_t i) {
    return i % 2 == 0 ? (p[i / 2] & 15) : (p[i / 2] >> 4);
  };
  auto half = [](std::span<const uint8_t> p, int64_t i) {
    return HalfToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  };
  std::vector<uint16_t> dense(static_cast<size_t>(rows * kIn));
  for (int64_t o = 0; o < rows; ++o) {
    for (int64_t j = 0; j < kIn; ++j) {
      const int64_t blk = o * kGroups + j / kGroup;
      const float z = fp16_offset ? half(offset, blk) : static_cast<float>(nibble(offset, blk));
      const float v = half(scale, blk) * (static_cast<float>(nibble(data, o * kIn + j)) - z);
      dense[o * kIn + j] = FloatToHalf(v);
    }
  }
  if (c.input_order.empty()) return dense;
  std::vector<uint16_t> w(dense.size());
  for (int64_t o = 0; o < rows; ++o) {
    for (int64_t i = 0; i < kIn; ++i) w[o * kIn + i] = dense[o * kIn + c.input_order[i]];
  }
  return w;
}

std::vector<uint16_t> ExpectedHalf(const io::Int4Linear& l, int64_t row_begin, int64_t row_end) {
  std::vector<float> w = io::DequantizeInt4(l);
  std::vector<uint16_t> h;
  for (int64_t k = row_begin * kIn; k < row_end * kIn; ++k) h.push_back(FloatToHalf(w[k]));
  return h;
}

TEST(Int4Blocks, ReproducesTheDequantizedWeightInInputOrder) {
  for (bool shuffled : {false, true}) {
    io::Int4Linear l = RandomLinear(shuffled, false, shuffled ? 7 : 3);
    auto b = io::ToBlockwise(l);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    auto c = EncodeInt4Blockwise(*b, 0, kOut, {kOut, kIn, 1, 1});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->data.type().dtype, mil::DType::kUInt4);
    EXPECT_EQ(c->data.type().shape, (std::vector<int64_t>{kOut, kIn, 1, 1}));
    EXPECT_EQ(c->scale.type().dtype, mil::DType::kFloat16);
    EXPECT_EQ(c->scale.type().shape, (std::vector<int64_t>{kOut, kGroups, 1, 1}));
    EXPECT_EQ(c->offset.type().dtype, mil::DType::kUInt4);
    EXPECT_EQ(c->offset.type().shape, c->scale.type().shape);
    EXPECT_EQ(c->input_order.empty(), !shuffled);
    EXPECT_EQ(Evaluate(*c, kOut), ExpectedHalf(l, 0, kOut)) << "shuffled " << shuffled;
  }
}

TEST(Int4Blocks, ZeroOfSixteenBecomesAnFp16Offset) {
  io::Int4Linear l = RandomLinear(true, true, 11);
  auto b = io::ToBlockwise(l);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto c = EncodeInt4Blockwise(*b, 0, kOut, {kOut, kIn, 1, 1});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->offset.type().dtype, mil::DType::kFloat16);
  EXPECT_EQ(Evaluate(*c, kOut), ExpectedHalf(l, 0, kOut));
  // Rows 2..5 do not hold the zero of 16 (row 1, block 1): uint4 suffices for that slice.
  auto slice = EncodeInt4Blockwise(*b, 2, 6, {4, kIn, 1, 1});
  ASSERT_TRUE(slice.ok()) << slice.status().ToString();
  EXPECT_EQ(slice->offset.type().dtype, mil::DType::kUInt4);
  EXPECT_EQ(slice->scale.type().shape, (std::vector<int64_t>{4, kGroups, 1, 1}));
  EXPECT_EQ(Evaluate(*slice, 4), ExpectedHalf(l, 2, 6));
}

TEST(Int4Blocks, RejectsShapesAndRowsThatDoNotFit) {
  auto b = io::ToBlockwise(RandomLinear(false, false, 5));
  ASSERT_TRUE(b.ok());
  auto wrong = EncodeInt4Blockwise(*b, 0, kOut, {kOut, kIn / 2, 2, 1});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("up_proj.weight: rows [0, 8) of [8, 64]"));
  auto rows = EncodeInt4Blockwise(*b, 4, 9, {5, kIn, 1, 1});
  ASSERT_FALSE(rows.ok());
  EXPECT_THAT(rows.status().message(), HasSubstr("outside its 8 output features"));
}

}  // namespace
}  // namespace anec::ane
