#include "calib/lut_bits_plan.h"

#include <gtest/gtest.h>

namespace anec::calib {
namespace {

LutBitsMatrix Matrix(int64_t rows, int64_t cols, double e4, double e6, double e8) {
  LutBitsMatrix m;
  m.role = model::TensorRole::kQProj;
  m.rows = rows;
  m.cols = cols;
  m.error[0] = e4;
  m.error[1] = e6;
  m.error[2] = e8;
  return m;
}

TEST(LutBitsPlanTest, TheBudgetGoesWhereTheErrorFallsMost) {
  // Two equal-sized matrices: the first barely cares about its bits, the second does.
  std::vector<LutBitsMatrix> ms{Matrix(64, 1024, 0.011, 0.010, 0.010),
                                Matrix(64, 1024, 0.500, 0.050, 0.010)};
  double avg = 0;
  ASSERT_TRUE(AllocateLutBits(&ms, 5.2, 8, &avg).ok());
  EXPECT_EQ(ms[0].bits, 4);
  EXPECT_EQ(ms[1].bits, 6);
  EXPECT_LE(avg, 5.2);
  EXPECT_NEAR(avg, (ms[0].StoredBits(4, 8) + ms[1].StoredBits(6, 8)) / 2, 1e-12);
}

TEST(LutBitsPlanTest, AGenerousBudgetKeepsEightBitsAndATightOneFallsToFour) {
  std::vector<LutBitsMatrix> ms{Matrix(8, 512, 0.3, 0.1, 0.01), Matrix(16, 256, 0.2, 0.1, 0.05)};
  double avg = 0;
  ASSERT_TRUE(AllocateLutBits(&ms, 10.0, 8, &avg).ok());  // all 8-bit: 9.5 with tables
  EXPECT_EQ(ms[0].bits, 8);
  EXPECT_EQ(ms[1].bits, 8);
  const double floor = (ms[0].StoredBits(4, 8) * 4096 + ms[1].StoredBits(4, 8) * 4096) / 8192;
  ASSERT_TRUE(AllocateLutBits(&ms, floor, 8, &avg).ok());
  EXPECT_EQ(ms[0].bits, 4);
  EXPECT_EQ(ms[1].bits, 4);
}

TEST(LutBitsPlanTest, AMatrixWithMoreGainKeepsMoreBits) {
  // Same errors; the second matrix's block writes 10x more of the residual stream.
  std::vector<LutBitsMatrix> ms{Matrix(64, 1024, 0.2, 0.02, 0.002),
                                Matrix(64, 1024, 0.2, 0.02, 0.002)};
  ms[1].gain = 10;
  double avg = 0;
  ASSERT_TRUE(AllocateLutBits(&ms, 5.2, 8, &avg).ok());
  EXPECT_EQ(ms[0].bits, 4);
  EXPECT_EQ(ms[1].bits, 6);
  std::swap(ms[0].gain, ms[1].gain);
  ASSERT_TRUE(AllocateLutBits(&ms, 5.2, 8, &avg).ok());
  EXPECT_EQ(ms[0].bits, 6);
  EXPECT_EQ(ms[1].bits, 4);
}

TEST(LutBitsPlanTest, StoredBitsCountTheTables) {
  LutBitsMatrix m = Matrix(576, 576, 0, 0, 0);
  EXPECT_NEAR(m.StoredBits(6, 8), 6 + 64.0 * 16 / (8 * 576), 1e-12);
  EXPECT_NEAR(m.StoredBits(8, 8), 8 + 256.0 * 16 / (8 * 576), 1e-12);
}

TEST(LutBitsPlanTest, ABudgetBelowTheFloorNamesTheFloor) {
  std::vector<LutBitsMatrix> ms{Matrix(8, 64, 0.3, 0.1, 0.01)};
  double avg = 0;
  Status s = AllocateLutBits(&ms, 4.0, 8, &avg);  // 4 bits + 0.5 bits of tables
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("4.500"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace anec::calib
