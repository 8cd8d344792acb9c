#include "calib/lut_table_tuning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ane/ane_test_util.h"
#include "ane/weight_emitter.h"
#include "base/half.h"
#include "calib/loss_gradients.h"
#include "calib/loss_sensitivity.h"
#include "calib/reference_transformer.h"
#include "quant/palettize.h"

namespace anec::calib {
namespace {

using model::TensorRole;

constexpr struct {
  TensorRole role;
  const char* tag;
} kProjections[] = {{TensorRole::kQProj, "q_proj"},       {TensorRole::kKProj, "k_proj"},
                    {TensorRole::kVProj, "v_proj"},       {TensorRole::kOProj, "o_proj"},
                    {TensorRole::kGateProj, "gate_proj"}, {TensorRole::kUpProj, "up_proj"},
                    {TensorRole::kDownProj, "down_proj"}};

std::vector<int32_t> Ids(size_t n, int32_t vocab, int32_t mul, int32_t add) {
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * mul + add) % vocab);
  return ids;
}

// Soft targets: the loss is the summed KL(target || model) of every position but the last, and
// the target's own distribution gives zero loss and zero gradients.
TEST(ReferenceWindowTest, SoftTargetsGiveTheKlDivergence) {
  const model::ModelSpec spec = ane::TinySpec(2, 50);
  const ane::MemoryWeightSource a = ane::RandomWeights(spec, 3), b = ane::RandomWeights(spec, 4);
  const std::vector<int32_t> ids = Ids(70, 50, 7, 3);  // two head blocks
  const int64_t t = static_cast<int64_t>(ids.size()), vocab = 50;
  auto log_probs = [&](const ane::MemoryWeightSource& w) {
    ReferenceTransformer ref(w, spec, 1);
    EXPECT_TRUE(ref.Init(t).ok());
    std::vector<float> logits, out;
    EXPECT_TRUE(ref.Window(ids, &logits, {}).ok());
    for (int64_t i = 0; i < t; ++i) {
      const std::vector<float> row = LogSoftmax(std::span(logits).subspan(i * vocab, vocab));
      out.insert(out.end(), row.begin(), row.end());
    }
    return out;
  };
  const std::vector<float> pa = log_probs(a), pb = log_probs(b);
  double expected = 0;
  for (int64_t i = 0; i + 1 < t; ++i) {
    for (int64_t v = 0; v < vocab; ++v) {
      const double lb = pb[i * vocab + v], la = pa[i * vocab + v];
      expected += std::exp(lb) * (lb - la);
    }
  }
  ReferenceTransformer ref(a, spec, 1);
  ASSERT_TRUE(ref.Init(t).ok());
  double largest = 0;
  auto sink = [&](int64_t, const std::vector<float>(&g)[ReferenceTransformer::kProjections],
                  const std::vector<float>* const(&)[ReferenceTransformer::kProjections]) {
    for (const auto& v : g) {
      for (float x : v) largest = std::max(largest, std::fabs(double{x}));
    }
  };
  auto kl = ref.Window(ids, nullptr, sink, pb);
  ASSERT_TRUE(kl.ok()) << kl.status().ToString();
  EXPECT_GT(expected, 1e-3);
  EXPECT_NEAR(*kl, expected, 1e-4 * expected);
  EXPECT_GT(largest, 0);
  largest = 0;
  auto self = ref.Window(ids, nullptr, sink, pa);
  ASSERT_TRUE(self.ok());
  EXPECT_NEAR(*self, 0.0, 1e-4);
  EXPECT_LT(largest, 1e-5);
  EXPECT_FALSE(ref.Window(ids, nullptr, sink, std::span(pb).first(10)).ok());
}

// A 2-bit plan of a random model: tuning lowers the KL of the palettized model from the original
// on the tokens that judge it, and leaves fp16 tables, ascending per group, in the plan.
TEST(LutTableTuningTest, StepsLowerTheKlAndKeepTablesAscending) {
  const model::ModelSpec spec = ane::TinySpec(2, 50);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 5, 0.3f);
  const std::vector<int32_t> train = Ids(96, 50, 7, 3), held = Ids(96, 50, 11, 5);
  auto grads = MeasureLossGradients(weights, spec, train, {.window = 48, .threads = 1});
  ASSERT_TRUE(grads.ok()) << grads.status().ToString();
  quant::ChannelImportance importance;
  importance.gradient_rows = grads->rows;
  importance.gradient_columns = grads->columns;
  ane::LutBitsPlan plan;
  for (int64_t layer = 0; layer < spec.num_layers; ++layer) {
    for (const auto& p : kProjections) {
      auto t = weights.Read(p.role, layer);
      ASSERT_TRUE(t.ok());
      const int64_t rows = t->info.shape[0], cols = t->info.shape[1];
      const std::vector<float>& v = *weights.Values(p.role, layer);
      std::vector<uint16_t> half(v.size());
      for (size_t i = 0; i < v.size(); ++i) half[i] = FloatToHalf(v[i]);
      quant::LutConfig cfg;
      cfg.bits = 2;
      cfg.group_size = static_cast<int>(ane::LutGroupFor(rows, 8));
      cfg.threads = 1;
      auto lut = quant::Palettize(half, rows, cols, cfg);
      ASSERT_TRUE(lut.ok());
      plan[{p.role, layer}] = {2, lut->lut_fp16, lut->input_hash, {}};
    }
  }
  const ane::LutBitsPlan fitted = plan;
  for (const bool validated : {true, false}) {
    plan = fitted;
    auto report =
        TuneLutTables(weights, spec, importance, train,
                      validated ? std::span<const int32_t>(held) : std::span<const int32_t>(), 8,
                      &plan, {.rounds = 2, .window = 48, .threads = 1}, nullptr);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->matrices, 14);
    ASSERT_GE(report->best_round, 1) << "no step lowered the KL (validated " << validated << ")";
    ASSERT_EQ(report->mean_kl.size(), static_cast<size_t>(report->best_round) + 1);
    EXPECT_LT(report->mean_kl.back(), report->mean_kl.front());
    int changed = 0;
    for (const auto& [key, planned] : plan) {
      const ane::PlannedLut& before = fitted.at(key);
      ASSERT_EQ(planned.tables.size(), before.tables.size());
      EXPECT_EQ(planned.tables_input_hash, before.tables_input_hash);
      for (size_t g = 0; g < planned.tables.size(); g += 4) {
        for (size_t e = 1; e < 4; ++e) {
          EXPECT_LE(HalfToFloat(planned.tables[g + e - 1]), HalfToFloat(planned.tables[g + e]));
        }
      }
      changed += planned.tables != before.tables;
    }
    EXPECT_GT(changed, 7);
  }
  // Matrices without gradient statistics keep their tables.
  plan = fitted;
  auto none = TuneLutTables(weights, spec, quant::ChannelImportance(), train, {}, 8, &plan,
                            {.rounds = 1, .window = 48, .threads = 1}, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->matrices, 0);
  EXPECT_EQ(plan.size(), fitted.size());
  for (const auto& [key, planned] : plan) EXPECT_EQ(planned.tables, fitted.at(key).tables);
}

}  // namespace
}  // namespace anec::calib
