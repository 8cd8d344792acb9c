#include "runtime/sampler.h"

#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace anec::runtime {
namespace {

TEST(Sampler, GreedyAndTopK1PickTheArgMax) {
  std::vector<float> logits = {0.5f, 3.0f, NAN, 3.0f, -1.0f};
  EXPECT_EQ(ArgMax(logits), 1);
  Sampler greedy({});
  EXPECT_EQ(greedy.Sample(logits), 1);
  Sampler k1({.temperature = 5.0f, .top_k = 1, .top_p = 1.0f, .seed = 3});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(k1.Sample(logits), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits = {1.0f, 1.1f, 0.9f, 1.05f};
  Sampler a({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42});
  Sampler b({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42});
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(a.Sample(logits));
    sb.push_back(b.Sample(logits));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_GT(std::set<int32_t>(sa.begin(), sa.end()).size(), 1u);
}

TEST(Sampler, FrequenciesFollowTheTemperedSoftmax) {
  // p ~ exp(l / 0.5): logits 0, ln2/2, ln4/2 -> weights 1, 2, 4.
  std::vector<float> logits = {0.0f, std::log(2.0f) / 2, std::log(4.0f) / 2};
  Sampler s({.temperature = 0.5f, .top_k = 0, .top_p = 1.0f, .seed = 1});
  std::map<int32_t, int> count;
  const int n = 70000;
  for (int i = 0; i < n; ++i) ++count[s.Sample(logits)];
  EXPECT_NEAR(count[0] / double(n), 1 / 7.0, 0.01);
  EXPECT_NEAR(count[1] / double(n), 2 / 7.0, 0.01);
  EXPECT_NEAR(count[2] / double(n), 4 / 7.0, 0.01);
}

TEST(Sampler, TopKAndTopPCutTheTail) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  Sampler p({.temperature = 1.0f, .top_k = 0, .top_p = 0.75f, .seed = 9});  // keeps {0, 1}
  Sampler k({.temperature = 1.0f, .top_k = 3, .top_p = 1.0f, .seed = 9});   // keeps {0, 1, 2}
  std::set<int32_t> seen_p, seen_k;
  for (int i = 0; i < 3000; ++i) {
    seen_p.insert(p.Sample(logits));
    seen_k.insert(k.Sample(logits));
  }
  EXPECT_EQ(seen_p, (std::set<int32_t>{0, 1}));
  EXPECT_EQ(seen_k, (std::set<int32_t>{0, 1, 2}));
}

}  // namespace
}  // namespace anec::runtime
