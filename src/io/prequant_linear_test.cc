#include "io/prequant_linear.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "base/half.h"
#include "io/prequant_test_util.h"

namespace anec::io {
namespace {

using testing::Halves;
using ::testing::HasSubstr;
using testing::MapSource;
using testing::PackGptqWeight;
using testing::PackRows;

constexpr int64_t kOut = 8;
constexpr int64_t kIn = 16;
constexpr int64_t kGroup = 8;

PrequantConfig Gptq(bool v1, int64_t group_size = kGroup) {
  PrequantConfig c;
  c.path = "mem/config.json";
  c.method = PrequantMethod::kGptq;
  c.group_size = group_size;
  c.zeros_minus_one = v1;
  return c;
}

// A GPTQ linear out=8, in=16, 2 groups, with codes, zeros and scales that all differ.
struct GptqCase {
  std::vector<std::vector<uint8_t>> q;      // [out][in]
  std::vector<std::vector<uint8_t>> zeros;  // [groups][out], actual zero points
  std::vector<float> scales;                // [groups * out]
  MapSource src;

  explicit GptqCase(bool v1) {
    q.assign(kOut, std::vector<uint8_t>(kIn));
    for (int o = 0; o < kOut; ++o) {
      for (int i = 0; i < kIn; ++i) q[o][i] = static_cast<uint8_t>((3 * o + 5 * i) % 16);
    }
    zeros.assign(2, std::vector<uint8_t>(kOut));
    for (int g = 0; g < 2; ++g) {
      for (int o = 0; o < kOut; ++o) {
        zeros[g][o] = static_cast<uint8_t>(v1 ? 1 + (2 * o + 3 * g + 5) % 16 : (o + 3 * g) % 16);
        scales.push_back(0.125f * static_cast<float>(1 + o) + static_cast<float>(g));
      }
    }
    auto stored = zeros;
    if (v1) {
      for (auto& row : stored) {
        for (auto& z : row) z = static_cast<uint8_t>(z - 1);
      }
    }
    src.Add("l.qweight", TensorDType::kI32, {kIn / 8, kOut}, PackGptqWeight(q));
    src.Add("l.qzeros", TensorDType::kI32, {2, 1}, PackRows(stored));
    src.Add("l.scales", TensorDType::kF16, {2, kOut}, Halves(scales));
  }
  float Expected(int o, int i, int g) const {
    return scales[g * kOut + o] * static_cast<float>(int(q[o][i]) - int(zeros[g][o]));
  }
};

TEST(PrequantLinearTest, GptqV2DequantizesWithContiguousGroups) {
  GptqCase c(/*v1=*/false);
  auto l = ReadInt4Linear(Gptq(false), c.src, "l");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->name, "l.weight");
  EXPECT_EQ(l->out_features, kOut);
  EXPECT_EQ(l->in_features, kIn);
  EXPECT_EQ(l->num_groups, 2);
  std::vector<float> w = DequantizeInt4(*l);
  ASSERT_EQ(w.size(), static_cast<size_t>(kOut * kIn));
  for (int o = 0; o < kOut; ++o) {
    for (int i = 0; i < kIn; ++i) {
      EXPECT_EQ(w[o * kIn + i], c.Expected(o, i, i / kGroup)) << o << "," << i;
    }
  }
  auto b = ToBlockwise(*l);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->input_permutation.empty());
  EXPECT_EQ(b->block_size, kGroup);
  EXPECT_EQ(b->num_blocks, 2);
  EXPECT_TRUE(b->offsets_fit_uint4);
  EXPECT_EQ(b->data[3 * kIn + 9], c.q[3][9]);
  EXPECT_EQ(b->offsets[5 * 2 + 1], c.zeros[1][5]);
  EXPECT_EQ(HalfToFloat(b->scales[5 * 2 + 1]), c.scales[1 * kOut + 5]);
  EXPECT_EQ(ExpandBlockwise(*b), w);
}

TEST(PrequantLinearTest, GptqV1AddsOneToStoredZerosAndCanReachSixteen) {
  GptqCase c(/*v1=*/true);  // zeros run 1..16: stored nibbles 0..15
  auto l = ReadInt4Linear(Gptq(true), c.src, "l");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  std::vector<float> w = DequantizeInt4(*l);
  for (int o = 0; o < kOut; ++o) {
    for (int i = 0; i < kIn; ++i) EXPECT_EQ(w[o * kIn + i], c.Expected(o, i, i / kGroup));
  }
  // Reading the same bytes as v2 gives zeros one lower: the offset matters.
  auto as_v2 = ReadInt4Linear(Gptq(false), c.src, "l");
  ASSERT_TRUE(as_v2.ok());
  EXPECT_NE(DequantizeInt4(*as_v2), w);
  auto b = ToBlockwise(*l);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*std::max_element(b->offsets.begin(), b->offsets.end()), 16);
  EXPECT_FALSE(b->offsets_fit_uint4);
  EXPECT_EQ(ExpandBlockwise(*b), w);
}

