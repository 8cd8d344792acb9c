#include "runtime/llm_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coreml/package.h"
#include "runtime/toy_llm_test_util.h"

namespace anec::runtime {
namespace {

using namespace testing;  // NOLINT
using ::testing::HasSubstr;

class LlmModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emb_ = Embeddings();
    head_ = LmHead();
    c0_ = Chunk(0);
    c1_ = Chunk(1);
  }
  static ModelFolderConfig Config() {
    ModelFolderConfig cfg;
    cfg.context_length = kContext;
    cfg.batch_size = kBatch;
    cfg.num_chunks = 2;
    return cfg;
  }
  // The four toy packages loaded (null where one failed to, which the test reports).
  struct Programs {
    std::shared_ptr<const Program> embeddings, head, chunk0, chunk1;
  };
  Programs Load() {
    auto e = LoadModel(emb_, nullptr, "toy_embeddings.mlpackage");
    auto h = LoadModel(head_, nullptr, "toy_lm_head.mlpackage");
    auto a = LoadModel(c0_, nullptr, "toy_FFN_PF_chunk_01of02.mlpackage");
    auto b = LoadModel(c1_, nullptr, "toy_FFN_PF_chunk_02of02.mlpackage");
    EXPECT_TRUE(e.ok() && h.ok() && a.ok() && b.ok())
        << e.status().ToString() << h.status().ToString() << a.status().ToString()
        << b.status().ToString();
    if (!(e.ok() && h.ok() && a.ok() && b.ok())) return {};
    return {*e, *h, *a, *b};
  }
  std::unique_ptr<LlmModel> Make() {
    Programs p = Load();
    if (p.embeddings == nullptr) return nullptr;
    auto m = LlmModel::FromPrograms(Config(), p.embeddings, {p.chunk0, p.chunk1}, p.head, &pool_);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(*m) : nullptr;
  }
  ThreadPool pool_{2};
  ModelBuilder emb_, head_, c0_, c1_;
};

TEST_F(LlmModelTest, ForwardPrefillsInBatchesAndMatchesReference) {
  auto m = Make();
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->has_prefill());
  EXPECT_EQ(m->batch_size(), kBatch);
  std::vector<int32_t> t = {1, 4, 2, 5, 3, 0, 1, 2, 5, 4};  // 9 prefilled: 3 batches, last padded
  auto logits = m->Forward(t);
  ASSERT_TRUE(logits.ok()) << logits.status().ToString();
  EXPECT_EQ(m->last_prefill_tokens(), 9);
  EXPECT_EQ(*logits, Expected(t));
  EXPECT_EQ(m->vocab_size(), 5);
  // Decode two more tokens.
  t.push_back(3);
  auto s1 = m->Step(3);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  EXPECT_EQ(*s1, Expected(t));
  // A longer prompt sharing the cached prefix only runs the new part.
  std::vector<int32_t> longer = t;
  longer.push_back(2);
  longer.push_back(1);
  auto l = m->Forward(longer);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(m->last_prefill_tokens(), 1);
  EXPECT_EQ(*l, Expected(longer));
  // A different prompt diverging early re-prefills from the divergence.
  std::vector<int32_t> other = {1, 4, 0, 0, 2};
  auto o = m->Forward(other);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o, Expected(other));
}

// Embeddings with a fixed input length (one token, or a whole batch) give the same results.
TEST_F(LlmModelTest, FixedLengthEmbeddings) {
  for (int64_t seq : {int64_t{1}, kBatch}) {
    emb_ = Embeddings(seq);
    auto m = Make();
    ASSERT_NE(m, nullptr);
    std::vector<int32_t> t = {3, 1, 4, 1, 0, 2, 2};
    auto logits = m->Forward(t);
    ASSERT_TRUE(logits.ok()) << seq << ": " << logits.status().ToString();
    EXPECT_EQ(*logits, Expected(t)) << seq;
  }
}

TEST_F(LlmModelTest, LogitsPerPositionAndContextLimits) {
  auto m = Make();
  ASSERT_NE(m, nullptr);
  std::vector<int32_t> t = {2, 3, 1};
  auto all = m->LogitsPerPosition(t);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*all)[i],
              Expected(std::vector<int32_t>(t.begin(), t.begin() + static_cast<long>(i) + 1)));
  }
  // Near the end of the context prefill cannot write a whole batch: infer takes over.
  std::vector<int32_t> full(kContext, 1);
  auto f = m->Forward(full);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(*f, Expected(full));
  auto over = m->Step(1);
  ASSERT_FALSE(over.ok());
  EXPECT_THAT(over.status().message(), HasSubstr("full"));
  std::vector<int32_t> too_long(kContext + 1, 1);
  EXPECT_FALSE(m->Forward(too_long).ok());
}

