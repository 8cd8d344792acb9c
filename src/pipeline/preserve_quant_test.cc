// --preserve-quant end to end: tests/fixtures/gguf/tiny_llama.gguf (its Q and K projections are
// Q8_0) and tiny_kquant.gguf (every quantized type, tools/make_kquant_fixture.py) converted
// twice, once through the fp16 path and once keeping the blocks (constexpr_blockwise_shift_scale
// or per-block constexpr_lut_to_dense tables); the runtime (which reads only the packages) must
// give the same logits, and the kept package must hold the blocks and no fp16 copy of them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>

#include "ane/package_constants.h"
#include "ane/weight_source.h"
#include "coreml/package.h"
#include "io/gguf_checkpoint.h"
#include "model/gguf_model.h"
#include "pipeline/chunk_plan.h"
#include "pipeline/converter.h"
#include "pipeline/same_logits_test_util.h"
#include "runtime/llm_model.h"

namespace anec::pipeline {
namespace {

std::map<std::string, int> OpCounts(const coreml::Package& pkg) {
  std::map<std::string, int> counts;
  for (const auto& [name, fn] : pkg.model().mlprogram().functions()) {
    for (const auto& [spec, block] : fn.block_specializations()) {
      for (const auto& op : block.operations()) ++counts[op.type()];
    }
  }
  return counts;
}

class PreserveQuantTest : public ::testing::Test {
 protected:
  void SetUp() override { Load("tiny_llama.gguf"); }

  void Load(const std::string& fixture) {
    const char* src = std::getenv("ANEC_SOURCE_DIR");
    ASSERT_NE(src, nullptr) << "ANEC_SOURCE_DIR not set (run through ctest)";
    auto loaded =
        model::LoadGgufModel(RealFileSystem(), std::string(src) + "/tests/fixtures/gguf/" + fixture);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    loaded_ = std::make_unique<model::LoadedModel>(std::move(loaded).value());
    plain_.reset();
  }

  void ConvertTo(const ane::WeightSource* weights, const std::string& out, bool preserve) {
    ConversionInput in;
    in.spec = loaded_->spec;
    in.weights = weights;
    ConvertOptions o;
    o.output_dir = out;
    o.context = 32;
    o.batch = 8;
    o.chunks = std::min<int64_t>(2, in.spec.num_layers);
    o.skip_check = true;
    o.preserve_quant = preserve;
    ConvertHooks quiet;
    quiet.log = nullptr;
    auto report = Convert(&fs_, in, o, quiet);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
  }

  const ane::WeightSource& plain_weights() {
    if (!plain_) plain_ = std::make_unique<ane::CheckpointWeights>(&loaded_->checkpoint);
    return *plain_;
  }

  // Converts the loaded model into /plain (fp16 path) and /kept (GGUF blocks carried) and
  // returns the kept weights' source (for CarriedBits).
  std::unique_ptr<ane::GgufPreservingWeights> ConvertBoth() {
    const auto* gguf = static_cast<const io::GgufCheckpoint*>(loaded_->source.get());
    auto kept = std::make_unique<ane::GgufPreservingWeights>(&loaded_->checkpoint, gguf);
    ConvertTo(&plain_weights(), "/plain", false);
    ConvertTo(kept.get(), "/kept", true);
    return kept;
  }

  std::string prefix() const {
    return loaded_->spec.default_prefix.empty() ? "llama" : loaded_->spec.default_prefix;
  }

