#include "ane/chunk_function.h"

#include <gtest/gtest.h>

#include "ane/ane_test_util.h"
#include "ane/half.h"
#include "ane/rope_tables.h"
#include "ane/weight_source.h"
#include "base/file_system.h"
#include "coreml/blob_file.h"
#include "quant/channel_importance.h"

namespace anec::ane {
namespace {

namespace CS = CoreML::Specification;
namespace MS = CoreML::Specification::MILSpec;

struct Built {
  CS::Model model;
  std::vector<uint8_t> blob_bytes;
};

// Builds infer (S=1) and prefill (S=8) for `chunk` into one program, as a multi-function model.
Built BuildChunk(const model::ModelSpec& spec, const ChunkShape& chunk, MemoryFileSystem* fs) {
  MemoryWeightSource weights = RandomWeights(spec, 7);
  auto file = fs->OpenForWrite("/w.bin");
  EXPECT_TRUE(file.ok());
  coreml::BlobWriter blobs(std::move(file).value());
  mil::ProgramBuilder pb(&blobs);
  WeightEmitter w(&pb, &weights, {});
  auto infer = AddChunkFunction(&pb, &w, spec, chunk, 1, "infer");
  EXPECT_TRUE(infer.ok()) << infer.status().ToString();
  auto prefill = AddChunkFunction(&pb, &w, spec, chunk, 8, "prefill");
  EXPECT_TRUE(prefill.ok()) << prefill.status().ToString();
  Built b;
  if (!infer.ok() || !prefill.ok()) return b;
  auto model = AssembleModel(pb, {*infer, *prefill}, "infer", {});
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE(blobs.Finish().ok());
  if (model.ok()) b.model = *model;
  auto bytes = fs->ReadFile("/w.bin");
  if (bytes.ok()) b.blob_bytes.assign(bytes->begin(), bytes->end());
  return b;
}

// A chunk that starts in the middle of layer 0's MLP (a file budget split it) palettizes slices
// named layers_0_{gate,up,down}_proj_40_96. Calibration measures whole matrices, so the slices
// take the whole matrices' column statistics: gate / up all of them, down columns [40, 96).
// Giving the slices those statistics under their own names must give the same bytes.
TEST(ChunkFunctionTest, MlpSlicesTakeTheirWholeMatricesCalibration) {
  model::ModelSpec spec = TinySpec(1);  // hidden 64, intermediate 96
  MemoryWeightSource weights = RandomWeights(spec, 7);
  auto columns = [](int64_t n, float base) {
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = base + static_cast<float>((i * 7) % 11);
    return v;
  };
  quant::ChannelImportance whole;
  whole.columns["layers_0_gate_proj"] = columns(64, 1.0f);
  whole.columns["layers_0_up_proj"] = columns(64, 2.0f);
  whole.columns["layers_0_down_proj"] = columns(96, 0.5f);
  quant::ChannelImportance named;
  named.columns["layers_0_gate_proj_40_96"] = whole.columns["layers_0_gate_proj"];
  named.columns["layers_0_up_proj_40_96"] = whole.columns["layers_0_up_proj"];
  const std::vector<float>& down = whole.columns["layers_0_down_proj"];
  named.columns["layers_0_down_proj_40_96"] = std::vector<float>(down.begin() + 40, down.end());
  ChunkShape tail{0, 1, 16, true, {}};
  tail.begin_mlp = 40;
  auto build = [&](const quant::ChannelImportance* imp, int* weighted, int* unweighted) {
    MemoryFileSystem fs;
    auto file = fs.OpenForWrite("/w.bin");
    EXPECT_TRUE(file.ok());
    coreml::BlobWriter blobs(std::move(file).value());
    mil::ProgramBuilder pb(&blobs);
    WeightEmitter w(&pb, &weights, {.lut_bits = 4, .lut_group = 8});
    w.UseImportance(imp);
    auto fn = AddChunkFunction(&pb, &w, spec, tail, 1, "infer");
    EXPECT_TRUE(fn.ok()) << fn.status().ToString();
    EXPECT_TRUE(blobs.Finish().ok());
    *weighted = w.weighted_matrices();
    *unweighted = w.unweighted_matrices();
    return fs.ReadFile("/w.bin").value();
  };
  int weighted = 0, unweighted = 0;
  const std::string from_whole = build(&whole, &weighted, &unweighted);
  EXPECT_EQ(weighted, 3);
  EXPECT_EQ(unweighted, 0);
  const std::string from_named = build(&named, &weighted, &unweighted);
  EXPECT_EQ(weighted, 3);
  EXPECT_TRUE(from_whole == from_named) << "the slices' k-means saw other statistics";
  const std::string plain = build(nullptr, &weighted, &unweighted);
  EXPECT_TRUE(plain != from_whole);  // the statistics do move the tables
}

TEST(ChunkFunctionTest, InputsOutputsAndStateFollowTheContract) {
  model::ModelSpec spec = TinySpec(3);
  MemoryFileSystem fs;
  Built b = BuildChunk(spec, {1, 3, 32, true, {}}, &fs);
  const CS::ModelDescription& d = b.model.description();
  ASSERT_EQ(d.functions_size(), 2);
  EXPECT_EQ(d.defaultfunctionname(), "infer");
  EXPECT_EQ(d.input_size(), 0);  // multi-function: per-function descriptions only
  const CS::FunctionDescription& pf = d.functions(1);
  EXPECT_EQ(pf.name(), "prefill");
  ASSERT_EQ(pf.input_size(), 4);
  EXPECT_EQ(pf.input(0).name(), "hidden_states");
  EXPECT_EQ(std::vector<int64_t>(pf.input(0).type().multiarraytype().shape().begin(),
                                 pf.input(0).type().multiarraytype().shape().end()),
            (std::vector<int64_t>{1, 8, 64}));
  EXPECT_EQ(pf.input(1).name(), "position_ids");
  EXPECT_EQ(pf.input(1).type().multiarraytype().datatype(), CS::ArrayFeatureType::INT32);
  EXPECT_EQ(pf.input(2).name(), "causal_mask");
  EXPECT_EQ(pf.input(2).type().multiarraytype().shape(3), 32);
  EXPECT_EQ(pf.input(3).name(), "current_pos");
  ASSERT_EQ(pf.state_size(), 1);
  EXPECT_EQ(pf.state(0).name(), "model_model_kv_cache_0");
  const auto& st = pf.state(0).type().statetype().arraytype();
  // Full-model state [2L, kv_heads, C, head_dim] even though this chunk holds layers 1-2.
  EXPECT_EQ(std::vector<int64_t>(st.shape().begin(), st.shape().end()),
            (std::vector<int64_t>{6, 2, 32, 16}));
  EXPECT_EQ(st.datatype(), CS::ArrayFeatureType::FLOAT16);
  ASSERT_EQ(pf.output_size(), 1);
  EXPECT_EQ(pf.output(0).name(), "output_hidden_states");
}

TEST(ChunkFunctionTest, WritesOnlyItsOwnLayersAndSharesWeights) {
  model::ModelSpec spec = TinySpec(3);
  MemoryFileSystem fs;
  Built b = BuildChunk(spec, {1, 3, 32, false, {}}, &fs);
  const MS::Function& infer = b.model.mlprogram().functions().at("infer");
  const MS::Function& prefill = b.model.mlprogram().functions().at("prefill");
  EXPECT_EQ(OpsOfType(infer, "write_state").size(), 2u);   // one per layer of the chunk
  EXPECT_EQ(OpsOfType(infer, "slice_update").size(), 4u);  // keys + values per layer
  // No final norm outside the last chunk.
  EXPECT_EQ(Producer(infer, "final_norm"), nullptr);
  // Layer 0 lives in another chunk.
  EXPECT_EQ(Producer(infer, "layers_0_q_proj"), nullptr);
  const MS::Operation* q1 = Producer(infer, "layers_1_q_proj");
  const MS::Operation* q1p = Producer(prefill, "layers_1_q_proj");
  ASSERT_NE(q1, nullptr);
  ASSERT_NE(q1p, nullptr);
  EXPECT_EQ(Dims(q1->outputs(0).type()), (std::vector<int64_t>{64, 64, 1, 1}));
  // Both functions point at the same blob.
  EXPECT_EQ(q1->attributes().at("val").blobfilevalue().offset(),
            q1p->attributes().at("val").blobfilevalue().offset());
}

TEST(ChunkFunctionTest, LastChunkHasFinalNormAndRopeTablesMatch) {
  model::ModelSpec spec = TinySpec(2);
  spec.rope_scaling.type = model::RopeScalingType::kLinear;
  spec.rope_scaling.factor = 2.0;
  MemoryFileSystem fs;
  Built b = BuildChunk(spec, {0, 2, 16, true, {}}, &fs);
  const MS::Function& infer = b.model.mlprogram().functions().at("infer");
  EXPECT_NE(Producer(infer, "final_norm"), nullptr);
  const MS::Operation* cos = Producer(infer, "rope_cos");
  ASSERT_NE(cos, nullptr);
  EXPECT_EQ(Dims(cos->outputs(0).type()), (std::vector<int64_t>{16, 16}));
  auto reader = coreml::BlobReader::FromBytes(b.blob_bytes, "w.bin");
  ASSERT_TRUE(reader.ok());
  auto blob = reader->Get(cos->attributes().at("val").blobfilevalue().offset());
  ASSERT_TRUE(blob.ok());
  RopeTables t = ComputeRopeTables(spec, 16);
  for (size_t i : {0u, 17u, 100u, 255u}) {
    uint16_t h;
    std::memcpy(&h, blob->data.data() + 2 * i, 2);
    EXPECT_EQ(h, FloatToHalf(static_cast<float>(t.cos[i]))) << i;
  }
}

// The op forms of ANEMLL's published graphs (docs/ANE_LAYERS.md, "Op forms").
TEST(ChunkFunctionTest, UsesTheOpFormsAnemllRunsOnTheNeuralEngine) {
  model::ModelSpec spec = TinySpec(2);
  MemoryFileSystem fs;
  Built b = BuildChunk(spec, {0, 2, 16, true, {}}, &fs);
  for (const char* fn_name : {"infer", "prefill"}) {
    SCOPED_TRACE(fn_name);
    const MS::Function& fn = b.model.mlprogram().functions().at(fn_name);
    // softmax as reduce_max, sub, exp, reduce_sum, real_div: one of each per layer.
    EXPECT_TRUE(OpsOfType(fn, "softmax").empty());
    EXPECT_EQ(OpsOfType(fn, "exp").size(), 2u);
    EXPECT_EQ(OpsOfType(fn, "reduce_max").size(), 2u);
    EXPECT_EQ(OpsOfType(fn, "reduce_sum").size(), 2u);
    EXPECT_EQ(OpsOfType(fn, "real_div").size(), 2u);
    // The rotary tables (16 rows) are gathered with int16 indices, as add_int16_cast makes them.
    for (const MS::Operation* g : OpsOfType(fn, "gather")) {
      const MS::Operation* idx = Producer(fn, g->inputs().at("indices").arguments(0).name());
      ASSERT_NE(idx, nullptr);
      EXPECT_EQ(idx->type(), "cast");
      EXPECT_EQ(idx->outputs(0).type().tensortype().datatype(), MS::DataType::INT16);
    }
    // Norms run over the last axis of [1, S, 2H].
    for (const MS::Operation* ln : OpsOfType(fn, "layer_norm")) {
      EXPECT_EQ(Dims(ln->outputs(0).type()).back(), 128);
    }
  }
  // The last chunk's prefill only fills the cache: no final norm, no MLP in the last layer, and
  // a single output row (ANEMLL's prefill); its infer keeps both.
  const MS::Function& infer = b.model.mlprogram().functions().at("infer");
  EXPECT_EQ(OpsOfType(infer, "layer_norm").size(), 5u);  // 2 per layer + final
  EXPECT_EQ(OpsOfType(infer, "silu").size(), 2u);
}

TEST(ChunkFunctionTest, LastChunkPrefillSkipsWhatNothingReads) {
  model::ModelSpec spec = TinySpec(2);
  MemoryWeightSource weights = RandomWeights(spec, 7);
  MemoryFileSystem fs;
  auto file = fs.OpenForWrite("/w.bin");
  ASSERT_TRUE(file.ok());
  coreml::BlobWriter blobs(std::move(file).value());
  mil::ProgramBuilder pb(&blobs);
  WeightEmitter w(&pb, &weights, {});
  ChunkShape shape{0, 2, 16, true, {}};
  shape.fill_cache_only = true;
  auto prefill = AddChunkFunction(&pb, &w, spec, shape, 8, "main");
  ASSERT_TRUE(prefill.ok()) << prefill.status().ToString();
  ASSERT_EQ(prefill->outputs.size(), 1u);
  EXPECT_EQ(prefill->outputs[0].type.shape, (std::vector<int64_t>{1, 1, 64}));
  auto model = AssembleModel(pb, {*prefill}, "main", {});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const MS::Function& fn = model->mlprogram().functions().at("main");
  EXPECT_EQ(Producer(fn, "final_norm"), nullptr);
  EXPECT_EQ(OpsOfType(fn, "layer_norm").size(), 3u);  // both input norms, layer 0's post-attn
  EXPECT_EQ(OpsOfType(fn, "silu").size(), 1u);        // layer 0's MLP only
  EXPECT_EQ(OpsOfType(fn, "write_state").size(), 2u);  // but every layer's cache
  // A chunk that is not the last keeps everything even when it only fills the cache.
  ChunkShape middle{0, 2, 16, false, {}};
  middle.fill_cache_only = true;
  auto mid = AddChunkFunction(&pb, &w, spec, middle, 8, "prefill_mid");
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(mid->outputs[0].type.shape, (std::vector<int64_t>{1, 8, 64}));
}

TEST(ChunkFunctionTest, BiasAndQkNormAreData) {
  model::ModelSpec spec = TinySpec(1);
  spec.attention_bias = true;
  spec.qk_norm = true;
  MemoryFileSystem fs;
  Built b = BuildChunk(spec, {0, 1, 16, true, {}}, &fs);
  const MS::Function& infer = b.model.mlprogram().functions().at("infer");
  ASSERT_NE(Producer(infer, "layers_0_q_proj_bias"), nullptr);
  EXPECT_EQ(Dims(Producer(infer, "layers_0_k_proj_bias")->outputs(0).type()),
            (std::vector<int64_t>{32}));
  EXPECT_NE(Producer(infer, "layers_0_q_norm"), nullptr);
  EXPECT_NE(Producer(infer, "layers_0_k_norm"), nullptr);
  // The plain Llama spec has neither.
  Built plain = BuildChunk(TinySpec(1), {0, 1, 16, true, {}}, &fs);
  const MS::Function& pi = plain.model.mlprogram().functions().at("infer");
  EXPECT_EQ(Producer(pi, "layers_0_q_proj_bias"), nullptr);
  EXPECT_EQ(Producer(pi, "layers_0_q_norm"), nullptr);
}

TEST(ChunkFunctionTest, RmsNormEpsilonIsTheCheckpointsEpsilon) {
  model::ModelSpec spec = TinySpec(1);
  spec.rms_norm_eps = 1e-5;
  MemoryFileSystem fs;
  Built b = BuildChunk(spec, {0, 1, 16, true, {}}, &fs);
  const MS::Function& infer = b.model.mlprogram().functions().at("infer");
  auto norms = OpsOfType(infer, "layer_norm");
  ASSERT_EQ(norms.size(), 3u);  // input, post-attention, final
  for (const MS::Operation* op : norms) {
    const auto& eps_arg = op->inputs().at("epsilon").arguments(0);
    const MS::Operation* c = Producer(infer, eps_arg.name());
    ASSERT_NE(c, nullptr);
    const std::string& raw = c->attributes().at("val").immediatevalue().tensor().bytes().values();
    ASSERT_EQ(raw.size(), 2u);
    uint16_t h;
    std::memcpy(&h, raw.data(), 2);
    EXPECT_EQ(h, FloatToHalf(1e-5f));
    // Normalized over the concatenation [x, -x] along the last axis of [1, S, 2H] (ANEMLL's
    // layout: never over a size-1 last axis, which the Neural Engine pads 32x).
    const MS::Operation* cat = Producer(infer, op->inputs().at("x").arguments(0).name());
    ASSERT_NE(cat, nullptr);
    EXPECT_EQ(cat->type(), "concat");
    EXPECT_EQ(Dims(cat->outputs(0).type()), (std::vector<int64_t>{1, 1, 128}));
    const MS::Operation* axes = Producer(infer, op->inputs().at("axes").arguments(0).name());
    ASSERT_NE(axes, nullptr);
    const auto& ints = axes->attributes().at("val").immediatevalue().tensor().ints();
    ASSERT_EQ(ints.values_size(), 1);
    EXPECT_EQ(ints.values(0), 2);
  }
}

std::vector<int64_t> StateDims(const CS::FunctionDescription& fd, const std::string& name) {
  for (const auto& in : fd.state()) {
    if (in.name() != name) continue;
    const auto& shape = in.type().statetype().arraytype().shape();
    return std::vector<int64_t>(shape.begin(), shape.end());
  }
  return {};
}

std::vector<int64_t> InputDims(const CS::FunctionDescription& fd, const std::string& name) {
  for (const auto& in : fd.input()) {
    if (in.name() != name) continue;
    const auto& shape = in.type().multiarraytype().shape();
    return std::vector<int64_t>(shape.begin(), shape.end());
  }
  return {};
}

TEST(ChunkFunctionTest, SlidingWindowRingHoldsOnlyTheRing) {
  // Mistral: window 12 < context 32 with prefill batch 8: a ring of 24 rows; the mask and the
  // state are 24 wide and no window op is in the graph (the host mask carries the window).
  model::ModelSpec spec = TinySpec(2);
  spec.sliding_window = 12;
  MemoryFileSystem fs;
  ChunkShape shape{0, 2, 32, true, {}};
  shape.kv = MakeKvCacheLayout(spec, 32, 8, KvCacheSharing::kShared, 0, 0, 2);
  ASSERT_TRUE(shape.kv.ring);
  Built b = BuildChunk(spec, shape, &fs);
  for (const auto& fd : b.model.description().functions()) {
    const int64_t s = fd.name() == "prefill" ? 8 : 1;
    EXPECT_EQ(StateDims(fd, "model_model_kv_cache_0"),
              (std::vector<int64_t>{4, spec.num_kv_heads, 24, spec.head_dim}));
    EXPECT_EQ(InputDims(fd, "causal_mask"), (std::vector<int64_t>{1, 1, s, 24}));
  }
  const MS::Function& prefill = b.model.mlprogram().functions().at("prefill");
  for (const auto& op : prefill.block_specializations().begin()->second.operations()) {
    EXPECT_NE(op.type(), "select") << "no in-graph window mask expected";
  }
}

// Gemma 3: a chunk that runs local layers takes local_causal_mask and carries the local rope
// tables (base 100 here, unscaled), a chunk of global layers only neither; the state keeps the
// context's rows for both kinds; an MLP split across chunks is refused (its output is normalized).
TEST(ChunkFunctionTest, InterleavedLocalLayersGetTheirMaskAndRope) {
  model::ModelSpec spec = TinySpec(3);
  spec.rope_scaling.type = model::RopeScalingType::kLinear;
  spec.rope_scaling.factor = 8.0;
  spec.sandwich_norms = true;
  spec.norm_weight_offset = 1.0;
  spec.mlp_activation = model::MlpActivation::kGeluTanh;
  model::LocalAttention local;
  local.window = 4;
  local.rope_theta = 100.0;
  local.is_local = {true, false, false};
  spec.local_attention = local;
  MemoryFileSystem fs;
  Built b = BuildChunk(spec, {0, 3, 16, true, {}}, &fs);
  for (const auto& fd : b.model.description().functions()) {
    const int64_t s = fd.name() == "prefill" ? 8 : 1;
    EXPECT_EQ(InputDims(fd, "local_causal_mask"), (std::vector<int64_t>{1, 1, s, 16}));
    EXPECT_EQ(StateDims(fd, "model_model_kv_cache_0"),
              (std::vector<int64_t>{6, spec.num_kv_heads, 16, spec.head_dim}));
  }
  const MS::Function& infer = b.model.mlprogram().functions().at("infer");
  const MS::Operation* cos = Producer(infer, "rope_local_cos");
  ASSERT_NE(cos, nullptr);
  EXPECT_NE(Producer(infer, "l0_gelu"), nullptr);
  EXPECT_NE(Producer(infer, "l2_mlp_out_norm"), nullptr);
  auto reader = coreml::BlobReader::FromBytes(b.blob_bytes, "w.bin");
  ASSERT_TRUE(reader.ok());
  auto blob = reader->Get(cos->attributes().at("val").blobfilevalue().offset());
  ASSERT_TRUE(blob.ok());
  model::ModelSpec local_spec = spec;
  local_spec.rope_theta = 100.0;
  local_spec.rope_scaling = model::RopeScaling();
  const RopeTables t = ComputeRopeTables(local_spec, 16);
  for (size_t i : {17u, 100u, 255u}) {
    uint16_t h;
    std::memcpy(&h, blob->data.data() + 2 * i, 2);
    EXPECT_EQ(h, FloatToHalf(static_cast<float>(t.cos[i]))) << i;
  }
  // Layers 1-2 are global: no local mask, no local tables.
  MemoryFileSystem fs2;
  ChunkShape globals{1, 3, 16, true, {}};
  Built g = BuildChunk(spec, globals, &fs2);
  for (const auto& fd : g.model.description().functions()) {
    for (const auto& in : fd.input()) EXPECT_NE(in.name(), "local_causal_mask");
  }
  EXPECT_EQ(Producer(g.model.mlprogram().functions().at("infer"), "rope_local_cos"), nullptr);
  // A chunk ending inside an MLP would normalize half of its output.
  MemoryWeightSource weights = RandomWeights(spec, 7);
  MemoryFileSystem fs3;
  auto file = fs3.OpenForWrite("/w.bin");
  ASSERT_TRUE(file.ok());
  coreml::BlobWriter blobs(std::move(file).value());
  mil::ProgramBuilder pb(&blobs);
  WeightEmitter w(&pb, &weights, {});
  ChunkShape split{0, 1, 16, false, {}};
  split.end_mlp = 48;
  auto r = AddChunkFunction(&pb, &w, spec, split, 1, "infer");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("post_feedforward_layernorm"), std::string::npos);
}

TEST(ChunkFunctionTest, PerChunkStateHoldsOnlyTheChunksLayers) {
  model::ModelSpec spec = TinySpec(5);
  MemoryFileSystem fs;
  ChunkShape shape{3, 5, 32, true, {}};
  shape.kv = MakeKvCacheLayout(spec, 32, 8, KvCacheSharing::kPerChunk, 1, 3, 5);
  Built b = BuildChunk(spec, shape, &fs);
  const CS::FunctionDescription& fd = b.model.description().functions(0);
  EXPECT_EQ(StateDims(fd, "model_model_kv_cache_1"),
            (std::vector<int64_t>{4, spec.num_kv_heads, 32, spec.head_dim}));
  // Layer 3's keys go to slice 0 and its values to slice 2 (= layers + 0).
  const MS::Function& infer = b.model.mlprogram().functions().at("infer");
  const MS::Operation* begin = Producer(infer, "l3_vc_b0");
  ASSERT_NE(begin, nullptr);
  EXPECT_EQ(begin->attributes().at("val").immediatevalue().tensor().ints().values(0), 2);
  // A layer outside the state is an error, not a silent out-of-range write.
  ChunkShape bad{2, 5, 32, true, {}};
  bad.kv = shape.kv;
  MemoryWeightSource weights = RandomWeights(spec, 7);
  auto file = fs.OpenForWrite("/bad.bin");
  ASSERT_TRUE(file.ok());
  coreml::BlobWriter blobs(std::move(file).value());
  mil::ProgramBuilder pb(&blobs);
  WeightEmitter w(&pb, &weights, {});
  auto r = AddChunkFunction(&pb, &w, spec, bad, 1, "infer");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not all in state model_model_kv_cache_1"), std::string::npos);
}

}  // namespace
}  // namespace anec::ane

