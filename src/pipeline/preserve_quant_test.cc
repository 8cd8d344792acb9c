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
  auto plain = runtime::LlmModel::Open(&fs_, "/plain");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  auto preserved = runtime::LlmModel::Open(&fs_, "/kept");
  ASSERT_TRUE(preserved.ok()) << preserved.status().ToString();
  const int32_t vocab = static_cast<int32_t>(loaded_->spec.vocab_size);
  std::vector<int32_t> tokens;
  for (int32_t i = 0; i < 12; ++i) tokens.push_back((i * 37 + 5) % vocab);
  auto a = (*plain)->LogitsPerPosition(tokens);
  auto b = (*preserved)->LogitsPerPosition(tokens);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(a->size(), b->size());
  double max_diff = 0, max_abs = 0;
  for (size_t p = 0; p < a->size(); ++p) {
    ASSERT_EQ((*a)[p].size(), (*b)[p].size());
    for (size_t i = 0; i < (*a)[p].size(); ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::abs((*a)[p][i] - (*b)[p][i])));
      max_abs = std::max(max_abs, static_cast<double>(std::abs((*a)[p][i])));
    }
  }
  EXPECT_GT(max_abs, 0.0);
  EXPECT_EQ(max_diff, 0.0) << "largest logit " << max_abs;
  // Prefill path (zero-padded batch through `prefill`, last token through `infer`).
  auto pa = (*plain)->Forward(tokens);
  auto pb = (*preserved)->Forward(tokens);
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_EQ(*pa, *pb);
}

}  // namespace
}  // namespace anec::pipeline
