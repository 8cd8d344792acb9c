// GPTQ / AWQ int4 checkpoints end to end (tests/fixtures/gptq, tools/make_gptq_fixture.py):
// converted with their int4 groups carried as constexpr_blockwise_shift_scale (the default for
// such input) and, for comparison, through the dequantized fp16 path. Checked from the written
// packages alone:
//  - every decoder linear is uint4 data + fp16 scale + uint4 (or fp16) offset, no fp16 copy;
//  - the weights the runtime decodes from them (constexpr, plus the act-order gather) equal, bit
//    for bit, fp16 of the weights numpy dequantized in the fixture generator;
//  - infer and prefill of the multi-function chunk point at the same blobs (stored once);
//  - the runtime's logits equal those of the fp16 conversion of the dequantized weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "ane/weight_source.h"
#include "base/half.h"
#include "coreml/package.h"
#include "io/safetensors.h"
#include "model/hf_checkpoint.h"
#include "pipeline/chunk_plan.h"
#include "pipeline/converter.h"
#include "pipeline/same_logits_test_util.h"
#include "runtime/llm_model.h"
#include "runtime/program.h"

namespace anec::pipeline {
namespace {

namespace MS = CoreML::Specification::MILSpec;

std::string Fixture(const std::string& rel) {
  const char* src = std::getenv("ANEC_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/" + rel;
}

// conv op name in the chunk (attention.cc / transformer_layer.cc) for a checkpoint weight.
const std::map<std::string, std::string> kConvOf = {
    {"model.layers.0.self_attn.q_proj.weight", "l0_q_proj"},
    {"model.layers.0.self_attn.k_proj.weight", "l0_k_proj"},
    {"model.layers.0.self_attn.v_proj.weight", "l0_v_proj"},
    {"model.layers.0.self_attn.o_proj.weight", "l0_o_proj"},
    {"model.layers.0.mlp.up_proj.weight", "l0_up"},
    {"model.layers.0.mlp.down_proj.weight", "l0_down"},
};

const runtime::CompiledOp* FindOp(const runtime::CompiledFunction& fn, const std::string& name) {
  for (const auto& op : fn.ops) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

const runtime::Arg* Input(const runtime::CompiledOp& op, const std::string& param) {
  for (const auto& [p, args] : op.inputs) {
    if (p == param && args.size() == 1) return &args[0];
  }
  return nullptr;
}

// The conv weight `conv` multiplies with, as the runtime decoded it from the package: a
// constant (constexpr output) or, for act-order, the gather of one by constant indices on
// axis 1. fp16 bits, [out, in].
Result<std::vector<uint16_t>> DecodedWeight(const runtime::CompiledFunction& fn,
                                            const std::string& conv) {
  const runtime::CompiledOp* op = FindOp(fn, conv);
  if (op == nullptr) return NotFound("no op {}", conv);
  const runtime::Arg* w = Input(*op, "weight");
  if (w == nullptr) return NotFound("{} has no weight", conv);
  auto halves = [](const runtime::Tensor& t) {
    std::vector<uint16_t> h;
    for (float x : t.ToFloats()) h.push_back(FloatToHalf(x));
    return h;
  };
  if (w->slot < 0) {
    if (w->constant.dtype() != runtime::DType::kFloat16) return Internal("not fp16");
    return halves(w->constant);
  }
  // Produced by an op: must be gather(constant, constant indices, axis 1).
  for (const auto& g : fn.ops) {
    if (g.output_slots.empty() || g.output_slots[0] != w->slot) continue;
    const runtime::Arg* x = Input(g, "x");
    const runtime::Arg* idx = Input(g, "indices");
    const runtime::Arg* axis = Input(g, "axis");
    if (g.type != "gather" || x == nullptr || idx == nullptr || axis == nullptr || x->slot >= 0 ||
        idx->slot >= 0 || axis->constant.IntAt(0) != 1) {
      return Internal("{}'s weight comes from {} {}, not a gather of a constant on axis 1", conv,
                      g.type, g.name);
    }
    const runtime::Tensor& dense = x->constant;
    const int64_t out = dense.dim(0), in = dense.dim(1);
    std::vector<uint16_t> d = halves(dense), r(d.size());
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) r[o * in + i] = d[o * in + idx->constant.IntAt(i)];
    }
    return r;
  }
  return NotFound("no op produces {}'s weight", conv);
}

// name -> blob offset of every blob-backed value of one function: const ops by output name,
// constexpr inputs as "<op>_<param>" (the names step 4 and step 5 match them by).
std::map<std::string, uint64_t> BlobOffsets(const MS::Function& fn) {
  std::map<std::string, uint64_t> out;
  for (const auto& [spec, block] : fn.block_specializations()) {
    for (const auto& op : block.operations()) {
      if (op.type() == "const") {
        auto val = op.attributes().find("val");
        if (val != op.attributes().end() && val->second.has_blobfilevalue()) {
          out[op.outputs(0).name()] = val->second.blobfilevalue().offset();
        }
        continue;
      }
      if (op.type().rfind("constexpr_", 0) != 0) continue;
      for (const auto& [param, arg] : op.inputs()) {
        const MS::Value& v = arg.arguments(0).value();
        if (v.has_blobfilevalue()) {
          out[op.outputs(0).name() + "_" + param] = v.blobfilevalue().offset();
        }
      }
    }
  }
  return out;
}

class PrequantConvertTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("ANEC_SOURCE_DIR"), nullptr) << "ANEC_SOURCE_DIR not set (use ctest)";
    auto loaded = model::LoadHfCheckpoint(RealFileSystem(), Fixture("gptq/" + GetParam()));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    loaded_ = std::make_unique<model::LoadedModel>(std::move(loaded).value());
    ASSERT_NE(loaded_->prequant, nullptr);
    prefix_ = loaded_->spec.default_prefix.empty() ? "llama" : loaded_->spec.default_prefix;
  }

  void ConvertTo(const ane::WeightSource* weights, const std::string& out, bool preserve) {
    ConversionInput in;
    in.spec = loaded_->spec;
    in.weights = weights;
    ConvertOptions o;
    o.output_dir = out;
    o.context = 32;
    o.batch = 8;
    o.chunks = 1;
    o.skip_check = true;
    o.preserve_quant = preserve;
    ConvertHooks quiet;
    quiet.log = nullptr;
    auto report = Convert(&fs_, in, o, quiet);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
  }

  std::string ChunkPath(const std::string& out) const {
    return fmt::format("{}/{}_FFN_PF_chunk_01of01.mlpackage", out, prefix_);
  }

  std::unique_ptr<model::LoadedModel> loaded_;
  std::string prefix_;
  MemoryFileSystem fs_;
};