TEST(PrequantLinearTest, GptqNibbleKOfWordHoldsInputRowEightRPlusK) {
  MapSource src;
  std::vector<int32_t> qweight(8, 0);
  qweight[0] = static_cast<int32_t>(0x76543210u);  // (r=0, o=0)
  src.Add("l.qweight", TensorDType::kI32, {1, 8}, qweight);
  src.Add("l.qzeros", TensorDType::kI32, {1, 1}, std::vector<int32_t>{0});
  src.Add("l.scales", TensorDType::kF32, {1, 8}, std::vector<float>(8, 1.0f));
  auto l = ReadInt4Linear(Gptq(false, -1), src, "l");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  std::vector<float> w = DequantizeInt4(*l);
  EXPECT_EQ(std::vector<float>(w.begin(), w.begin() + 8),
            (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(std::vector<float>(w.begin() + 8, w.end()), std::vector<float>(56, 0.0f));
}

TEST(PrequantLinearTest, AwqNibblesFollowTheInterleavedOrder) {
  PrequantConfig cfg;
  cfg.path = "mem/config.json";
  cfg.method = PrequantMethod::kAwqGemm;
  cfg.group_size = -1;
  MapSource src;
  std::vector<int32_t> qweight(8, 0);  // [in=8, out/8=1]
  qweight[0] = static_cast<int32_t>(0x76543210u);
  src.Add("l.qweight", TensorDType::kI32, {8, 1}, qweight);
  src.Add("l.qzeros", TensorDType::kI32, {1, 1}, std::vector<int32_t>{0x10});  // nibble 1 = 1
  src.Add("l.scales", TensorDType::kF16, {1, 8}, Halves(std::vector<float>(8, 2.0f)));
  auto l = ReadInt4Linear(cfg, src, "l");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  // Nibble k went to output column {0,2,4,6,1,3,5,7}[k]; nibble 1 of qzeros is column 2.
  const std::vector<int> code_of_column = {0, 4, 1, 5, 2, 6, 3, 7};
  std::vector<float> w = DequantizeInt4(*l);
  for (int o = 0; o < 8; ++o) {
    int zero = o == 2 ? 1 : 0;
    EXPECT_EQ(l->codes[o * 8 + 0], code_of_column[o]) << o;
    EXPECT_EQ(w[o * 8 + 0], 2.0f * static_cast<float>(code_of_column[o] - zero)) << o;
    EXPECT_EQ(w[o * 8 + 1], 2.0f * static_cast<float>(-zero)) << o;
  }
}

TEST(PrequantLinearTest, ActOrderGroupsBecomeBlocksAfterPermutingInputs) {
  GptqCase c(/*v1=*/false);
  std::vector<int32_t> g_idx(kIn);
  for (int i = 0; i < kIn; ++i) g_idx[i] = (i * 7) % 2;  // alternating groups
  c.src.Add("l.g_idx", TensorDType::kI32, {kIn}, g_idx);
  auto l = ReadInt4Linear(Gptq(false), c.src, "l");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  std::vector<float> w = DequantizeInt4(*l);
  for (int o = 0; o < kOut; ++o) {
    for (int i = 0; i < kIn; ++i) EXPECT_EQ(w[o * kIn + i], c.Expected(o, i, g_idx[i]));
  }
  auto b = ToBlockwise(*l);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->input_permutation,
            (std::vector<int32_t>{0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15}));
  EXPECT_EQ(b->data[2 * kIn + 8], c.q[2][1]);
  EXPECT_EQ(ExpandBlockwise(*b), w);
}

TEST(PrequantLinearTest, LutsHoldTheSixteenValuesOfEachBlock) {
  GptqCase c(/*v1=*/true);
  auto l = ReadInt4Linear(Gptq(true), c.src, "l");
  ASSERT_TRUE(l.ok());
  auto b = ToBlockwise(*l);
  ASSERT_TRUE(b.ok());
  std::vector<uint16_t> luts = BlockwiseToLuts(*b);
  ASSERT_EQ(luts.size(), static_cast<size_t>(kOut * 2 * 16));
  std::vector<float> w = DequantizeInt4(*l);
  for (int o = 0; o < kOut; ++o) {
    for (int g = 0; g < 2; ++g) {
      // Scale and code here are small: every table entry is exact in fp16.
      EXPECT_EQ(HalfToFloat(luts[(o * 2 + g) * 16 + 3]),
                c.scales[g * kOut + o] * static_cast<float>(3 - c.zeros[g][o]));
    }
    for (int i = 0; i < kIn; ++i) {
      int blk = i / kGroup;
      EXPECT_EQ(HalfToFloat(luts[(o * 2 + blk) * 16 + b->data[o * kIn + i]]), w[o * kIn + i]);
    }
  }
}

TEST(PrequantLinearTest, UnequalGroupsAreNotBlockwiseButStillDequantize) {
  GptqCase c(/*v1=*/false);
  std::vector<int32_t> g_idx(kIn, 1);
  for (int i = 0; i < 10; ++i) g_idx[i] = 0;  // group 0 has 10 inputs, group 1 has 6
  c.src.Add("l.g_idx", TensorDType::kI32, {kIn}, g_idx);
  auto l = ReadInt4Linear(Gptq(false), c.src, "l");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(DequantizeInt4(*l)[9], c.Expected(0, 9, 0));
  auto b = ToBlockwise(*l);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(b.status().message(), HasSubstr("2 groups hold 6 to 10 input features"));
}

TEST(PrequantLinearTest, GroupSizeNotDividingInputsIsNotBlockwise) {
  MapSource src;
  std::vector<std::vector<uint8_t>> q(8, std::vector<uint8_t>(24, 3));
  src.Add("l.qweight", TensorDType::kI32, {3, 8}, PackGptqWeight(q));
  src.Add("l.qzeros", TensorDType::kI32, {2, 1}, std::vector<int32_t>{0, 0});
  src.Add("l.scales", TensorDType::kF16, {2, 8}, Halves(std::vector<float>(16, 0.5f)));
  auto l = ReadInt4Linear(Gptq(false, 16), src, "l");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(DequantizeInt4(*l), std::vector<float>(8 * 24, 1.5f));
  auto b = ToBlockwise(*l);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("2 groups hold 8 to 16 input features"));
}

