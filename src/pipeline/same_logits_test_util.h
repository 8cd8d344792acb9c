// Test-only helper (header-only, so it is not part of the anec_pipeline library, which must not
// depend on the runtime): two converted folders that must compute the same model.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "runtime/llm_model.h"

namespace anec::pipeline {

// Opens both folders with the runtime and expects bit-identical logits at each of 12 positions
// (token by token through `infer`) and after `Forward` (prefill batch, then `infer`); the logits
// must not be all zero.
inline void ExpectSameLogits(FileSystem* fs, const std::string& a_dir, const std::string& b_dir,
                             int32_t vocab) {
  auto a = runtime::LlmModel::Open(fs, a_dir);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = runtime::LlmModel::Open(fs, b_dir);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<int32_t> tokens;
  for (int32_t i = 0; i < 12; ++i) tokens.push_back((i * 37 + 5) % vocab);
  auto la = (*a)->LogitsPerPosition(tokens);
  auto lb = (*b)->LogitsPerPosition(tokens);
  ASSERT_TRUE(la.ok()) << la.status().ToString();
  ASSERT_TRUE(lb.ok()) << lb.status().ToString();
  ASSERT_EQ(la->size(), lb->size());
  double max_diff = 0, max_abs = 0;
  for (size_t p = 0; p < la->size(); ++p) {
    ASSERT_EQ((*la)[p].size(), (*lb)[p].size());
    for (size_t i = 0; i < (*la)[p].size(); ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::abs((*la)[p][i] - (*lb)[p][i])));
      max_abs = std::max(max_abs, static_cast<double>(std::abs((*la)[p][i])));
    }
  }
  EXPECT_GT(max_abs, 0.0);
  EXPECT_EQ(max_diff, 0.0) << a_dir << " vs " << b_dir << ", largest logit " << max_abs;
  auto pa = (*a)->Forward(tokens);
  auto pb = (*b)->Forward(tokens);
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_EQ(*pa, *pb);
}

}  // namespace anec::pipeline
