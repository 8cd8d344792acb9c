#include "model/gguf_model.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace anec::model {
namespace {

std::string FixturePath(const std::string& name) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/gguf/" + name;
}

TEST(GgufModelTest, TinyLlamaBindsEveryRole) {
  auto m = LoadGgufModel(RealFileSystem(), FixturePath("tiny_llama.gguf"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->spec.architecture, Architecture::kLlama);
  EXPECT_EQ(m->spec.num_layers, 2);
  EXPECT_EQ(m->spec.hidden_size, 32);
  EXPECT_EQ(m->spec.num_kv_heads, 2);
  EXPECT_EQ(m->spec.head_dim, 8);
  EXPECT_TRUE(m->spec.tie_word_embeddings);
  EXPECT_EQ(m->spec.name, "tiny_llama");
  auto q = m->checkpoint.ReadFloat32(TensorRole::kQProj, 1);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->size(), 32u * 32u);
  // Tied: the LM head is the embedding.
  auto head = m->checkpoint.ReadFloat32(TensorRole::kLmHead, 0);
  auto emb = m->checkpoint.ReadFloat32(TensorRole::kEmbedding, 0);
  ASSERT_TRUE(head.ok() && emb.ok());
  EXPECT_EQ(*head, *emb);
}

TEST(GgufModelTest, PathDetection) {
  EXPECT_TRUE(IsGgufPath("/a/b/model.Q4_1.gguf"));
  EXPECT_FALSE(IsGgufPath("/a/b/model"));
  EXPECT_FALSE(IsGgufPath(".gguf"));
}

TEST(GgufModelTest, NotAGgufFileIsAClearError) {
  auto m = LoadGgufModel(RealFileSystem(), FixturePath("../parity/llama_untied/config.json"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("not a GGUF file"), std::string::npos);
}

}  // namespace
}  // namespace anec::model
