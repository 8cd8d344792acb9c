#include "runtime/lut_weight.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <random>

#include "coreml/blob_file.h"
#include "runtime/half.h"
#include "runtime/weight_matrix.h"

namespace anec::runtime {
namespace {

struct LutCase {
  int bits;
  Shape indices;  // [rows, cols]
  Shape lut;      // [g0, g1, 2^bits, vs]
};

void PrintTo(const LutCase& c, std::ostream* os) {
  *os << c.bits << "-bit indices " << ShapeString(c.indices) << " lut " << ShapeString(c.lut);
}

// Naive reference: element (r, c) of the indices reads table (r / (rows/g0), c / (cols/g1)).
std::vector<float> Reference(const LutCase& lc, const std::vector<uint8_t>& idx,
                             const std::vector<float>& table) {
  int64_t rows = lc.indices[0], cols = lc.indices[1];
  int64_t g0 = lc.lut[0], g1 = lc.lut[1], pal = lc.lut[2];
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      int64_t t = (r / (rows / g0)) * g1 + c / (cols / g1);
      out[static_cast<size_t>(r * cols + c)] =
          table[static_cast<size_t>(t * pal + idx[static_cast<size_t>(r * cols + c)])];
    }
  }
  return out;
}

class LutWeightTest : public ::testing::TestWithParam<LutCase> {};

