#include "ane/kv_cache_layout.h"

#include <gtest/gtest.h>

namespace anec::ane {
namespace {

model::ModelSpec Spec(std::optional<int64_t> window) {
  model::ModelSpec s;
  s.num_layers = 6;
  s.num_kv_heads = 2;
  s.head_dim = 16;
  s.sliding_window = window;
  return s;
}

TEST(KvCacheLayoutTest, RingHoldsTheWindowPlusOneBatchRoundedToBatches) {
  EXPECT_EQ(RingRows(12, 8), 24);    // 12 + 7 = 19 -> 24
  EXPECT_EQ(RingRows(16, 8), 24);    // 23 -> 24
  EXPECT_EQ(RingRows(17, 8), 24);    // 24
  EXPECT_EQ(RingRows(18, 8), 32);    // 25 -> 32
  EXPECT_EQ(RingRows(4096, 64), 4160);
  EXPECT_EQ(RingRows(5, 1), 5);      // decode only: exactly the window
}

TEST(KvCacheLayoutTest, RowsAreTheContextUnlessTheRingIsShorter) {
  EXPECT_EQ(KvCacheRows(Spec(std::nullopt), 64, 8), 64);
  EXPECT_EQ(KvCacheRows(Spec(12), 64, 8), 24);
  EXPECT_EQ(KvCacheRows(Spec(64), 64, 8), 64);  // window = context: ordinary causal
  EXPECT_EQ(KvCacheRows(Spec(60), 64, 8), 64);  // ring 72 would not be smaller
  // Mistral 7B v0.1 shapes: window 4096, context 8192, batch 64.
  EXPECT_EQ(KvCacheRows(Spec(4096), 8192, 64), 4160);
}

TEST(KvCacheLayoutTest, SharedHoldsEveryLayerPerChunkOnlyItsOwn) {
  model::ModelSpec s = Spec(std::nullopt);
  KvCacheLayout shared = MakeKvCacheLayout(s, 64, 8, KvCacheSharing::kShared, 1, 3, 6);
  EXPECT_EQ(shared.state_name, "model_model_kv_cache_0");
  EXPECT_EQ(shared.first_layer, 0);
  EXPECT_EQ(shared.layers, 6);
  EXPECT_FALSE(shared.ring);
  EXPECT_EQ(KvCacheBytes(s, shared), 2u * 6 * 2 * 64 * 16 * 2);
  KvCacheLayout own = MakeKvCacheLayout(s, 64, 8, KvCacheSharing::kPerChunk, 1, 3, 6);
  EXPECT_EQ(own.state_name, "model_model_kv_cache_1");
  EXPECT_EQ(own.first_layer, 3);
  EXPECT_EQ(own.layers, 3);
  EXPECT_EQ(KvCacheBytes(s, own), KvCacheBytes(s, shared) / 2);
  KvCacheLayout ring = MakeKvCacheLayout(Spec(12), 64, 8, KvCacheSharing::kShared, 0, 0, 6);
  EXPECT_TRUE(ring.ring);
  EXPECT_EQ(ring.rows, 24);
}

TEST(KvCacheLayoutTest, QwqThirtyTwoBAtContext1024) {
  // QwQ-32B: 64 layers, 8 kv heads, head_dim 128. One shared state is 256 MiB.
  model::ModelSpec s;
  s.num_layers = 64;
  s.num_kv_heads = 8;
  s.head_dim = 128;
  KvCacheLayout shared = MakeKvCacheLayout(s, 1024, 64, KvCacheSharing::kShared, 0, 0, 5);
  EXPECT_EQ(KvCacheBytes(s, shared), 256ull << 20);
  KvCacheLayout five = MakeKvCacheLayout(s, 1024, 64, KvCacheSharing::kPerChunk, 0, 0, 5);
  EXPECT_EQ(KvCacheBytes(s, five), 20ull << 20);
}

}  // namespace
}  // namespace anec::ane
