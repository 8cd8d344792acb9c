#include "io/prequant_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "io/checkpoint.h"
#include "io/prequant_test_util.h"
#include "io/safetensors.h"

namespace anec::io {
namespace {

using ::testing::HasSubstr;
using testing::MapSource;

std::string Fixture(const std::string& rel) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/" + rel;
}

std::vector<float> Floats(const TensorData& t) {
  std::vector<float> v(t.data.size() / 4);
  std::memcpy(v.data(), t.data.data(), v.size() * 4);
  return v;
}

class PrequantFixtureTest : public ::testing::TestWithParam<std::string> {};

// The reader's dequantized weights equal, bit for bit, those numpy computed from the codes
// before packing (tools/make_gptq_fixture.py).
TEST_P(PrequantFixtureTest, DequantizedWeightsAreBitIdenticalToNumpy) {
  auto src = OpenCheckpointDequantized(RealFileSystem(), Fixture("gptq/" + GetParam()));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto expected = SafetensorsSource::OpenFile(
      RealFileSystem(), Fixture("gptq/" + GetParam() + "/expected_weights.safetensors"));
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  int compared = 0;
  for (const TensorInfo& e : (*expected)->List()) {
    if (e.name.rfind("original.", 0) == 0) continue;
    ++compared;
    auto info = (*src)->Info(e.name);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->dtype, TensorDType::kF32);
    EXPECT_EQ(info->shape, e.shape) << e.name;
    auto got = (*src)->Read(e.name);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    auto want = (*expected)->Read(e.name);
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(got->data.size(), want->data.size()) << e.name;
    EXPECT_EQ(std::memcmp(got->data.data(), want->data.data(), got->data.size()), 0) << e.name;
  }
  EXPECT_EQ(compared, 6);
}

// Same names as the unquantized model, and every weight close to its fp16 original (so the
// [out, in] orientation and the group mapping are right, not only self-consistent).
TEST_P(PrequantFixtureTest, LooksLikeTheUnquantizedCheckpoint) {
  auto src = OpenCheckpointDequantized(RealFileSystem(), Fixture("gptq/" + GetParam()));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto* pq = dynamic_cast<PrequantizedSource*>(src->get());
  ASSERT_NE(pq, nullptr);
  EXPECT_EQ(pq->QuantizedWeights().size(), 21u);
  EXPECT_FALSE((*src)->Has("model.layers.0.self_attn.q_proj.qweight"));
  EXPECT_FALSE((*src)->Has("model.layers.0.mlp.down_proj.scales"));
  EXPECT_FALSE((*src)->Read("model.layers.0.mlp.down_proj.qzeros").ok());

  std::set<std::string> names;
  for (const TensorInfo& t : (*src)->List()) names.insert(t.name);
  EXPECT_EQ(names.size(), 3u * 9u + 3u);  // per layer 7 linears + 2 norms; embed, norm, lm_head
  EXPECT_TRUE(names.count("lm_head.weight"));
  EXPECT_TRUE(names.count("model.layers.2.mlp.gate_proj.weight"));
  for (const auto& n : names) {
    for (const char* hidden : {".qweight", ".qzeros", ".scales", ".g_idx"}) {
      EXPECT_EQ(n.find(hidden), std::string::npos) << n;
    }
  }

  // The fp16 originals the fixture was quantized from (stored beside the expected weights).
  auto expected = SafetensorsSource::OpenFile(
      RealFileSystem(), Fixture("gptq/" + GetParam() + "/expected_weights.safetensors"));
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  int compared = 0;
  for (const TensorInfo& t : (*expected)->List()) {
    if (t.name.rfind("original.", 0) != 0) continue;
    std::string name = t.name.substr(9);
    auto orig = (*expected)->Read(t.name);
    ASSERT_TRUE(orig.ok());
    auto w = (*src)->Read(name);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto o = ToFloat32(*orig);
    ASSERT_TRUE(o.ok());
    std::vector<float> d = Floats(*w);
    ASSERT_EQ(d.size(), o->size()) << name;
    float worst = 0, mean_abs = 0;
    for (size_t k = 0; k < d.size(); ++k) {
      worst = std::max(worst, std::fabs(d[k] - (*o)[k]));
      mean_abs += std::fabs((*o)[k]) / static_cast<float>(d.size());
    }
    // 4-bit RTN error is at most half a step (range / 30 per group): well under the weights'
    // mean magnitude; a transposed or mis-grouped weight would be off by the weights themselves.
    EXPECT_LT(worst, mean_abs) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 5);
}