TEST_P(LutWeightTest, DecodeRowAndDenseMatchReference) {
  const LutCase lc = GetParam();
  std::mt19937 rng(lc.bits * 31 + static_cast<int>(lc.lut[0]));
  std::vector<uint8_t> idx(static_cast<size_t>(NumElements(lc.indices)));
  for (auto& i : idx) i = static_cast<uint8_t>(rng() % (1u << lc.bits));
  std::vector<float> table(static_cast<size_t>(NumElements(lc.lut)));
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = RoundToHalf(static_cast<float>(i) * 0.125f - 3.0f);
  auto packed = std::make_shared<std::vector<uint8_t>>(coreml::PackBits(idx, lc.bits));
  auto w = LutWeight::Create(*packed, packed, lc.bits, lc.indices,
                             Tensor::FromFloats(DType::kFloat16, lc.lut, table), std::nullopt);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::vector<float> want = Reference(lc, idx, table);
  EXPECT_EQ((*w)->Dense().ToFloats(), want);
  ASSERT_TRUE((*w)->RowDecodable());
  int64_t rows = lc.indices[0], cols = lc.indices[1];
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    (*w)->DecodeRow(r, row.data());
    EXPECT_EQ(row, std::vector<float>(want.begin() + r * cols, want.begin() + (r + 1) * cols)) << r;
  }
  // The LUT-aware GEMM equals the GEMM on the expanded weights, with a pool.
  auto wm_lut = WeightMatrix::Create(Tensor::Lut(*w), rows, cols);
  auto wm_dense = WeightMatrix::Create((*w)->Dense(), rows, cols);
  ASSERT_TRUE(wm_lut.ok() && wm_dense.ok());
  std::vector<float> x(static_cast<size_t>(2 * cols));
  for (auto& v : x) v = static_cast<float>(static_cast<int>(rng() % 9) - 4);
  std::vector<float> a(static_cast<size_t>(2 * rows)), b(a.size());
  ThreadPool pool(3);
  GemmXWt(x.data(), 2, *wm_lut, nullptr, a.data(), &pool);
  GemmXWt(x.data(), 2, *wm_dense, nullptr, b.data(), nullptr);
  EXPECT_EQ(a, b);
  // One token (the register-decoding dot when FastDot()): same sums, the values are exact.
  std::vector<float> a1(static_cast<size_t>(rows)), b1(a1.size());
  GemmXWt(x.data(), 1, *wm_lut, nullptr, a1.data(), &pool);
  GemmXWt(x.data(), 1, *wm_dense, nullptr, b1.data(), nullptr);
  EXPECT_EQ(a1, b1);
  if ((*w)->FastDot()) {
    // DotRows over an inner range, with a bias: each row DotRow's bits plus its bias, rows
    // outside the range untouched.
    std::vector<float> bias(static_cast<size_t>(rows)), got(static_cast<size_t>(rows), -99.0f);
    for (auto& v : bias) v = static_cast<float>(static_cast<int>(rng() % 9) - 4) / 4.0f;
    const int64_t begin = rows > 2 ? 1 : 0, end = rows > 2 ? rows - 1 : rows;
    (*w)->DotRows(begin, end, x.data(), 2, bias.data(), got.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float want_r =
          r >= begin && r < end ? (*w)->DotRow(r, x.data()) + bias[static_cast<size_t>(r)] : -99.0f;
      EXPECT_EQ(got[static_cast<size_t>(r)], want_r) << "row " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Bits, LutWeightTest,
    ::testing::Values(LutCase{3, {8, 24}, {4, 1, 8, 1}},   // 3-bit, groups of 2 rows
                      LutCase{6, {4, 33}, {2, 1, 64, 1}},  // 6-bit, odd row length
                      LutCase{6, {4, 36}, {4, 1, 64, 1}},  // 6-bit, byte-aligned rows
                      LutCase{3, {3, 20}, {3, 1, 8, 1}},   // 3-bit, rows straddling bytes
                      LutCase{4, {6, 16}, {3, 2, 16, 1}},  // tables vary along columns too
                      LutCase{2, {5, 12}, {1, 1, 4, 1}},   // one table
                      LutCase{4, {5, 40}, {5, 1, 16, 1}},  // 4-bit, vector path
                      LutCase{4, {3, 21}, {1, 1, 16, 1}},  // 4-bit, unaligned rows and tail
                      LutCase{1, {3, 9}, {3, 1, 2, 1}}, LutCase{8, {2, 300}, {2, 1, 256, 1}},
                      LutCase{4, {64, 4096}, {8, 1, 16, 1}},  // big enough to go parallel
                      LutCase{6, {16, 576}, {2, 1, 64, 1}},   // 6-bit, SmolLM2 row length
                      LutCase{6, {4, 96}, {2, 3, 64, 1}},     // 6-bit, tables per 32 columns
                      LutCase{4, {6, 64}, {3, 2, 16, 1}},     // 4-bit, tables per 32 columns
                      LutCase{4, {2, 48}, {1, 1, 16, 1}},     // 4-bit, 32 + 16 column steps
                      LutCase{2, {4, 64}, {4, 4, 4, 1}},      // 2-bit, tables per 16 columns (Q2_K)
                      LutCase{3, {4, 64}, {2, 4, 8, 1}},      // 3-bit, tables per 16 columns (Q3_K)
                      LutCase{
                          4, {8, 576}, {8, 18, 16, 1}},     // 4-bit per 32 columns (Q4_1), 576 wide
                      LutCase{3, {2, 256}, {1, 16, 8, 1}},  // 3-bit per 16 columns, 256 wide
                      LutCase{3, {3, 7}, {1, 1, 8, 1}},     // 3-bit, aligned rows, short tail
                      LutCase{2, {3, 22}, {3, 1, 4, 1}}));  // 2-bit, rows straddling bytes

TEST(LutWeight, VectorAxisExpandsAlongThatAxis) {
  // indices [2, 2] uint1, lut [1, 1, 2, 2] = {{10, 11}, {20, 21}}, vector_axis 1 -> [2, 4].
  std::vector<uint8_t> idx = {0, 1, 1, 0};
  auto packed = std::make_shared<std::vector<uint8_t>>(coreml::PackBits(idx, 1));
  auto w = LutWeight::Create(
      *packed, packed, 1, {2, 2},
      Tensor::FromFloats(DType::kFloat16, {1, 1, 2, 2}, std::vector<float>{10, 11, 20, 21}), 1);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->shape(), (Shape{2, 4}));
  EXPECT_FALSE((*w)->RowDecodable());
  EXPECT_THAT((*w)->Dense().ToFloats(), ::testing::ElementsAre(10, 11, 20, 21, 20, 21, 10, 11));
}

TEST(LutWeight, RejectsBadShapes) {
  std::vector<uint8_t> packed(16, 0);
  Tensor lut = Tensor::FromFloats(DType::kFloat16, {3, 1, 16, 1}, std::vector<float>(48, 0));
  auto r = LutWeight::Create(packed, nullptr, 4, {4, 8}, lut, std::nullopt);  // 3 does not divide 4
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("does not divide"));
  Tensor lut8 = Tensor::FromFloats(DType::kFloat16, {1, 1, 8, 1}, std::vector<float>(8, 0));
  EXPECT_FALSE(LutWeight::Create(packed, nullptr, 4, {4, 8}, lut8, std::nullopt).ok());  // 2^4 != 8
  EXPECT_FALSE(LutWeight::Create(
                   std::span<const uint8_t>(packed).first(3), nullptr, 4, {4, 8},
                   Tensor::FromFloats(DType::kFloat16, {1, 1, 16, 1}, std::vector<float>(16, 0)),
                   std::nullopt)
                   .ok());  // too few bytes
}

}  // namespace
}  // namespace anec::runtime
