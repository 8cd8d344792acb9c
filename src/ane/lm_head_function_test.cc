#include "ane/lm_head_function.h"

#include <gtest/gtest.h>

#include <numeric>

#include "ane/ane_test_util.h"
#include "ane/embeddings_function.h"
#include "ane/half.h"
#include "base/file_system.h"

namespace anec::ane {
namespace {

namespace CS = CoreML::Specification;
namespace MS = CoreML::Specification::MILSpec;

TEST(LmHeadPiecesTest, SplitsWithRemainderKept) {
  EXPECT_EQ(LmHeadPieces(128256), std::vector<int64_t>(8, 16032));
  std::vector<int64_t> qwen = LmHeadPieces(151936);
  EXPECT_EQ(qwen.size(), 10u);
  EXPECT_EQ(std::accumulate(qwen.begin(), qwen.end(), int64_t{0}), 151936);
  EXPECT_EQ(qwen.back(), 151936 - 9 * 15194);
  EXPECT_EQ(LmHeadPieces(40000), (std::vector<int64_t>{13334, 13334, 13332}));
  EXPECT_EQ(LmHeadPieces(16384), (std::vector<int64_t>{16384}));
  EXPECT_EQ(LmHeadPieces(16385), (std::vector<int64_t>{8193, 8192}));
  for (int64_t v : {1, 100, 32000, 32001, 49153, 65536, 262144}) {
    std::vector<int64_t> p = LmHeadPieces(v);
    EXPECT_EQ(std::accumulate(p.begin(), p.end(), int64_t{0}), v) << v;
    for (int64_t r : p) EXPECT_LE(r, kMaxLmHeadPieceRows);
  }
}

struct Built {
  CS::Model model;
  std::string blobs;
};

template <typename AddFn>
Built Build(MemoryFileSystem* fs, const WeightSource& w, AddFn add) {
  auto file = fs->OpenForWrite("/lm.bin");
  coreml::BlobWriter blobs(std::move(file).value());
  mil::ProgramBuilder pb(&blobs);
  WeightEmitter emitter(&pb, &w, {});
  auto sig = add(&pb, &emitter);
  EXPECT_TRUE(sig.ok()) << sig.status().ToString();
  Built b;
  if (!sig.ok()) return b;
  auto model = AssembleModel(pb, {*sig}, "main", {});
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE(blobs.Finish().ok());
  if (model.ok()) b.model = *model;
  b.blobs = fs->ReadFile("/lm.bin").value();
  return b;
}

TEST(LmHeadFunctionTest, TiedHeadSplitsTheEmbeddingWithRemainder) {
  model::ModelSpec spec = TinySpec(1, 40000, /*tied=*/true);
  MemoryWeightSource w = RandomWeights(spec, 3);
  MemoryFileSystem fs;
  Built b = Build(&fs, w, [&](mil::ProgramBuilder* pb, WeightEmitter* e) {
    return AddLmHeadFunction(pb, e, spec);
  });
  const CS::ModelDescription& d = b.model.description();
  ASSERT_EQ(d.output_size(), 3);
  EXPECT_EQ(d.output(0).name(), "logits1");
  EXPECT_EQ(d.output(2).name(), "logits3");
  EXPECT_EQ(d.output(2).type().multiarraytype().shape(2), 13332);
  // The last piece holds the embedding's last rows (tied weights): check its final element.
  const MS::Function& fn = b.model.mlprogram().functions().at("main");
  const MS::Operation* w3 = Producer(fn, "lm_head_3");
  ASSERT_NE(w3, nullptr);
  EXPECT_EQ(Dims(w3->outputs(0).type()), (std::vector<int64_t>{13332, 64, 1, 1}));
  const uint64_t off = w3->attributes().at("val").blobfilevalue().offset();
  const std::vector<float>& emb = *w.Values(model::TensorRole::kEmbedding, 0);
  uint16_t last;
  std::memcpy(&last, b.blobs.data() + off + 64 + (13332 * 64 - 1) * 2, 2);
  EXPECT_EQ(last, FloatToHalf(emb.back()));
  uint16_t first;
  std::memcpy(&first, b.blobs.data() + off + 64, 2);
  EXPECT_EQ(first, FloatToHalf(emb[26668 * 64]));
}

TEST(LmHeadFunctionTest, UntiedHeadReadsLmHeadTensor) {
  model::ModelSpec spec = TinySpec(1, 100, /*tied=*/false);
  MemoryWeightSource w = RandomWeights(spec, 3);
  MemoryFileSystem fs;
  Built b = Build(&fs, w, [&](mil::ProgramBuilder* pb, WeightEmitter* e) {
    return AddLmHeadFunction(pb, e, spec);
  });
  const MS::Function& fn = b.model.mlprogram().functions().at("main");
  const MS::Operation* w1 = Producer(fn, "lm_head_1");
  ASSERT_NE(w1, nullptr);
  const uint64_t off = w1->attributes().at("val").blobfilevalue().offset();
  uint16_t h;
  std::memcpy(&h, b.blobs.data() + off + 64 + 5 * 2, 2);
  EXPECT_EQ(h, FloatToHalf((*w.Values(model::TensorRole::kLmHead, 0))[5]));
  EXPECT_NE(h, FloatToHalf((*w.Values(model::TensorRole::kEmbedding, 0))[5]));
}

TEST(EmbeddingsFunctionTest, FlexibleInputIdsWithEnumeratedShapes) {
  model::ModelSpec spec = TinySpec(1, 100);
  MemoryWeightSource w = RandomWeights(spec, 3);
  MemoryFileSystem fs;
  Built b = Build(&fs, w, [&](mil::ProgramBuilder* pb, WeightEmitter* e) {
    return AddEmbeddingsFunction(pb, e, spec, 64);
  });
  const CS::ModelDescription& d = b.model.description();
  ASSERT_EQ(d.input_size(), 1);
  EXPECT_EQ(d.input(0).name(), "input_ids");
  const auto& arr = d.input(0).type().multiarraytype();
  EXPECT_EQ(arr.datatype(), CS::ArrayFeatureType::INT32);
  ASSERT_EQ(arr.enumeratedshapes().shapes_size(), 2);
  EXPECT_EQ(arr.enumeratedshapes().shapes(1).shape(1), 64);
  EXPECT_EQ(d.output(0).name(), "hidden_states");
  const MS::Function& fn = b.model.mlprogram().functions().at("main");
  EXPECT_EQ(Dims(fn.inputs(0).type()), (std::vector<int64_t>{1, -1}));
  const MS::Operation* g = Producer(fn, "hidden_states");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->type(), "gather");
  EXPECT_EQ(Dims(g->outputs(0).type()), (std::vector<int64_t>{1, -1, 64}));
}

}  // namespace
}  // namespace anec::ane