TEST(PrequantLinearTest, Bf16ScalesOutsideFp16RangeAreNotCarriedAsFp16) {
  GptqCase c(/*v1=*/false);
  const float tiny = std::ldexp(1.0f, -30);  // exact in bf16, underflows fp16
  c.src.Add("l.scales", TensorDType::kBF16, {2, kOut},
            std::vector<uint16_t>(2 * kOut, FloatToBF16(tiny)));
  auto l = ReadInt4Linear(Gptq(false), c.src, "l");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(DequantizeInt4(*l)[1], tiny * static_cast<float>(int(c.q[0][1]) - c.zeros[0][0]));
  auto b = ToBlockwise(*l);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("not exactly representable in fp16"));
}

// Malformed inputs: each error names the tensor and what was expected.
TEST(PrequantLinearTest, MalformedTensorsAreRejectedWithTheirNames) {
  struct Case {
    const char* what;
    std::function<void(MapSource&)> edit;
    const char* message;
  };
  std::vector<Case> cases = {
      {"missing scales", [](MapSource& s) { s.Remove("l.scales"); }, "tensor l.scales is missing"},
      {"float qweight",
       [](MapSource& s) {
         s.Add("l.qweight", TensorDType::kF32, {2, 8}, std::vector<float>(16));
       },
       "l.qweight: expected a 2-D int32"},
      {"scales rows",
       [](MapSource& s) {
         s.Add("l.scales", TensorDType::kF16, {3, 8}, std::vector<uint16_t>(24));
       },
       "l.scales: expected shape [2, 8]"},
      {"qweight in/8 off",
       [](MapSource& s) {
         s.Add("l.qweight", TensorDType::kI32, {4, 8}, std::vector<int32_t>(32));
       },
       "l.scales: expected shape [4, 8]"},
      {"qzeros columns",
       [](MapSource& s) {
         s.Add("l.qzeros", TensorDType::kI32, {2, 2}, std::vector<int32_t>(4));
       },
       "l.qzeros: expected shape [2, 1]"},
      {"out not multiple of 8",
       [](MapSource& s) {
         s.Add("l.qweight", TensorDType::kI32, {2, 6}, std::vector<int32_t>(12));
       },
       "multiple of 8"},
      {"g_idx length",
       [](MapSource& s) { s.Add("l.g_idx", TensorDType::kI32, {8}, std::vector<int32_t>(8)); },
       "l.g_idx: expected int32 [16]"},
      {"g_idx value",
       [](MapSource& s) {
         std::vector<int32_t> g(16, 0);
         g[11] = 5;
         s.Add("l.g_idx", TensorDType::kI32, {16}, g);
       },
       "entry 11 is group 5, outside [0, 2)"},
  };
  for (const Case& k : cases) {
    GptqCase c(/*v1=*/false);
    k.edit(c.src);
    auto l = ReadInt4Linear(Gptq(false), c.src, "l");
    ASSERT_FALSE(l.ok()) << k.what;
    EXPECT_EQ(l.status().code(), StatusCode::kInvalidArgument) << k.what;
    EXPECT_THAT(l.status().message(), HasSubstr(k.message)) << k.what;
  }
}

}  // namespace
}  // namespace anec::io
