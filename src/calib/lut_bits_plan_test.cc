#include "calib/lut_bits_plan.h"

#include <gtest/gtest.h>

#include <cstring>

#include "ane/ane_test_util.h"
#include "ane/half.h"
#include "ane/weight_source.h"
#include "quant/palettize.h"

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
  m.row_scale = true;  // one fp16 per row
  EXPECT_NEAR(m.StoredBits(6, 8), 6 + 64.0 * 16 / (8 * 576) + 16.0 / 576, 1e-12);
}

TEST(LutBitsPlanTest, ABudgetBelowTheFloorNamesTheFloor) {
  std::vector<LutBitsMatrix> ms{Matrix(8, 64, 0.3, 0.1, 0.01)};
  double avg = 0;
  Status s = AllocateLutBits(&ms, 4.0, 8, &avg);  // 4 bits + 0.5 bits of tables
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("4.500"), std::string::npos) << s.message();
}

TEST(ResidualGainsTest, EachBlockCountsItsShareOfTheStreamItWritesInto) {
  // Four channels, unit norms: the stream starts at power 1 per channel.
  const std::vector<double> ones(4, 1.0);
  std::vector<ResidualBlock> blocks(2);
  blocks[0].output_power = {1, 1, 1, 1};  // doubles the stream: gain 1
  blocks[0].next_norm = ones;
  blocks[1].output_power = {0.5, 0.5, 0.5, 0.5};  // a quarter of the stream it meets (2 each)
  blocks[1].next_norm = ones;
  const std::vector<double> g = ResidualGains(ones, blocks);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_NEAR(g[0], 1.0, 1e-12);
  EXPECT_NEAR(g[1], 0.25, 1e-12);
}

TEST(ResidualGainsTest, TheNextNormWeightsTheChannels) {
  // The block writes only into channel 0, which the next norm zeroes: nothing of it is read.
  std::vector<ResidualBlock> blocks(1);
  blocks[0].output_power = {5, 0, 0, 0};
  blocks[0].next_norm = {0, 1, 1, 1};
  EXPECT_NEAR(ResidualGains({1, 1, 1, 1}, blocks)[0], 0.0, 1e-12);
  blocks[0].next_norm = {2, 1, 1, 1};  // 4 x 5 / (4 + 3)
  EXPECT_NEAR(ResidualGains({1, 1, 1, 1}, blocks)[0], 20.0 / 7.0, 1e-12);
}

TEST(ResidualGainsTest, AMassiveActivationChannelNeitherInflatesNorDrownsTheGains) {
  // 40 channels; block 0 writes 10^4 into channel 0 (a massive activation) and 1 elsewhere;
  // block 1 then writes 1 everywhere. Without leaving channel 0 out, block 0's gain would be
  // ~250 and block 1's ~0.02.
  const size_t n = 40;
  std::vector<ResidualBlock> blocks(2);
  blocks[0].output_power.assign(n, 1.0);
  blocks[0].output_power[0] = 1e4;
  blocks[1].output_power.assign(n, 1.0);
  for (ResidualBlock& b : blocks) b.next_norm.assign(n, 1.0);
  const std::vector<double> g = ResidualGains(std::vector<double>(n, 1.0), blocks);
  EXPECT_NEAR(g[0], 1.0, 1e-12);
  EXPECT_NEAR(g[1], 0.5, 1e-12);
}

}  // namespace
}  // namespace anec::calib