TEST(ModelFolder, MetaYamlAndFileLookup) {
  const char* yaml = R"(model_info:
  name: anemll-toy-ctx16
  architecture: llama
  parameters:
    context_length: 16
    batch_size: 4
    lut_embeddings: none
    lut_ffn: 4
    lut_lmhead: 6
    num_chunks: 2
    model_prefix: toy
    split_lm_head: 2
)";
  auto cfg = ParseMetaYaml(yaml, "/m/meta.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->context_length, 16);
  EXPECT_FALSE(cfg->lut_embeddings.has_value());
  EXPECT_EQ(cfg->lut_ffn, 4);
  EXPECT_EQ(cfg->model_prefix, "toy");
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs("/m/toy_embeddings.mlpackage").ok());
  ASSERT_TRUE(fs.MakeDirs("/m/toy_lm_head_lut6.mlpackage").ok());
  ASSERT_TRUE(fs.MakeDirs("/m/toy_FFN_PF_lut4_chunk_01of02.mlpackage").ok());
  fs.SetFile("/m/toy_FFN_PF_lut4_chunk_02of02.mlmodelc/model.mil", "x");
  auto files = LocateModelFiles(&fs, "/m", *cfg);
  ASSERT_FALSE(files.ok());
  EXPECT_THAT(files.status().message(), HasSubstr("toy_FFN_PF_lut4_chunk_02of02.mlmodelc"));
  EXPECT_THAT(files.status().message(), HasSubstr("Apple"));
  ASSERT_TRUE(fs.MakeDirs("/m/toy_FFN_PF_lut4_chunk_02of02.mlpackage").ok());
  files = LocateModelFiles(&fs, "/m", *cfg);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->chunks[1], "/m/toy_FFN_PF_lut4_chunk_02of02.mlpackage");
  EXPECT_EQ(files->lm_head, "/m/toy_lm_head_lut6.mlpackage");

  EXPECT_FALSE(ParseMetaYaml("model_info: [", "/m/meta.yaml").ok());
  auto bad = ParseMetaYaml("model_info:\n  parameters:\n    context_length: big\n", "/m/meta.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("context_length"));
}

// Found by fuzzing (tests/fuzz/regressions/model_folder/meta_yaml_scalar): yaml-cpp throws when
// a scalar is subscripted, and the exception ended `anec run`.
TEST(ModelFolder, MetaYamlThatIsNotAMapIsAnError) {
  for (const char* text : {"hello\n", "- a\n- b\n", "42", ""}) {
    auto cfg = ParseMetaYaml(text, "/m/meta.yaml");
    ASSERT_FALSE(cfg.ok()) << text;
    EXPECT_THAT(cfg.status().message(), HasSubstr("/m/meta.yaml")) << text;
  }
  EXPECT_THAT(ParseMetaYaml("hello\n", "/m/meta.yaml").status().message(),
              HasSubstr("expected a YAML map with 'model_info'"));
}

// tests/fuzz/regressions/model_folder/huge_state: a chunk declaring its KV-cache state as
// [2^20, 1, 2^20, 2] fp16 (4 TiB) made opening the folder try to allocate it.
TEST_F(LlmModelTest, StatesBeyondTheMemoryBudgetAreAnError) {
  CoreML::Specification::Model huge = c0_.model();
  for (auto& [name, fn] : *huge.mutable_mlprogram()->mutable_functions()) {
    for (auto& in : *fn.mutable_inputs()) {
      if (!in.type().has_statetype()) continue;
      auto* dims = in.mutable_type()
                       ->mutable_statetype()
                       ->mutable_wrappedtype()
                       ->mutable_tensortype()
                       ->mutable_dimensions();
      dims->Mutable(0)->mutable_constant()->set_size(uint64_t{1} << 20);
      dims->Mutable(2)->mutable_constant()->set_size(uint64_t{1} << 20);
    }
  }
  Programs p = Load();
  ASSERT_NE(p.embeddings, nullptr);
  auto big = Program::Load(huge, ValueSource{}, "toy_FFN_PF_chunk_01of02.mlpackage");
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  auto m = LlmModel::FromPrograms(Config(), p.embeddings, {*big, p.chunk1}, p.head, &pool_);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(),
              HasSubstr("toy_FFN_PF_chunk_01of02.mlpackage: function 'infer' declares state "
                        "'model.model.kv_cache_0' as state<fp16[1048576, 1, 1048576, 2]>"));
  // The toy's one shared state is [2, 1, 16, 2] fp16: 128 bytes.
  EXPECT_FALSE(
      LlmModel::FromPrograms(Config(), p.embeddings, {p.chunk0, p.chunk1}, p.head, &pool_, 127)
          .ok());
  EXPECT_TRUE(
      LlmModel::FromPrograms(Config(), p.embeddings, {p.chunk0, p.chunk1}, p.head, &pool_, 128)
          .ok());
}

// The whole path through real package folders: PackageWriter -> LlmModel::Open.
TEST_F(LlmModelTest, OpenReadsAConvertedFolder) {
  MemoryFileSystem fs;
  auto write = [&](const ModelBuilder& b, const std::string& path) {
    auto w = coreml::PackageWriter::Create(&fs, path);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Finish(b.model()).ok());
  };
  write(emb_, "/m/toy_embeddings.mlpackage");
  write(head_, "/m/toy_lm_head.mlpackage");
  write(c0_, "/m/toy_FFN_PF_chunk_01of02.mlpackage");
  write(c1_, "/m/toy_FFN_PF_chunk_02of02.mlpackage");
  ASSERT_TRUE(
      fs.WriteFileAtomic("/m/meta.yaml",
                         "model_info:\n  parameters:\n    context_length: 16\n    batch_size: 4\n"
                         "    num_chunks: 2\n    model_prefix: toy\n")
          .ok());
  auto m = LlmModel::Open(&fs, "/m", &pool_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::vector<int32_t> t = {5, 4, 3, 2, 1, 0};
  auto logits = (*m)->Forward(t);
  ASSERT_TRUE(logits.ok()) << logits.status().ToString();
  EXPECT_EQ(*logits, Expected(t));
}

}  // namespace
}  // namespace anec::runtime