  std::unique_ptr<model::LoadedModel> loaded_;
  std::unique_ptr<ane::CheckpointWeights> plain_;
  MemoryFileSystem fs_;
};

TEST_F(PreserveQuantTest, Q80WeightsKeptAsBlocksGiveTheFp16Logits) {
  ConvertBoth();
  if (HasFatalFailure()) return;

  // The package: int8 data + fp16 per-block scales instead of the fp16 matrix.
  const std::string prefix = this->prefix();
  const int64_t chunks = std::min<int64_t>(2, loaded_->spec.num_layers);
  auto pkg = coreml::Package::Open(
      &fs_, fmt::format("/kept/{}_FFN_PF_chunk_01of{:02d}.mlpackage", prefix, chunks));
  ASSERT_TRUE(pkg.ok()) << pkg.status().ToString();
  std::map<std::string, int> ops = OpCounts(*pkg);
  // Q and K of layer 0, in the infer and the prefill function.
  EXPECT_EQ(ops["constexpr_blockwise_shift_scale"], 4);
  auto consts = ane::PackageConstants::Index(&*pkg);
  ASSERT_TRUE(consts.ok()) << consts.status().ToString();
  for (const char* w : {"layers_0_q_proj", "layers_0_k_proj"}) {
    EXPECT_FALSE(consts->Has(w)) << w << " stored as fp16 as well";
    auto data = consts->Get(std::string(w) + "_data");
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    EXPECT_EQ(data->type().dtype, mil::DType::kInt8);
    auto scale = consts->Get(std::string(w) + "_scale");
    ASSERT_TRUE(scale.ok()) << scale.status().ToString();
    EXPECT_EQ(scale->type().shape[1] * 32, data->type().shape[1]);
  }
  EXPECT_TRUE(consts->Has("layers_0_v_proj")) << "V is not Q8_0 in the fixture: stays fp16";

  // The logits: the constexpr output is bit-identical to the fp16 path's weights (d*q rounded to
  // fp16 once, ggml_blocks_test.cc), so the two conversions must agree exactly.
  ExpectSameLogits(&fs_, "/plain", "/kept", static_cast<int32_t>(loaded_->spec.vocab_size));
}

// What each matrix of tiny_kquant.gguf must become: the constexpr op and the dtypes and shapes of
// its two inputs, or "fp16" for a type that is not carried (Q5_1, Q5_K, Q6_K).
struct Expected {
  const char* weight;
  const char* form;
  const char* first;
  const char* second;
};

TEST_F(PreserveQuantTest, EveryGgufTypeCarriedExactlyOrConvertedGivesTheFp16Logits) {
  Load("tiny_kquant.gguf");
  if (HasFatalFailure()) return;
  std::unique_ptr<ane::GgufPreservingWeights> kept = ConvertBoth();
  if (HasFatalFailure()) return;
  const std::string prefix = this->prefix();
  const Expected chunk_weights[2][7] = {
      {{"layers_0_q_proj", "lut", "uint4[256,256,1,1]", "fp16[256,8,1,1,16,1]"},    // Q4_K
       {"layers_0_k_proj", "lut", "uint2[128,256,1,1]", "fp16[128,16,1,1,4,1]"},    // Q2_K
       {"layers_0_v_proj", "lut", "uint3[128,256,1,1]", "fp16[128,16,1,1,8,1]"},    // Q3_K
       {"layers_0_o_proj", "shift", "int8[256,256,1,1]", "fp16[256,8,1,1]"},        // Q5_0
       {"layers_0_gate_proj", "fp16", "", ""},                                      // Q6_K
       {"layers_0_up_proj", "fp16", "", ""},                                        // Q5_K
       {"layers_0_down_proj", "lut", "uint4[256,256,1,1]", "fp16[256,8,1,1,16,1]"}},  // Q4_1
      {{"layers_1_q_proj", "lut", "uint3[256,256,1,1]", "fp16[256,16,1,1,8,1]"},    // Q3_K
       {"layers_1_k_proj", "lut", "uint4[128,256,1,1]", "fp16[128,8,1,1,16,1]"},    // Q4_K
       {"layers_1_v_proj", "lut", "uint2[128,256,1,1]", "fp16[128,16,1,1,4,1]"},    // Q2_K
       {"layers_1_o_proj", "shift", "int8[256,256,1,1]", "fp16[256,8,1,1]"},        // Q8_0
       {"layers_1_gate_proj", "fp16", "", ""},                                      // Q5_1
       {"layers_1_up_proj", "shift", "int4[256,256,1,1]", "fp16[256,8,1,1]"},       // Q4_0
       {"layers_1_down_proj", "fp16", "", ""}},                                     // Q6_K
  };
  for (int chunk = 0; chunk < 2; ++chunk) {
    auto pkg = coreml::Package::Open(
        &fs_, fmt::format("/kept/{}_FFN_PF_chunk_{:02d}of02.mlpackage", prefix, chunk + 1));
    ASSERT_TRUE(pkg.ok()) << pkg.status().ToString();
    auto consts = ane::PackageConstants::Index(&*pkg);
    ASSERT_TRUE(consts.ok()) << consts.status().ToString();
    for (const Expected& e : chunk_weights[chunk]) {
      SCOPED_TRACE(e.weight);
      const std::string w = e.weight;
      if (std::string(e.form) == "fp16") {
        auto t = consts->Get(w);
        ASSERT_TRUE(t.ok()) << t.status().ToString();
        EXPECT_EQ(t->type().dtype, mil::DType::kFloat16);
        continue;
      }
      EXPECT_FALSE(consts->Has(w)) << "stored as fp16 as well";
      const bool lut = std::string(e.form) == "lut";
      auto first = consts->Get(w + (lut ? "_indices" : "_data"));
      auto second = consts->Get(w + (lut ? "_lut" : "_scale"));
      ASSERT_TRUE(first.ok()) << first.status().ToString();
      ASSERT_TRUE(second.ok()) << second.status().ToString();
      EXPECT_EQ(first->type().ToString(), e.first);
      EXPECT_EQ(second->type().ToString(), e.second);
    }
  }
  // The size planner counts each matrix at its stored size: the planned difference between the
  // kept and the plain chunk equals the difference of their weight files, up to the 64-byte
  // blob records and alignment (three blobs at most per matrix).
  LutPlan planned;
  using model::TensorRole;
  auto matrix_bits = kept->MatrixBits(loaded_->spec.num_layers);
  ASSERT_TRUE(matrix_bits.ok()) << matrix_bits.status().ToString();
  planned.matrix_bits = *matrix_bits;
  EXPECT_EQ(planned.matrix_bits.size(), 2u * 7 + 1);
  EXPECT_EQ((planned.matrix_bits[{TensorRole::kLmHead, 0}]), 12.0);  // output.weight Q4_K
  EXPECT_EQ((planned.matrix_bits[{TensorRole::kUpProj, 1}]), 4.5);   // Q4_0
  auto bits_of = [&](TensorRole r) { return planned.matrix_bits[std::make_pair(r, int64_t{0})]; };
  EXPECT_EQ(bits_of(TensorRole::kQProj), 12.0);    // Q4_K
  EXPECT_EQ(bits_of(TensorRole::kKProj), 6.0);     // Q2_K
  EXPECT_EQ(bits_of(TensorRole::kGateProj), 0.0);  // Q6_K: converted
  const std::vector<LayerRange> ranges = {{0, 1}, {1, 2}};
  const SizePlan plain_plan = EstimateSizes(loaded_->spec, ranges, LutPlan{}, 32);
  const SizePlan kept_plan = EstimateSizes(loaded_->spec, ranges, planned, 32);
  for (int chunk = 0; chunk < 2; ++chunk) {
    auto weights = [&](const char* dir) {
      auto n = fs_.FileSize(fmt::format(
          "/{}/{}_FFN_PF_chunk_{:02d}of02.mlpackage/Data/com.apple.CoreML/weights/weight.bin",
          dir, prefix, chunk + 1));
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      return n.ok() ? static_cast<double>(*n) : 0.0;
    };
    const double actual = weights("plain") - weights("kept");
    const double plan = static_cast<double>(plain_plan.chunks[static_cast<size_t>(chunk)]) -
                        static_cast<double>(kept_plan.chunks[static_cast<size_t>(chunk)]);
    EXPECT_GT(plan, 0);
    EXPECT_NEAR(actual, plan, 7 * 3 * 128) << "chunk " << chunk + 1;
  }

  // The LM head (output.weight, Q4_K) is carried too; the embedding (Q4_K, a gather) is not.
  auto head = coreml::Package::Open(&fs_, fmt::format("/kept/{}_lm_head.mlpackage", prefix));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  std::map<std::string, int> head_ops = OpCounts(*head);
  EXPECT_GT(head_ops["constexpr_lut_to_dense"], 0);

  // Every carried form decompresses to the fp16 path's values (ggml_blocks_test.cc), so the two
  // conversions must agree exactly.
  ExpectSameLogits(&fs_, "/plain", "/kept", static_cast<int32_t>(loaded_->spec.vocab_size));
}

}  // namespace
}  // namespace anec::pipeline