TEST_P(PrequantConvertTest, PackageWeightsAreTheNumpyDequantizedWeightsInFp16) {
  ane::PrequantPreservingWeights kept(&loaded_->checkpoint, loaded_->prequant);
  ConvertTo(&kept, "/kept", true);
  if (HasFatalFailure()) return;
  const bool act_order = GetParam() == "gptq_llama";
  const int64_t layers = loaded_->spec.num_layers;

  // The program: one shift-scale op per decoder linear and function, uint4 data, no LUT, and a
  // gather per linear exactly when the checkpoint is act-order.
  auto pkg = coreml::Package::Open(&fs_, ChunkPath("/kept"));
  ASSERT_TRUE(pkg.ok()) << pkg.status().ToString();
  const auto& functions = pkg->model().mlprogram().functions();
  ASSERT_EQ(functions.size(), 2u);
  for (const auto& [fname, fn] : functions) {
    std::map<std::string, int> ops;
    for (const auto& [spec, block] : fn.block_specializations()) {
      for (const auto& op : block.operations()) {
        ++ops[op.type()];
        // Weight gathers (the chunk has others, e.g. for the rotary tables).
        if (op.type() == "gather" && op.outputs(0).name().starts_with("layers_"))
          ++ops["weight gather"];
        if (op.type() != "constexpr_blockwise_shift_scale") continue;
        const MS::Value& data = op.inputs().at("data").arguments(0).value();
        const MS::Value& offset = op.inputs().at("offset").arguments(0).value();
        EXPECT_EQ(data.type().tensortype().datatype(), MS::UINT4) << op.outputs(0).name();
        const bool zero16 = op.outputs(0).name().starts_with("layers_0_up_proj") && act_order;
        EXPECT_EQ(offset.type().tensortype().datatype(), zero16 ? MS::FLOAT16 : MS::UINT4)
            << op.outputs(0).name();
      }
    }
    // One chunk: its prefill (cache filling only) skips the last layer's MLP (3 linears).
    const int linears = 7 * static_cast<int>(layers) - (fname == "prefill" ? 3 : 0);
    EXPECT_EQ(ops["constexpr_blockwise_shift_scale"], linears) << fname;
    EXPECT_EQ(ops["constexpr_lut_to_dense"], 0) << fname;
    EXPECT_EQ(ops["weight gather"], act_order ? linears : 0) << fname;
  }

  // Stored once: prefill's blob values (weights, group parameters, gather orders) point at
  // exactly infer's blobs, each stored once.
  auto infer_blobs = BlobOffsets(functions.at("infer"));
  int int4_inputs = 0;
  for (const auto& [name, offset] : infer_blobs) {
    for (const char* p : {"_data", "_scale", "_offset"}) int4_inputs += name.ends_with(p);
  }
  EXPECT_EQ(int4_inputs, 3 * 7 * layers);
  const std::string last_layer = "layers_" + std::to_string(layers - 1) + "_";
  std::map<std::string, uint64_t> infer_blobs_prefill_reads;
  for (const auto& [name, offset] : infer_blobs) {
    const bool skipped =
        name == "final_norm" ||
        (name.starts_with(last_layer) && (name.find("gate_proj") != std::string::npos ||
                                          name.find("up_proj") != std::string::npos ||
                                          name.find("down_proj") != std::string::npos ||
                                          name.find("post_attn_norm") != std::string::npos));
    if (!skipped) infer_blobs_prefill_reads[name] = offset;
  }
  EXPECT_EQ(BlobOffsets(functions.at("prefill")), infer_blobs_prefill_reads);

  // The weights, decoded by the runtime from the package alone, against the generator's numpy
  // dequantization (float32, exact) rounded once to fp16.
  auto program = runtime::LoadPackageProgram(&fs_, ChunkPath("/kept"));
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  auto expected = io::SafetensorsSource::OpenFile(
      RealFileSystem(), Fixture("gptq/" + GetParam() + "/expected_weights.safetensors"));
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  int compared = 0;
  for (const char* fname : {"infer", "prefill"}) {
    const runtime::CompiledFunction* fn = (*program)->Find(fname);
    ASSERT_NE(fn, nullptr) << fname;
    for (const auto& [weight, conv] : kConvOf) {
      auto want = (*expected)->Read(weight);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      ASSERT_EQ(want->info.dtype, io::TensorDType::kF32);
      std::vector<uint16_t> want_half(want->data.size() / 4);
      for (size_t k = 0; k < want_half.size(); ++k) {
        float x;
        std::memcpy(&x, want->data.data() + 4 * k, 4);
        want_half[k] = FloatToHalf(x);
      }
      auto got = DecodedWeight(*fn, conv);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->size(), want_half.size()) << weight;
      EXPECT_TRUE(*got == want_half) << fname << " " << weight;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 12);
}

