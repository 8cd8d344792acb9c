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

TEST(PlanLmHeadTest, EqualPiecesWithAnemllCounts) {
  auto plan = [](int64_t v, int64_t k) {
    LmHeadLayout l = PlanLmHead(v, k);
    return std::vector<int64_t>{l.pieces, l.piece_rows, l.pad_rows()};
  };
  // ANEMLL's published splits: Llama 3 (8 x 16,032), Qwen 2.5/3 (16 x 9,496).
  EXPECT_EQ(plan(128256, 8), (std::vector<int64_t>{8, 16032, 0}));
  EXPECT_EQ(plan(151936, 16), (std::vector<int64_t>{16, 9496, 0}));
  // SmolLM2 (49,152) splits evenly in 8; Gemma's 262,144 needs 16 pieces of 16,384.
  EXPECT_EQ(plan(49152, 8), (std::vector<int64_t>{8, 6144, 0}));
  EXPECT_EQ(plan(262144, 8), (std::vector<int64_t>{16, 16384, 0}));
  // The other ANEMLL count when the preferred one does not divide.
  EXPECT_EQ(plan(200000, 8), (std::vector<int64_t>{16, 12500, 0}));  // 8 x 25,000 is too big
  EXPECT_EQ(plan(200, 16), (std::vector<int64_t>{8, 25, 0}));
  // No count divides: the preferred count, the last piece padded.
  EXPECT_EQ(plan(32001, 8), (std::vector<int64_t>{8, 4001, 7}));
  EXPECT_EQ(plan(250, 16), (std::vector<int64_t>{16, 16, 6}));
  // Doubling until a piece fits the Neural Engine's 16,384 rows.
  EXPECT_EQ(plan(256001, 8), (std::vector<int64_t>{16, 16001, 15}));
  for (int64_t v : {1, 100, 250, 32000, 32001, 49153, 65536, 151936, 152064, 262144, 300007}) {
    for (int64_t k : {8, 16}) {
      LmHeadLayout l = PlanLmHead(v, k);
      EXPECT_LE(l.piece_rows, kMaxLmHeadPieceRows) << v;
      EXPECT_GE(l.pad_rows(), 0) << v;
      EXPECT_LT(l.pad_rows(), l.piece_rows) << v;   // at most the last piece is padded...
      EXPECT_GT(l.RealRows(l.pieces - 1), 0) << v;  // ...and it keeps a real row
      int64_t real = 0;
      for (int64_t i = 0; i < l.pieces; ++i) real += l.RealRows(i);
      EXPECT_EQ(real, v) << v;
    }
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

// The head's palettized blobs with calibrated importance (--calibration): columns for every
// piece, and optionally the next-token probability of each vocabulary row.
std::string CalibratedHeadBlobs(const model::ModelSpec& spec, const WeightSource& w,
                                std::vector<float> rows) {
  MemoryFileSystem fs;
  auto file = fs.OpenForWrite("/lm.bin");
  coreml::BlobWriter blobs(std::move(file).value());
  mil::ProgramBuilder pb(&blobs);
  quant::ChannelImportance imp;
  for (int i = 1; i <= 8; ++i) {
    std::vector<float> cols(static_cast<size_t>(spec.hidden_size));
    for (size_t c = 0; c < cols.size(); ++c) cols[c] = 1.0f + static_cast<float>(c % 5);
    imp.columns["lm_head_" + std::to_string(i)] = cols;
  }
  imp.lm_head_rows = std::move(rows);
  WeightEmitter emitter(&pb, &w, {.lut_bits = 2, .lut_group = 8});
  emitter.UseImportance(&imp);
  auto sig = AddLmHeadFunction(&pb, &emitter, spec);
  EXPECT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(emitter.weighted_matrices(), 8);
  EXPECT_TRUE(blobs.Finish().ok());
  return fs.ReadFile("/lm.bin").value();
}

TEST(LmHeadFunctionTest, CalibratedRowProbabilitiesReweightTheHeadTables) {
  model::ModelSpec spec = TinySpec(1, 4000, /*tied=*/true);
  MemoryWeightSource w = RandomWeights(spec, 3);
  const std::vector<float> uniform(4000, 1.0f / 4000);
  std::vector<float> skewed(4000, 0.0f);
  for (int r = 0; r < 4000; r += 3) skewed[static_cast<size_t>(r)] = 3.0f / 4000;
  const std::string columns_only = CalibratedHeadBlobs(spec, w, {});
  const std::string flat = CalibratedHeadBlobs(spec, w, uniform);
  const std::string favoured = CalibratedHeadBlobs(spec, w, skewed);
  // Probabilities that favour every third token move the tables toward those rows; equal ones
  // scale every weight alike (only float rounding of the sums can move a tie).
  EXPECT_TRUE(favoured != flat);
  EXPECT_TRUE(favoured != columns_only);
  EXPECT_TRUE(CalibratedHeadBlobs(spec, w, skewed) == favoured);  // deterministic
}

TEST(LmHeadFunctionTest, TiedHeadSplitsTheEmbeddingIntoEqualPieces) {
  model::ModelSpec spec = TinySpec(1, 40000, /*tied=*/true);
  MemoryWeightSource w = RandomWeights(spec, 3);
  MemoryFileSystem fs;
  Built b = Build(&fs, w, [&](mil::ProgramBuilder* pb, WeightEmitter* e) {
    return AddLmHeadFunction(pb, e, spec);
  });
  const CS::ModelDescription& d = b.model.description();
  ASSERT_EQ(d.output_size(), 8);  // 40,000 = 8 x 5,000
  EXPECT_EQ(d.output(0).name(), "logits1");
  EXPECT_EQ(d.output(7).name(), "logits8");
  for (int i = 0; i < 8; ++i) EXPECT_EQ(d.output(i).type().multiarraytype().shape(2), 5000);
  // The last piece holds the embedding's last rows (tied weights): check its final element.
  const MS::Function& fn = b.model.mlprogram().functions().at("main");
  const MS::Operation* w8 = Producer(fn, "lm_head_8");
  ASSERT_NE(w8, nullptr);
  EXPECT_EQ(Dims(w8->outputs(0).type()), (std::vector<int64_t>{5000, 64, 1, 1}));
  const uint64_t off = w8->attributes().at("val").blobfilevalue().offset();
  const std::vector<float>& emb = *w.Values(model::TensorRole::kEmbedding, 0);
  uint16_t last;
  std::memcpy(&last, b.blobs.data() + off + 64 + (5000 * 64 - 1) * 2, 2);
  EXPECT_EQ(last, FloatToHalf(emb.back()));
  uint16_t first;
  std::memcpy(&first, b.blobs.data() + off + 64, 2);
  EXPECT_EQ(first, FloatToHalf(emb[35000 * 64]));
}

TEST(LmHeadFunctionTest, PadsTheLastPieceWithRowsThatNeverWin) {
  model::ModelSpec spec = TinySpec(1, 100, /*tied=*/true);  // 100 = 8 x 13 - 4
  MemoryWeightSource w = RandomWeights(spec, 3);
  MemoryFileSystem fs;
  Built b = Build(&fs, w, [&](mil::ProgramBuilder* pb, WeightEmitter* e) {
    return AddLmHeadFunction(pb, e, spec);
  });
  const CS::ModelDescription& d = b.model.description();
  ASSERT_EQ(d.output_size(), 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(d.output(i).type().multiarraytype().shape(2), 13);
  const MS::Function& fn = b.model.mlprogram().functions().at("main");
  const MS::Operation* w8 = Producer(fn, "lm_head_8");
  ASSERT_NE(w8, nullptr);
  EXPECT_EQ(Dims(w8->outputs(0).type()), (std::vector<int64_t>{9, 64, 1, 1}));  // real rows only
  const MS::Operation* pad = Producer(fn, "logits8_pad_rows");
  ASSERT_NE(pad, nullptr);
  EXPECT_EQ(Dims(pad->outputs(0).type()), (std::vector<int64_t>{1, 4, 1, 1}));
  EXPECT_EQ(Producer(fn, "logits8_padded")->type(), "concat");
  EXPECT_EQ(Producer(fn, "logits7_padded"), nullptr);
}

TEST(LmHeadFunctionTest, ArgmaxOutputsIndexAndValuePerPiece) {
  model::ModelSpec spec = TinySpec(1, 100, /*tied=*/true);
  MemoryWeightSource w = RandomWeights(spec, 3);
  MemoryFileSystem fs;
  Built b = Build(&fs, w, [&](mil::ProgramBuilder* pb, WeightEmitter* e) {
    return AddLmHeadFunction(pb, e, spec, /*argmax=*/true);
  });
  const CS::ModelDescription& d = b.model.description();
  ASSERT_EQ(d.output_size(), 2);
  EXPECT_EQ(d.output(0).name(), "argmax_idx");
  EXPECT_EQ(d.output(0).type().multiarraytype().datatype(), CS::ArrayFeatureType::INT32);
  EXPECT_EQ(d.output(1).name(), "argmax_val");
  EXPECT_EQ(d.output(1).type().multiarraytype().datatype(), CS::ArrayFeatureType::FLOAT16);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(d.output(i).type().multiarraytype().shape_size(), 1);
    EXPECT_EQ(d.output(i).type().multiarraytype().shape(0), 8);
  }
  const MS::Function& fn = b.model.mlprogram().functions().at("main");
  EXPECT_EQ(OpsOfType(fn, "reduce_argmax").size(), 8u);
  EXPECT_EQ(OpsOfType(fn, "reduce_max").size(), 8u);
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