namespace anec::ane {
namespace {

TEST(ChunkFunctionTest, SplitLayerPiecesCarryTheMlpInput) {
  // TinySpec: intermediate 96. Chunk A: layer 0 whole, layer 1 attention + MLP rows [0, 40).
  // Chunk B: layer 1 MLP rows [40, 96), then layer 2 attention only.
  model::ModelSpec spec = TinySpec(3);
  MemoryFileSystem fs;
  ChunkShape a{0, 2, 32, false};
  a.end_mlp = 40;
  ChunkShape b{1, 3, 32, false};
  b.begin_mlp = 40;
  b.end_mlp = 0;
  Built ba = BuildChunk(spec, a, &fs);
  Built bb = BuildChunk(spec, b, &fs);
  const CS::FunctionDescription& fa = ba.model.description().functions(1);  // prefill
  ASSERT_EQ(fa.output_size(), 2);
  EXPECT_EQ(fa.output(1).name(), "output_mlp_input");
  EXPECT_EQ(std::vector<int64_t>(fa.output(1).type().multiarraytype().shape().begin(),
                                 fa.output(1).type().multiarraytype().shape().end()),
            (std::vector<int64_t>{1, 8, 64}));
  for (const auto& in : fa.input()) EXPECT_NE(in.name(), "mlp_input");
  const CS::FunctionDescription& fb = bb.model.description().functions(1);
  ASSERT_EQ(fb.output_size(), 1);  // stops right after an attention block: nothing to carry
  bool has_carry = false;
  for (const auto& in : fb.input()) has_carry |= in.name() == "mlp_input";
  EXPECT_TRUE(has_carry);

  const MS::Function& ia = ba.model.mlprogram().functions().at("infer");
  const MS::Function& ib = bb.model.mlprogram().functions().at("infer");
  // Layer 0 is whole and keeps its usual constant names.
  EXPECT_NE(Producer(ia, "layers_0_down_proj"), nullptr);
  // Layer 1's MLP is cut at row 40: gate/up rows and down columns, named by their range.
  const MS::Operation* up = Producer(ia, "layers_1_up_proj_0_40");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(Dims(up->outputs(0).type()), (std::vector<int64_t>{40, 64, 1, 1}));
  const MS::Operation* down = Producer(ib, "layers_1_down_proj_40_96");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(Dims(down->outputs(0).type()), (std::vector<int64_t>{64, 56, 1, 1}));
  EXPECT_EQ(Producer(ib, "layers_1_input_norm"), nullptr);      // attention ran in chunk A
  EXPECT_EQ(Producer(ib, "layers_1_post_attn_norm"), nullptr);  // so did the MLP's norm
  EXPECT_NE(Producer(ib, "layers_2_q_proj"), nullptr);
  EXPECT_EQ(Producer(ib, "layers_2_post_attn_norm"), nullptr);
  EXPECT_EQ(OpsOfType(ib, "write_state").size(), 1u);  // layer 2's attention only

  // The down slice holds exactly columns [40, 96) of every row of the checkpoint matrix.
  MemoryWeightSource weights = RandomWeights(spec, 7);
  const std::vector<float>* full = weights.Values(model::TensorRole::kDownProj, 1);
  ASSERT_NE(full, nullptr);
  auto reader = coreml::BlobReader::FromBytes(bb.blob_bytes, "w.bin");
  ASSERT_TRUE(reader.ok());
  auto blob = reader->Get(down->attributes().at("val").blobfilevalue().offset());
  ASSERT_TRUE(blob.ok());
  ASSERT_EQ(blob->data.size(), 64u * 56u * 2u);
  for (size_t r : {0u, 17u, 63u}) {
    for (size_t c : {0u, 30u, 55u}) {
      uint16_t h;
      std::memcpy(&h, blob->data.data() + 2 * (r * 56 + c), 2);
      EXPECT_EQ(h, FloatToHalf((*full)[r * 96 + 40 + c])) << r << "," << c;
    }
  }
}

}  // namespace
}  // namespace anec::ane
