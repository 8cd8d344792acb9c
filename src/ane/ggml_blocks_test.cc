#include "ane/ggml_blocks.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "ane/half.h"
#include "io/gguf_dequant.h"

namespace anec::ane {
namespace {

// Two super-blocks of 256 per row, so K-quant rows fit too.
constexpr int64_t kRows = 3, kCols = 512;

// Byte offsets of the fp16 fields (d, m, dmin) of each block type; the other bytes are random.
const std::map<io::GgmlType, std::vector<size_t>>& HalfFields() {
  static const std::map<io::GgmlType, std::vector<size_t>> fields = {
      {io::GgmlType::kQ4_0, {0}},      {io::GgmlType::kQ4_1, {0, 2}}, {io::GgmlType::kQ5_0, {0}},
      {io::GgmlType::kQ5_1, {0, 2}},   {io::GgmlType::kQ8_0, {0}},    {io::GgmlType::kQ2_K, {80, 82}},
      {io::GgmlType::kQ3_K, {108}},    {io::GgmlType::kQ4_K, {0, 2}}, {io::GgmlType::kQ5_K, {0, 2}},
      {io::GgmlType::kQ6_K, {208}}};
  return fields;
}

// Random blocks of `type` with fp16 scales and minimums of realistic size (a negative m for
// Q4_1 / Q5_1, as ggml's quantizer writes the block minimum).
std::vector<uint8_t> RandomBlocks(io::GgmlType type, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  const int64_t block_bytes = io::GgmlBlockBytes(type);
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < kRows * kCols / io::GgmlBlockSize(type); ++b) {
    std::vector<uint8_t> block(static_cast<size_t>(block_bytes));
    for (auto& x : block) x = static_cast<uint8_t>(rng());
    const std::vector<size_t>& fields = HalfFields().at(type);
    for (size_t k = 0; k < fields.size(); ++k) {
      const bool q_1_min = k == 1 && (type == io::GgmlType::kQ4_1 || type == io::GgmlType::kQ5_1);
      const uint16_t h = FloatToHalf(q_1_min ? -8.0f * scale(rng) : scale(rng));
      block[fields[k]] = static_cast<uint8_t>(h & 0xFF);
      block[fields[k] + 1] = static_cast<uint8_t>(h >> 8);
    }
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

// Element i of a packed little-endian bit stream of `bits`-bit fields (docs/BLOB_FORMAT.md).
uint32_t Field(std::span<const uint8_t> packed, size_t i, int bits) {
  uint32_t v = 0;
  for (int k = 0; k < bits; ++k) {
    const size_t bit = i * static_cast<size_t>(bits) + static_cast<size_t>(k);
    v |= static_cast<uint32_t>((packed[bit / 8] >> (bit % 8)) & 1) << k;
  }
  return v;
}

uint16_t Half(std::span<const uint8_t> b, size_t i) {
  return static_cast<uint16_t>(b[2 * i] | (b[2 * i + 1] << 8));
}

int Bits(mil::DType t) {
  switch (t) {
    case mil::DType::kUInt2: return 2;
    case mil::DType::kUInt3: return 3;
    case mil::DType::kUInt4:
    case mil::DType::kInt4: return 4;
    default: return 8;
  }
}

// Evaluates the constexpr op as Core ML defines it, with fp16 output; shift-scale both with fp16
// arithmetic (coremltools' numpy decompression) and with fp32 arithmetic rounded once (the anec
// runtime): the two must agree, else the result is marked 0xFFFF.
std::vector<uint16_t> Evaluate(const PreservedBlocks& p, int64_t rows) {
  std::vector<uint16_t> out;
  auto data = p.first.bytes();
  auto second = p.second.bytes();
  const std::vector<int64_t>& sshape = p.second.type().shape;
  const int64_t group = kCols / sshape[1];
  const int bits = Bits(p.first.type().dtype);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < kCols; ++c) {
      const size_t i = static_cast<size_t>(r * kCols + c);
      const size_t g = static_cast<size_t>(r * sshape[1] + c / group);
      if (p.op == "constexpr_lut_to_dense") {
        const size_t entries = static_cast<size_t>(sshape[sshape.size() - 2]);
        out.push_back(Half(second, g * entries + Field(data, i, bits)));
      } else {
        int q = static_cast<int>(Field(data, i, bits));
        if (q >= (1 << (bits - 1))) q -= 1 << bits;  // two's complement
        const float scale = HalfToFloat(Half(second, g));
        const uint16_t f32 = FloatToHalf(scale * static_cast<float>(q));
        const uint16_t f16 = FloatToHalf(scale * HalfToFloat(FloatToHalf(static_cast<float>(q))));
        out.push_back(f32 == f16 ? f32 : 0xFFFF);
      }
    }
  }
  return out;
}

struct Case {
  io::GgmlType type;
  const char* op;
  const char* first;
  const char* second;
};

TEST(GgmlBlocks, EveryCarriedTypeDecompressesToTheFp16PathsValues) {
  const Case cases[] = {
      {io::GgmlType::kQ8_0, "constexpr_blockwise_shift_scale", "int8[3,512,1,1]", "fp16[3,16,1,1]"},
      {io::GgmlType::kQ4_0, "constexpr_blockwise_shift_scale", "int4[3,512,1,1]", "fp16[3,16,1,1]"},
      {io::GgmlType::kQ5_0, "constexpr_blockwise_shift_scale", "int8[3,512,1,1]", "fp16[3,16,1,1]"},
      {io::GgmlType::kQ4_1, "constexpr_lut_to_dense", "uint4[3,512,1,1]", "fp16[3,16,1,1,16,1]"},
      {io::GgmlType::kQ4_K, "constexpr_lut_to_dense", "uint4[3,512,1,1]", "fp16[3,16,1,1,16,1]"},
      {io::GgmlType::kQ2_K, "constexpr_lut_to_dense", "uint2[3,512,1,1]", "fp16[3,32,1,1,4,1]"},
      {io::GgmlType::kQ3_K, "constexpr_lut_to_dense", "uint3[3,512,1,1]", "fp16[3,32,1,1,8,1]"},
  };
  uint32_t seed = 1;
  for (const Case& k : cases) {
    SCOPED_TRACE(io::GgmlTypeName(k.type));
    auto bytes = RandomBlocks(k.type, seed++);
    auto p = EncodeGgmlBlocks(k.type, bytes, kRows, kCols, 0, kRows, {kRows, kCols, 1, 1});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->op, k.op);
    EXPECT_EQ(p->first.type().ToString(), k.first);
    EXPECT_EQ(p->second.type().ToString(), k.second);
    const std::vector<uint16_t> want = ReferenceHalf(k.type, bytes);
    const std::vector<uint16_t> got = Evaluate(*p, kRows);
    ASSERT_EQ(got.size(), want.size());
    int64_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
    EXPECT_EQ(differ, 0);
  }
}