namespace anec::calib {
namespace {

TEST(LutBitsPlanTest, MeasuredBlockLossesSetTheGains) {
  const model::ModelSpec spec = ane::TinySpec(2);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 3);
  quant::ChannelImportance importance;  // uniform
  std::vector<std::vector<std::string>> calls;
  auto loss = [&](std::span<const WeightDelta> deltas) -> Result<double> {
    std::vector<std::string> names;
    bool mlp1 = false;
    for (const WeightDelta& d : deltas) {
      names.push_back(d.name);
      EXPECT_EQ(static_cast<int64_t>(d.delta.size()), d.rows * d.cols) << d.name;
      double sq = 0;
      for (float v : d.delta) sq += double{v} * v;
      EXPECT_GT(sq, 0) << d.name << ": a 4-bit palettization changes random weights";
      mlp1 |= d.name == "layers_1_down_proj";
    }
    calls.push_back(names);
    return mlp1 ? 1.0 : 1e-6;  // only layer 1's MLP matters to the model
  };
  auto plan = PlanLutBits(weights, spec, importance, 5.0, 8, false, nullptr, loss);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(calls.size(), 4u);  // two layers, attention and MLP each
  EXPECT_EQ(calls[0], (std::vector<std::string>{"layers_0_q_proj", "layers_0_k_proj",
                                                "layers_0_v_proj", "layers_0_o_proj"}));
  EXPECT_EQ(calls[3], (std::vector<std::string>{"layers_1_gate_proj", "layers_1_up_proj",
                                                "layers_1_down_proj"}));
  int hot_bits = 0;
  for (const LutBitsMatrix& m : plan->matrices) {
    const bool hot = m.layer == 1 && (m.name.find("gate") != std::string::npos ||
                                      m.name.find("up_proj") != std::string::npos ||
                                      m.name.find("down") != std::string::npos);
    EXPECT_EQ(m.block_kl, hot ? 1.0 : 1e-6) << m.name;
    // The budget (tiny matrices: 64-entry tables cost 2 bits per weight here) affords a few
    // 6-bit matrices; they all go to the block the model responds to.
    if (hot) {
      hot_bits += m.bits;
    } else {
      EXPECT_EQ(m.bits, 4) << m.name;
    }
  }
  EXPECT_GT(hot_bits, 3 * 4);
  // An error from the measurement stops the plan.
  auto failing = PlanLutBits(
      weights, spec, importance, 5.0, 8, false, nullptr,
      [](std::span<const WeightDelta>) -> Result<double> { return Internal("runtime failed"); });
  ASSERT_FALSE(failing.ok());
  EXPECT_NE(failing.status().message().find("runtime failed"), std::string::npos);
}

// Matrix m as the plan reads it (fp16 bit patterns); empty on a read error.
std::vector<uint16_t> HalfOf(const ane::WeightSource& weights, const LutBitsMatrix& m) {
  auto data = weights.Read(m.role, m.layer);
  if (!data.ok()) return {};
  auto bytes = ane::ToHalfBytes(*data, 0, m.rows * m.cols);
  if (!bytes.ok()) return {};
  std::vector<uint16_t> half(bytes->size() / 2);
  std::memcpy(half.data(), bytes->data(), bytes->size());
  return half;
}

// The plan hands the writer the tables it fitted at each matrix's chosen width (ane::PlannedLut),
// and they give what fitting the matrix again would (the writer's result is then unchanged).
TEST(LutBitsPlanTest, ThePlanKeepsTheChosenTables) {
  const model::ModelSpec spec = ane::TinySpec(2);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 4);
  quant::ChannelImportance importance;  // uniform
  for (const bool row_scale : {false, true}) {
    auto plan = PlanLutBits(weights, spec, importance, 5.0, 8, row_scale, nullptr);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    ASSERT_EQ(plan->plan.size(), plan->matrices.size());
    for (const LutBitsMatrix& m : plan->matrices) {
      for (const std::vector<uint16_t>& t : m.tables) EXPECT_TRUE(t.empty()) << m.name;
      const ane::PlannedLut& p = plan->plan.at({m.role, m.layer});
      EXPECT_EQ(p.bits, m.bits);
      const int group = ane::LutGroupFor(m.rows, 8);
      ASSERT_EQ(static_cast<int64_t>(p.tables.size()), (m.rows / group) << m.bits) << m.name;
      const std::vector<uint16_t> half = HalfOf(weights, m);
      quant::LutConfig cfg{.bits = m.bits, .group_size = group, .threads = 1};
      cfg.row_scale = row_scale;
      auto fitted = quant::Palettize(half, m.rows, m.cols, cfg);
      cfg.tables = p.tables;
      cfg.tables_input_hash = p.tables_input_hash;
      cfg.row_scales = p.row_scales;
      EXPECT_EQ(p.row_scales.empty(), !row_scale) << m.name;
      for (const std::vector<uint16_t>& t : m.row_scales) EXPECT_TRUE(t.empty()) << m.name;
      auto reused = quant::Palettize(half, m.rows, m.cols, cfg);
      ASSERT_TRUE(fitted.ok()) << fitted.status().ToString();
      ASSERT_TRUE(reused.ok()) << reused.status().ToString();
      EXPECT_TRUE(reused->reused_tables) << m.name;
      EXPECT_EQ(reused->lut_fp16, fitted->lut_fp16) << m.name;
      EXPECT_EQ(reused->indices, fitted->indices) << m.name;
      EXPECT_EQ(reused->row_scale_fp16, fitted->row_scale_fp16) << m.name;
    }
  }
}