TEST_P(PrequantConvertTest, LogitsEqualTheFp16ConversionOfTheDequantizedWeights) {
  ane::PrequantPreservingWeights kept(&loaded_->checkpoint, loaded_->prequant);
  ane::CheckpointWeights dequantized(&loaded_->checkpoint);
  ConvertTo(&kept, "/kept", true);
  ConvertTo(&dequantized, "/plain", false);
  if (HasFatalFailure()) return;
  auto plain_bin = fs_.ReadFile(ChunkPath("/plain") + "/Data/com.apple.CoreML/weights/weight.bin");
  auto kept_bin = fs_.ReadFile(ChunkPath("/kept") + "/Data/com.apple.CoreML/weights/weight.bin");
  ASSERT_TRUE(plain_bin.ok() && kept_bin.ok());
  // int4 + group parameters instead of fp16: well under half the bytes.
  EXPECT_LT(kept_bin->size() * 2, plain_bin->size());

  // The decoded weights are the fp16 path's weights bit for bit, and the kernels see the same
  // fp16 matrices, so the logits agree exactly.
  ExpectSameLogits(&fs_, "/plain", "/kept", static_cast<int32_t>(loaded_->spec.vocab_size));
}

// A split plan that cuts an MLP by columns cannot keep the down projection's int4 groups: the
// conversion stops naming the weight and the way out, instead of silently writing fp16.
TEST_P(PrequantConvertTest, ColumnSlicesOfInt4WeightsAreRefused) {
  ane::PrequantPreservingWeights kept(&loaded_->checkpoint, loaded_->prequant);
  ConversionInput in;
  in.spec = loaded_->spec;
  in.weights = &kept;
  ConvertOptions o;
  o.output_dir = "/split";
  o.context = 32;
  o.batch = 8;
  o.skip_check = true;
  o.preserve_quant = true;
  o.lut.ffn_carried_bits = 4.0 + 20.0 / 32;
  // Room for an attention block and part of an MLP, not a whole MLP.
  auto plan = PlanChunks(in.spec, o.lut, o.context, FileBudget{75'000 + 16'384, "test"});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_FALSE(plan->whole_layers());
  o.max_file_bytes = 75'000 + 16'384;
  ConvertHooks quiet;
  quiet.log = nullptr;
  auto report = Convert(&fs_, in, o, quiet);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("down_proj"), std::string::npos)
      << report.status().ToString();
  EXPECT_NE(report.status().message().find("--max-file-mb"), std::string::npos);
  EXPECT_FALSE(fs_.Exists(ChunkPath("/split")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrequantConvertTest,
                         ::testing::Values("gptq_llama", "awq_llama"));

// Schemes anec cannot carry are refused when the folder is opened, before any step, naming the
// scheme and config.json.
TEST(PrequantConvert, UnsupportedSchemesAreRejectedUpFront) {
  auto base = RealFileSystem()->ReadFile(Fixture("gptq/awq_llama/config.json"));
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  auto weights = RealFileSystem()->ReadFile(Fixture("gptq/awq_llama/model.safetensors"));
  ASSERT_TRUE(weights.ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"quant_method": "fp8", "activation_scheme": "dynamic"})", "quant_method 'fp8'"},
      {R"({"quant_method": "exl2", "bits": 4.65})", "quant_method 'exl2'"},
      {R"({"quant_method": "gptq", "bits": 8, "group_size": 128})", "gptq with bits 8"},
      {R"({"quant_method": "awq", "bits": 4, "group_size": 32, "version": "gemv"})",
       "AWQ version 'gemv'"},
      {R"({"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": false})",
       "zero_point false"},
  };
  for (const auto& [qc, want] : cases) {
    MemoryFileSystem fs;
    ASSERT_TRUE(fs.MakeDirs("/m").ok());
    nlohmann::json cfg = nlohmann::json::parse(*base);
    cfg["quantization_config"] = nlohmann::json::parse(qc);
    ASSERT_TRUE(fs.WriteFileAtomic("/m/config.json", cfg.dump()).ok());
    ASSERT_TRUE(fs.WriteFileAtomic("/m/model.safetensors", *weights).ok());
    auto loaded = model::LoadHfCheckpoint(&fs, "/m");
    ASSERT_FALSE(loaded.ok()) << qc;
    EXPECT_EQ(loaded.status().code(), StatusCode::kUnsupported) << loaded.status().ToString();
    EXPECT_NE(loaded.status().message().find(want), std::string::npos)
        << loaded.status().ToString();
    EXPECT_NE(loaded.status().message().find("/m/config.json"), std::string::npos)
        << loaded.status().ToString();
  }
}

}  // namespace
}  // namespace anec::pipeline
