#include "runtime/generation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/toy_llm_test_util.h"

namespace anec::runtime {
namespace {

using namespace testing;  // NOLINT

class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emb_ = Embeddings();
    head_ = LmHead();
    c0_ = Chunk(0);
    c1_ = Chunk(1);
    ModelFolderConfig cfg;
    cfg.context_length = kContext;
    cfg.batch_size = kBatch;
    auto e = LoadModel(emb_);
    auto h = LoadModel(head_);
    auto a = LoadModel(c0_);
    auto b = LoadModel(c1_);
    ASSERT_TRUE(e.ok() && h.ok() && a.ok() && b.ok());
    auto m = LlmModel::FromPrograms(cfg, *e, {*a, *b}, *h, &pool_);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(*m);
  }

  // Greedy decoding of the toy model computed from the reference, with the same context shift
  // rule as Generate (keep the newest half).
  static std::vector<int32_t> Reference(std::vector<int32_t> window, int max_tokens, int* shifts) {
    std::vector<int32_t> out;
    for (int i = 0; i < max_tokens; ++i) {
      int32_t next = ArgMax(Expected(window));
      out.push_back(next);
      if (i + 1 == max_tokens) break;
      window.push_back(next);
      if (static_cast<int64_t>(window.size()) > kContext) {
        window.erase(window.begin(), window.end() - kContext / 2);
        ++*shifts;
      }
    }
    return out;
  }

  ThreadPool pool_{2};
  ModelBuilder emb_, head_, c0_, c1_;
  std::unique_ptr<LlmModel> model_;
};

TEST_F(GenerationTest, GreedyMatchesReferenceAcrossAContextShift) {
  std::vector<int32_t> prompt = {4, 1, 0, 2, 3, 1, 0, 4, 2, 1};
  GenerationOptions opts;
  opts.max_tokens = 12;  // 10 + 12 > 16: the window must shift once
  std::vector<int32_t> got;
  auto stats = Generate(model_.get(), prompt, opts, {}, [&](int32_t id) {
    got.push_back(id);
    return true;
  });
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  int shifts = 0;
  EXPECT_EQ(got, Reference(prompt, 12, &shifts));
  EXPECT_EQ(stats->context_shifts, shifts);
  EXPECT_EQ(shifts, 1);
  EXPECT_EQ(stats->generated_tokens, 12);
  EXPECT_EQ(stats->prompt_tokens, 10);
  EXPECT_EQ(stats->prefilled_tokens, 10);
}

TEST_F(GenerationTest, StopTokenEndsGenerationAndCallbackCanStop) {
  std::vector<int32_t> prompt = {1, 2};
  int shifts = 0;
  int32_t first = Reference(prompt, 1, &shifts)[0];
  GenerationOptions opts;
  int calls = 0;
  auto stats = Generate(model_.get(), prompt, opts, {first}, [&](int32_t) { return ++calls > 0; });
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(stats->stopped_by_token);
  EXPECT_EQ(stats->generated_tokens, 0);
  EXPECT_EQ(calls, 0);
  auto two = Generate(model_.get(), prompt, opts, {}, [&](int32_t) { return ++calls < 2; });
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->generated_tokens, 2);
  // The second call reused the cached prompt prefix.
  EXPECT_EQ(two->prefilled_tokens, 1);
}

}  // namespace
}  // namespace anec::runtime