// With loss gradients for every matrix the errors are sum_ij r_i c_j (w - q)^2 (no gains), and
// the bits go where the gradients say the loss feels them; one matrix without gradients puts the
// plan back on the residual-gain proxy.
TEST(LutBitsPlanTest, LossGradientsWeighTheErrors) {
  const model::ModelSpec spec = ane::TinySpec(2);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 5);
  quant::ChannelImportance importance;  // uniform columns for the k-means
  auto proxy = PlanLutBits(weights, spec, importance, 5.0, 8, false, nullptr);
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  EXPECT_FALSE(proxy->loss_gradients);
  for (const LutBitsMatrix& m : proxy->matrices) {
    const bool hot = m.name == "layers_1_k_proj";
    importance.gradient_rows[m.name].assign(static_cast<size_t>(m.rows), hot ? 1e4f : 1.0f);
    importance.gradient_columns[m.name].assign(static_cast<size_t>(m.cols), 1.0f);
  }
  // (Tiny matrices: 64-entry tables cost 2 bits per weight, so 5 bits afford a few at 6.)
  auto plan = PlanLutBits(weights, spec, importance, 5.0, 8, false, nullptr);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->loss_gradients);
  int hot_bits = 0;
  for (const LutBitsMatrix& m : plan->matrices)
    hot_bits += m.name == "layers_1_k_proj" ? m.bits : 0;
  EXPECT_GT(hot_bits, 4);
  for (const LutBitsMatrix& m : plan->matrices) {
    EXPECT_EQ(m.gain, 1.0) << m.name;
    // Unit gradients (every matrix but the hot one): the error is the plain squared error.
    if (m.name != "layers_0_q_proj") continue;
    const std::vector<uint16_t> half = HalfOf(weights, m);
    auto four = quant::Palettize(
        half, m.rows, m.cols, {.bits = 4, .group_size = ane::LutGroupFor(m.rows, 8), .threads = 1});
    ASSERT_TRUE(four.ok());
    EXPECT_NEAR(m.error[0], four->sse, 1e-9 * four->sse);
  }
  // Gradients of another shape (statistics of another model): an error naming the fix.
  importance.gradient_rows["layers_0_v_proj"].push_back(1.0f);
  auto mismatch = PlanLutBits(weights, spec, importance, 5.0, 8, false, nullptr);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("layers_0_v_proj"), std::string::npos);
  EXPECT_NE(mismatch.status().message().find("measure again with --calibration default"),
            std::string::npos)
      << mismatch.status().message();
  importance.gradient_rows.erase("layers_0_v_proj");
  auto fallback = PlanLutBits(weights, spec, importance, 5.0, 8, false, nullptr);
  ASSERT_TRUE(fallback.ok());
  EXPECT_FALSE(fallback->loss_gradients);
}

}  // namespace
}  // namespace anec::calib
