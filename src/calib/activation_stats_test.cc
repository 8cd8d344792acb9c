#include "calib/activation_stats.h"

#include <gtest/gtest.h>

#include <cmath>

#include "calib/op_test_util.h"
#include "runtime/op_context.h"

namespace anec::calib {
namespace {

using runtime::Arg;
using runtime::CompiledFunction;
using runtime::CompiledOp;
using runtime::DType;
using runtime::OpContext;
using runtime::Tensor;

using testing::MakeWeightOp;

void Observe(ActivationStats* stats, const CompiledOp& op, Tensor x) {
  CompiledFunction fn;
  std::vector<Tensor> env{std::move(x)};
  OpContext ctx(fn, op, &env, nullptr, nullptr);
  stats->BeforeOp(op, ctx);
}

TEST(ActivationStatsTest, ConvChannelsAreAxisOneAndAveragedOverPositions) {
  ActivationStats stats;
  CompiledOp op = MakeWeightOp("conv", "layers_0_q_proj");
  // x [1, C=2, 1, T=2]: channel 0 holds 1, 3; channel 1 holds 2, 4.
  const std::vector<float> a{1, 3, 2, 4};
  Observe(&stats, op, Tensor::FromFloats(DType::kFloat16, {1, 2, 1, 2}, a));
  const std::vector<float> b{5, 6};  // one more position: channel 0 = 5, channel 1 = 6
  Observe(&stats, op, Tensor::FromFloats(DType::kFloat16, {1, 2, 1, 1}, b));
  auto imp = stats.Finish(0.0, "test");
  ASSERT_TRUE(imp.ok()) << imp.status().ToString();
  const std::vector<float>* q = imp->Find("layers_0_q_proj");
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(q->size(), 2u);
  EXPECT_FLOAT_EQ((*q)[0], (1 + 9 + 25) / 3.0f);
  EXPECT_FLOAT_EQ((*q)[1], (4 + 16 + 36) / 3.0f);
  EXPECT_EQ(imp->description, "test");
}

TEST(ActivationStatsTest, LinearChannelsAreTheLastAxisAndDampingAddsTheMean) {
  ActivationStats stats;
  const std::vector<float> x{0, 2, 0, 2};  // [2 positions, 2 channels]: channel 0 never active
  Observe(&stats, MakeWeightOp("linear", "w"), Tensor::FromFloats(DType::kFloat32, {2, 2}, x));
  auto imp = stats.Finish(0.5, "");
  ASSERT_TRUE(imp.ok());
  const std::vector<float>& w = *imp->Find("w");
  // E[x^2] = {0, 4}, mean 2: damping 0.5 adds 1 to each.
  EXPECT_FLOAT_EQ(w[0], 1.0f);
  EXPECT_FLOAT_EQ(w[1], 5.0f);
}

TEST(ActivationStatsTest, IgnoresOtherOpsAndUnnamedWeights) {
  ActivationStats stats;
  const std::vector<float> x{1, 1};
  Observe(&stats, MakeWeightOp("matmul", "w"), Tensor::FromFloats(DType::kFloat32, {1, 2}, x));
  Observe(&stats, MakeWeightOp("linear", ""), Tensor::FromFloats(DType::kFloat32, {1, 2}, x));
  EXPECT_EQ(stats.size(), 0u);
}

TEST(ActivationStatsTest, AWeightFedTwoWidthsIsAnError) {
  ActivationStats stats;
  CompiledOp op = MakeWeightOp("linear", "w");
  Observe(&stats, op, Tensor::FromFloats(DType::kFloat32, {1, 2}, std::vector<float>{1, 1}));
  Observe(&stats, op, Tensor::FromFloats(DType::kFloat32, {1, 3}, std::vector<float>{1, 1, 1}));
  auto imp = stats.Finish(0.0, "");
  ASSERT_FALSE(imp.ok());
  EXPECT_NE(imp.status().message().find("'w'"), std::string::npos);
}

TEST(ActivationStatsTest, InfiniteActivationsAreReported) {
  ActivationStats stats;
  const std::vector<float> x{1e30f, 1};  // rounds to Inf in fp16
  Observe(&stats, MakeWeightOp("linear", "w"), Tensor::FromFloats(DType::kFloat16, {1, 2}, x));
  auto imp = stats.Finish(0.0, "");
  ASSERT_FALSE(imp.ok());
  EXPECT_NE(imp.status().message().find("overflowed"), std::string::npos);
}

// The form for moments measured elsewhere: the same as Finish's, and non-finite ones named.
TEST(ActivationStatsTest, DampedImportanceIsFinishsForm) {
  auto imp = DampedImportance("w", std::vector<float>{0, 4}, 0.5);
  ASSERT_TRUE(imp.ok());
  EXPECT_FLOAT_EQ((*imp)[0], 1.0f);
  EXPECT_FLOAT_EQ((*imp)[1], 5.0f);
  auto bad = DampedImportance("layers_0_q_proj", std::vector<float>{1, INFINITY}, 0.5);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'layers_0_q_proj'"), std::string::npos);
}

}  // namespace
}  // namespace anec::calib
