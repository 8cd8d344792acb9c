#include "calib/loss_sensitivity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "calib/op_test_util.h"
#include "runtime/op_context.h"
#include "runtime/toy_llm_test_util.h"

namespace anec::calib {
namespace {

using runtime::Arg;
using runtime::CompiledFunction;
using runtime::CompiledOp;
using runtime::DType;
using runtime::OpContext;
using runtime::Tensor;
using ::testing::HasSubstr;

using testing::MakeWeightOp;

// Runs `injector` after an op that produced `y` from `x`; returns the (possibly replaced) output.
std::vector<float> Inject(DeltaInjector* injector, const CompiledOp& op, Tensor x, Tensor y) {
  CompiledFunction fn;
  std::vector<Tensor> env{std::move(x)};
  OpContext ctx(fn, op, &env, nullptr, nullptr);
  ctx.AddOutput(std::move(y));
  injector->AfterOp(op, ctx);
  return ctx.outputs()[0].ToFloats();
}

TEST(DeltaInjectorTest, ConvAddsTheChangeTimesEachPosition) {
  // delta [2 rows, 3 cols]; x [1, C=3, 1, T=2] (channel-major), y [1, 2, 1, 2].
  const std::vector<WeightDelta> deltas{{"layers_0_q_proj", 2, 3, {1, 0, 2, 0, -1, 0}}};
  DeltaInjector injector(deltas);
  const std::vector<float> x{1, 4, 2, 5, 3, 6};  // position 0: (1, 2, 3); position 1: (4, 5, 6)
  const std::vector<float> y{10, 20, 30, 40};
  const std::vector<float> out = Inject(&injector, MakeWeightOp("conv", "layers_0_q_proj"),
                                        Tensor::FromFloats(DType::kFloat32, {1, 3, 1, 2}, x),
                                        Tensor::FromFloats(DType::kFloat32, {1, 2, 1, 2}, y));
  // Row 0: 1*x0 + 2*x2 -> 7 and 16; row 1: -x1 -> -2 and -5.
  EXPECT_THAT(out, ::testing::ElementsAre(17, 36, 28, 35));
  EXPECT_TRUE(injector.status().ok());
  EXPECT_EQ(injector.applied().count("layers_0_q_proj"), 1u);
}

TEST(DeltaInjectorTest, LinearUsesTheLastAxisAndKeepsTheDtype) {
  const std::vector<WeightDelta> deltas{{"w", 1, 2, {0.5f, 1}}};
  DeltaInjector injector(deltas);
  CompiledFunction fn;
  const CompiledOp op = MakeWeightOp("linear", "w");
  std::vector<Tensor> env{
      Tensor::FromFloats(DType::kFloat16, {2, 2}, std::vector<float>{2, 1, 4, 3})};
  OpContext ctx(fn, op, &env, nullptr, nullptr);
  ctx.AddOutput(Tensor::FromFloats(DType::kFloat16, {2, 1}, std::vector<float>{1, 1}));
  injector.AfterOp(op, ctx);
  EXPECT_EQ(ctx.outputs()[0].dtype(), DType::kFloat16);
  EXPECT_THAT(ctx.outputs()[0].ToFloats(), ::testing::ElementsAre(3, 6));
}

TEST(DeltaInjectorTest, OtherWeightsAreLeftAloneAndAMisfitIsAnError) {
  const std::vector<WeightDelta> deltas{{"w", 1, 3, {1, 1, 1}}};
  DeltaInjector injector(deltas);
  const std::vector<float> y{5};
  EXPECT_THAT(Inject(&injector, MakeWeightOp("linear", "other"),
                     Tensor::FromFloats(DType::kFloat32, {1, 2}, std::vector<float>{1, 1}),
                     Tensor::FromFloats(DType::kFloat32, {1, 1}, y)),
              ::testing::ElementsAre(5));
  EXPECT_TRUE(injector.status().ok());
  Inject(&injector, MakeWeightOp("linear", "w"),
         Tensor::FromFloats(DType::kFloat32, {1, 2}, std::vector<float>{1, 1}),
         Tensor::FromFloats(DType::kFloat32, {1, 1}, y));
  ASSERT_FALSE(injector.status().ok());
  EXPECT_THAT(injector.status().message(), HasSubstr("a change of 1x3 does not fit op 'op'"));
  EXPECT_TRUE(injector.applied().empty());
}

class LossProbeTest : public ::testing::Test {
 protected:
  // The loaded programs view their builders' bytes: the builders live as long as the test.
  std::unique_ptr<runtime::LlmModel> Make() {
    using namespace runtime::testing;  // NOLINT
    auto e = LoadModel(emb_, nullptr, "toy_embeddings.mlpackage");
    auto h = LoadModel(head_, nullptr, "toy_lm_head.mlpackage");
    auto a = LoadModel(c0_, nullptr, "toy_FFN_PF_chunk_01of02.mlpackage");
    auto b = LoadModel(c1_, nullptr, "toy_FFN_PF_chunk_02of02.mlpackage");
    EXPECT_TRUE(e.ok() && h.ok() && a.ok() && b.ok());
    if (!(e.ok() && h.ok() && a.ok() && b.ok())) return nullptr;
    runtime::ModelFolderConfig cfg;
    cfg.context_length = kContext;
    cfg.batch_size = kBatch;
    cfg.num_chunks = 2;
    auto m = runtime::LlmModel::FromPrograms(cfg, *e, {*a, *b}, *h, &pool_);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(*m) : nullptr;
  }
  runtime::ThreadPool pool_{2};
  runtime::testing::ModelBuilder emb_ = runtime::testing::Embeddings(),
                                 head_ = runtime::testing::LmHead(),
                                 c0_ = runtime::testing::Chunk(0), c1_ = runtime::testing::Chunk(1);
};

TEST_F(LossProbeTest, KlMatchesTheChangedLogitsComputedIndependently) {
  auto model = Make();
  ASSERT_NE(model, nullptr);
  const std::vector<int32_t> tokens{1, 0, 2, 1};
  auto probe = LossProbe::Create(model.get(), tokens);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  // No change: no divergence.
  const std::vector<WeightDelta> zero{{"w1", 3, 2, {0, 0, 0, 0, 0, 0}}};
  auto none = probe->MeanKl(zero);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_NEAR(*none, 0.0, 1e-12);
  // w1[0][1] += 0.25 moves logit 0 by 0.25 * h2[1], h2 the toy's second hidden channel.
  const std::vector<WeightDelta> change{{"w1", 3, 2, {0, 0.25f, 0, 0, 0, 0}}};
  auto kl = probe->MeanKl(change);
  ASSERT_TRUE(kl.ok()) << kl.status().ToString();
  double expected = 0;
  std::vector<int32_t> prefix;
  for (int32_t t : tokens) {
    prefix.push_back(t);
    const std::vector<float> ref = runtime::testing::Expected(prefix);
    double h1 = 0, h2 = 0;  // channel 1 of the embedding row is 1 - id % 2
    for (int32_t id : prefix) {
      h1 += 1 - id % 2;
      h2 += h1;
    }
    std::vector<float> changed = ref;
    changed[0] += static_cast<float>(0.25 * h2);
    const std::vector<float> p = LogSoftmax(ref), q = LogSoftmax(changed);
    for (size_t v = 0; v < p.size(); ++v) expected += std::exp(double{p[v]}) * (p[v] - q[v]);
  }
  expected /= static_cast<double>(tokens.size());
  EXPECT_GT(expected, 1e-3);
  EXPECT_NEAR(*kl, expected, 0.02 * expected);  // the runtime's logits are fp16
}

TEST_F(LossProbeTest, AWeightNoOpUsesIsAnError) {
  auto model = Make();
  ASSERT_NE(model, nullptr);
  auto probe = LossProbe::Create(model.get(), {1, 2, 3});
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  const std::vector<WeightDelta> missing{{"layers_0_q_proj", 1, 1, {1}}};
  auto kl = probe->MeanKl(missing);
  ASSERT_FALSE(kl.ok());
  EXPECT_THAT(kl.status().message(), HasSubstr("no conv or linear op of the model uses a weight "
                                               "named 'layers_0_q_proj'"));
  EXPECT_FALSE(LossProbe::Create(model.get(), {1}).ok());
}

}  // namespace
}  // namespace anec::calib
