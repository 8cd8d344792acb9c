#include "runtime/generation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/toy_llm_test_util.h"
#include "text/tokenizer_config.h"

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

// A byte-level tokenizer whose ids 0..3 are "a".."d" and 4 is the special end-of-turn token, so
// it fits the toy model's 5 logits.
constexpr char kTinyTokenizer[] = R"({
  "added_tokens": [{"id": 4, "content": "<|im_end|>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": null,
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "d": 3}, "merges": []}
})";

TEST_F(GenerationTest, ChatSessionRendersTemplateKeepsHistoryAndStreams) {
  auto tok = text::Tokenizer::FromJson(kTinyTokenizer);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto cfg = text::TokenizerConfig::FromJson(
      R"({"eos_token": "<|im_end|>", "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"})");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_TRUE(tok->ApplyConfig(*cfg).ok());
  EXPECT_EQ(StopTokenIds(*tok), (std::set<int32_t>{4}));

  ChatSession chat(model_.get(), &*tok, /*use_template=*/true);
  chat.SetSystem("c");
  GenerationOptions opts;
  opts.max_tokens = 3;
  std::string streamed;
  auto stats = chat.Reply("ab", opts, [&](std::string_view piece) { streamed += piece; });
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  int shifts = 0;
  std::vector<int32_t> want_ids = Reference({2, 0, 1}, 3, &shifts);
  std::string want_text;
  for (int32_t id : want_ids) want_text += static_cast<char>('a' + id);
  EXPECT_EQ(streamed, want_text);
  EXPECT_EQ(chat.turns(), 1u);

  // The next prompt holds system, the first exchange and the new message.
  auto next = chat.BuildPrompt("d", 0);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  std::vector<int32_t> expect = {2, 0, 1};
  expect.insert(expect.end(), want_ids.begin(), want_ids.end());
  expect.push_back(3);
  EXPECT_EQ(*next, expect);
  // Reserving room drops the oldest exchange first, then trims the message itself.
  auto tight = chat.BuildPrompt("d", kContext - 2);
  ASSERT_TRUE(tight.ok());
  EXPECT_EQ(*tight, (std::vector<int32_t>{2, 3}));
  auto trimmed = chat.BuildPrompt("abcdabcd", kContext - 3);
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(*trimmed, (std::vector<int32_t>{1, 2, 3}));
}

}  // namespace
}  // namespace anec::runtime