// The raw blockwise representation reproduces the dequantized weights exactly.
TEST_P(PrequantFixtureTest, BlockwiseFormReproducesEveryWeightExactly) {
  auto src = OpenCheckpointDequantized(RealFileSystem(), Fixture("gptq/" + GetParam()));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto* pq = dynamic_cast<PrequantizedSource*>(src->get());
  ASSERT_NE(pq, nullptr);
  bool act_order = GetParam() == "gptq_llama";
  for (const std::string& name : pq->QuantizedWeights()) {
    auto b = pq->ReadBlockwise(name);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->block_size, 32) << name;
    EXPECT_EQ(b->input_permutation.empty(), !act_order) << name;
    // The GPTQ fixture gives layer 0's up_proj a few zeros of 16 (v1's stored 15).
    const bool zero16 = act_order && name == "model.layers.0.mlp.up_proj.weight";
    EXPECT_EQ(b->offsets_fit_uint4, !zero16) << name;
    auto w = (*src)->Read(name);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(ExpandBlockwise(*b), Floats(*w)) << name;
  }
  auto not_quantized = pq->ReadBlockwise("lm_head.weight");
  ASSERT_FALSE(not_quantized.ok());
  EXPECT_EQ(not_quantized.status().code(), StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Formats, PrequantFixtureTest,
                         ::testing::Values("gptq_llama", "awq_llama"));

TEST(PrequantSourceTest, PlainCheckpointIsReturnedUnwrapped) {
  auto src = OpenCheckpointDequantized(RealFileSystem(), Fixture("parity/llama_untied"));
  if (!src.ok() && src.status().code() == StatusCode::kNotFound) GTEST_SKIP();
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ(dynamic_cast<PrequantizedSource*>(src->get()), nullptr);
}

PrequantConfig AwqConfig() {
  PrequantConfig c;
  c.path = "m/config.json";
  c.method = PrequantMethod::kAwqGemm;
  c.group_size = 8;
  return c;
}

std::unique_ptr<MapSource> AwqLinear() {
  auto s = std::make_unique<MapSource>();
  s->Add("l.qweight", TensorDType::kI32, {16, 1}, std::vector<int32_t>(16, 0x12345678));
  s->Add("l.qzeros", TensorDType::kI32, {2, 1}, std::vector<int32_t>{0x11111111, 0x22222222});
  s->Add("l.scales", TensorDType::kF16, {2, 8}, testing::Halves(std::vector<float>(16, 0.25f)));
  s->Add("l.bias", TensorDType::kF32, {8}, std::vector<float>(8, 1.0f));
  s->Add("norm.weight", TensorDType::kF32, {16}, std::vector<float>(16, 1.0f));
  return s;
}

TEST(PrequantSourceTest, WrapPresentsWeightAndKeepsBias) {
  auto src = PrequantizedSource::Wrap(AwqLinear(), AwqConfig());
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  std::vector<std::string> names;
  for (const TensorInfo& t : (*src)->List()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"l.bias", "l.weight", "norm.weight"}));
  auto info = (*src)->Info("l.weight");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->shape, (std::vector<int64_t>{8, 16}));
  auto w = (*src)->Read("l.weight");
  ASSERT_TRUE(w.ok());
  // Word 0x12345678: nibble k = 8 - k goes to column {0,2,4,6,1,3,5,7}[k]; zeros 1 then 2.
  const float code_of_column[8] = {8, 4, 7, 3, 6, 2, 5, 1};
  std::vector<float> d = Floats(*w);
  for (int o = 0; o < 8; ++o) {
    EXPECT_EQ(d[o * 16 + 0], 0.25f * (code_of_column[o] - 1)) << o;
    EXPECT_EQ(d[o * 16 + 15], 0.25f * (code_of_column[o] - 2)) << o;
  }
  EXPECT_TRUE((*src)->Read("l.bias").ok());
}

TEST(PrequantSourceTest, WrapRejectsBrokenCheckpoints) {
  {
    auto s = AwqLinear();
    s->Remove("l.scales");
    auto src = PrequantizedSource::Wrap(std::move(s), AwqConfig());
    ASSERT_FALSE(src.ok());
    EXPECT_THAT(src.status().message(), HasSubstr("tensor l.scales is missing"));
  }
  {
    auto s = AwqLinear();
    s->Add("l.qweight", TensorDType::kI32, {24, 1}, std::vector<int32_t>(24));
    auto src = PrequantizedSource::Wrap(std::move(s), AwqConfig());
    ASSERT_FALSE(src.ok());
    EXPECT_THAT(src.status().message(), HasSubstr("l.scales: expected shape [3, 8]"));
  }
  {
    auto s = AwqLinear();
    s->Add("l.weight", TensorDType::kF32, {8, 16}, std::vector<float>(128));
    auto src = PrequantizedSource::Wrap(std::move(s), AwqConfig());
    ASSERT_FALSE(src.ok());
    EXPECT_THAT(src.status().message(), HasSubstr("l.weight and l.qweight both exist"));
  }
  {
    auto s = AwqLinear();
    s->Remove("l.qweight");
    auto src = PrequantizedSource::Wrap(std::move(s), AwqConfig());
    ASSERT_FALSE(src.ok());
    EXPECT_THAT(src.status().message(), HasSubstr("no tensor is named '<layer>.qweight'"));
  }
}

TEST(PrequantSourceTest, OpenRejectsUnsupportedSchemeBeforeReadingWeights) {
  MemoryFileSystem fs;
  fs.SetFile("m/config.json",
             R"({"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true}})");
  auto src = OpenCheckpointDequantized(&fs, "m");
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(src.status().message(), HasSubstr("'bitsandbytes'"));
}

}  // namespace
}  // namespace anec::io