TEST(GgmlBlocks, Q80RowRangeBecomesInt8ShiftScale) {
  auto bytes = RandomBlocks(io::GgmlType::kQ8_0, 3);
  auto p = EncodeGgmlBlocks(io::GgmlType::kQ8_0, bytes, kRows, kCols, 1, 3, {2, kCols});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->first.type().ToString(), "int8[2,512]");
  EXPECT_EQ(p->second.type().ToString(), "fp16[2,16]");
  std::vector<uint16_t> want = ReferenceHalf(io::GgmlType::kQ8_0, bytes);
  want.erase(want.begin(), want.begin() + kCols);  // rows 1 and 2 only
  EXPECT_EQ(Evaluate(*p, 2), want);
}

TEST(GgmlBlocks, Q4KRowRangeTakesItsRowsTables) {
  auto bytes = RandomBlocks(io::GgmlType::kQ4_K, 9);
  auto p = EncodeGgmlBlocks(io::GgmlType::kQ4_K, bytes, kRows, kCols, 2, 3, {1, kCols, 1, 1});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<uint16_t> want = ReferenceHalf(io::GgmlType::kQ4_K, bytes);
  want.erase(want.begin(), want.begin() + 2 * kCols);
  EXPECT_EQ(Evaluate(*p, 1), want);
}

TEST(GgmlBlocks, RejectsOtherTypesAndShapes) {
  auto bytes = RandomBlocks(io::GgmlType::kQ8_0, 4);
  auto wrong_shape =
      EncodeGgmlBlocks(io::GgmlType::kQ8_0, bytes, kRows, kCols, 0, kRows, {kRows, kCols, 2, 1});
  EXPECT_FALSE(wrong_shape.ok());
  auto short_bytes = EncodeGgmlBlocks(io::GgmlType::kQ8_0, std::span(bytes).first(10), kRows, kCols,
                                      0, kRows, {kRows, kCols});
  EXPECT_FALSE(short_bytes.ok());
  for (io::GgmlType t : {io::GgmlType::kQ5_1, io::GgmlType::kQ5_K, io::GgmlType::kQ6_K}) {
    auto k = RandomBlocks(t, 5);
    auto refused = EncodeGgmlBlocks(t, k, kRows, kCols, 0, kRows, {kRows, kCols});
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("cannot be carried"), std::string::npos);
    EXPECT_NE(refused.status().message().find(NotCarriedReason(t)), std::string::npos);
    EXPECT_FALSE(NotCarriedReason(t).empty());
  }
}

TEST(GgmlBlocksTest, CarriedBitsPerWeightCountScalesAndTables) {
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ4_0), 4.5);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ5_0), 8.5);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ8_0), 8.5);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ4_1), 12.0);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ4_K), 12.0);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ2_K), 6.0);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ3_K), 11.0);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ5_K), 0.0);  // converted, not carried
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kQ6_K), 0.0);
  EXPECT_DOUBLE_EQ(CarriedBitsPerWeight(io::GgmlType::kF16), 0.0);
  EXPECT_TRUE(NotCarriedReason(io::GgmlType::kF16).empty());
  EXPECT_TRUE(NotCarriedReason(io::GgmlType::kQ4_K).empty());
}

}  // namespace
}  // namespace anec::ane
