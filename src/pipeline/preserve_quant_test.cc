// --preserve-quant end to end: tests/fixtures/gguf/tiny_llama.gguf (its Q and K projections are
// Q8_0) converted twice, once through the fp16 path and once keeping the Q8_0 blocks as
// constexpr_blockwise_shift_scale; the runtime (which reads only the packages) must give the
// same logits, and the kept package must hold int8 blocks and no fp16 copy of those weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>

#include "ane/package_constants.h"
#include "ane/weight_source.h"
#include "coreml/package.h"
#include "io/gguf_checkpoint.h"
#include "model/gguf_model.h"
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
  void SetUp() override {
    const char* src = std::getenv("ANEC_SOURCE_DIR");
    ASSERT_NE(src, nullptr) << "ANEC_SOURCE_DIR not set (run through ctest)";
    auto loaded = model::LoadGgufModel(RealFileSystem(),
                                       std::string(src) + "/tests/fixtures/gguf/tiny_llama.gguf");
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    loaded_ = std::make_unique<model::LoadedModel>(std::move(loaded).value());
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

  std::unique_ptr<model::LoadedModel> loaded_;
  std::unique_ptr<ane::CheckpointWeights> plain_;
  MemoryFileSystem fs_;
};

TEST_F(PreserveQuantTest, Q80WeightsKeptAsBlocksGiveTheFp16Logits) {
  const auto* gguf = static_cast<const io::GgufCheckpoint*>(loaded_->source.get());
  ane::GgufPreservingWeights kept(&loaded_->checkpoint, gguf);
  ConvertTo(&plain_weights(), "/plain", false);
  ConvertTo(&kept, "/kept", true);
  if (HasFatalFailure()) return;

  // The package: int8 data + fp16 per-block scales instead of the fp16 matrix.
  const std::string prefix =
      loaded_->spec.default_prefix.empty() ? "llama" : loaded_->spec.default_prefix;
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

}  // namespace
}  // namespace anec::pipeline
