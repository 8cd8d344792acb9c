#include "pipeline/kv_memory.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace anec::pipeline {
namespace {

model::ModelSpec QwQ32BAttention() {
  model::ModelSpec s;
  s.num_layers = 64;
  s.num_kv_heads = 8;
  s.head_dim = 128;
  return s;
}

TEST(KvMemoryTest, QwqThirtyTwoBAtContext1024) {
  // The figures of the QwQ-32B plan (docs/PIPELINE.md): macOS 13 chunks, iOS 32 chunks.
  const model::ModelSpec s = QwQ32BAttention();
  for (int64_t chunks : {13, 32}) {
    const std::vector<LayerRange> plan = SplitLayers(64, chunks);
    KvMemory shared = EstimateKvMemory(s, 1024, 64, ane::KvCacheSharing::kShared, plan);
    KvMemory own = EstimateKvMemory(s, 1024, 64, ane::KvCacheSharing::kPerChunk, plan);
    EXPECT_EQ(shared.states, 1);
    EXPECT_EQ(shared.total_bytes, 256ull << 20);
    EXPECT_EQ(shared.largest_bytes, 256ull << 20);
    EXPECT_EQ(own.states, chunks);
    EXPECT_EQ(own.total_bytes, 256ull << 20);
    // 4 MiB per layer: 5 layers (13 chunks) or 2 layers (32 chunks) at most.
    EXPECT_EQ(own.largest_bytes, (chunks == 13 ? 20ull : 8ull) << 20);
    ConvertOptions o;
    o.context = 1024;
    o.batch = 64;
    std::printf("QwQ-32B, %lld chunks: %s\n", static_cast<long long>(chunks),
                DescribeKvCache(s, o, plan).c_str());
  }
}

TEST(KvMemoryTest, SlidingWindowRingBoundsTheStateByTheWindow) {
  model::ModelSpec s = QwQ32BAttention();
  s.num_layers = 32;
  s.sliding_window = 4096;  // Mistral 7B v0.1
  const std::vector<LayerRange> plan = SplitLayers(32, 4);
  KvMemory at8k = EstimateKvMemory(s, 8192, 64, ane::KvCacheSharing::kShared, plan);
  KvMemory at32k = EstimateKvMemory(s, 32768, 64, ane::KvCacheSharing::kShared, plan);
  EXPECT_TRUE(at8k.ring);
  EXPECT_EQ(at8k.rows, 4160);
  EXPECT_EQ(at8k.total_bytes, at32k.total_bytes);  // bounded by the window, not the context
  ConvertOptions o;
  o.context = 8192;
  o.batch = 64;
  const std::string line = DescribeKvCache(s, o, plan);
  EXPECT_NE(line.find("a ring of 4160 rows for sliding window 4096 (not 8192)"), std::string::npos)
      << line;
}

TEST(KvMemoryTest, BinaryUnits) {
  EXPECT_EQ(HumanBinaryBytes(256ull << 20), "256.0 MiB");
  EXPECT_EQ(HumanBinaryBytes(3 << 9), "1.5 KiB");
  EXPECT_EQ(HumanBinaryBytes(12), "12 B");
  EXPECT_EQ(HumanBinaryBytes(3ull << 30), "3.00 GiB");
}

}  // namespace
}  // namespace anec::pipeline
