#include "cli/sampling_flags.h"

#include <gtest/gtest.h>

namespace anec::cli {
namespace {

TEST(SamplingFlagsTest, FillsOptionsAndKeepsAGivenSeed) {
  SamplingFlags f;
  f.max_tokens = 7;
  f.temperature = 0;
  f.top_p = 0.5f;
  f.top_k = 3;
  f.seed = 42;
  auto gen = ToGenerationOptions(f);
  ASSERT_TRUE(gen.ok()) << gen.status().ToString();
  EXPECT_EQ(gen->max_tokens, 7);
  EXPECT_EQ(gen->sampling.temperature, 0.0f);
  EXPECT_EQ(gen->sampling.top_p, 0.5f);
  EXPECT_EQ(gen->sampling.top_k, 3);
  EXPECT_EQ(gen->sampling.seed, 42u);
}

TEST(SamplingFlagsTest, BadValuesNameTheFlag) {
  SamplingFlags f;
  f.max_tokens = 0;
  EXPECT_NE(ToGenerationOptions(f).status().message().find("--max-tokens"), std::string::npos);
  f = SamplingFlags{};
  f.temperature = -1;
  EXPECT_NE(ToGenerationOptions(f).status().message().find("--temperature"), std::string::npos);
  f = SamplingFlags{};
  f.top_p = 1.5f;
  EXPECT_NE(ToGenerationOptions(f).status().message().find("--top-p"), std::string::npos);
  f = SamplingFlags{};
  f.top_k = -2;
  EXPECT_NE(ToGenerationOptions(f).status().message().find("--top-k"), std::string::npos);
}

}  // namespace
}  // namespace anec::cli
