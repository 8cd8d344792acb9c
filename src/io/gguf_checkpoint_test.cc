#include "io/gguf_checkpoint.h"

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "io/gguf_dequant.h"

namespace anec::io {
namespace {

std::string FixturePath(const std::string& name) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/gguf/" + name;
}

std::vector<float> Floats(const TensorData& t) {
  std::vector<float> v(t.data.size() / 4);
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

TEST(GgufCheckpointTest, TensorsComeBackInHuggingFaceNamesAndOrder) {
  auto ckpt = GgufCheckpoint::Open(RealFileSystem(), FixturePath("tiny_llama.gguf"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  auto expected = GgufFile::Open(RealFileSystem(), FixturePath("tiny_llama_expected.gguf"));
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ((*ckpt)->List().size(), expected->tensors().size());
  for (const GgufTensorInfo& e : expected->tensors()) {
    ASSERT_TRUE((*ckpt)->Has(e.name)) << e.name;
    auto got = (*ckpt)->Read(e.name);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->info.shape, e.shape()) << e.name;
    auto want = DequantizeTensor(*expected, e);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(Floats(*got), *want) << e.name;
  }
}

TEST(GgufCheckpointTest, SynthesizedConfig) {
  auto ckpt = GgufCheckpoint::Open(RealFileSystem(), FixturePath("tiny_llama.gguf"));
  ASSERT_TRUE(ckpt.ok());
  const nlohmann::json& c = (*ckpt)->hf_config();
  EXPECT_EQ(c["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(c["hidden_size"], 32);
  EXPECT_EQ(c["num_hidden_layers"], 2);
  EXPECT_EQ(c["num_attention_heads"], 4);
  EXPECT_EQ(c["num_key_value_heads"], 2);
  EXPECT_EQ(c["head_dim"], 8);
  EXPECT_EQ(c["intermediate_size"], 64);
  EXPECT_EQ(c["vocab_size"], 40);
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_DOUBLE_EQ(c["rms_norm_eps"].get<double>(), 1e-5);
  EXPECT_EQ(c["rope_theta"], 10000.0);
  EXPECT_EQ(c["bos_token_id"], 0);
  EXPECT_EQ(c["eos_token_id"], 1);
}

// A general.name that is not UTF-8 went into config.json's _name_or_path, and writing that
// config (`anec convert --model X.gguf`) threw from nlohmann::json and ended the process.
// tests/fuzz/regressions/gguf/name_not_utf8.gguf is a one-layer model named "fuzz\xFFllama".
TEST(GgufCheckpointTest, NameThatIsNotUtf8IsLeftOutOfTheConfig) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  auto ckpt = GgufCheckpoint::Open(RealFileSystem(), std::string(root ? root : ".") +
                                  "/tests/fuzz/regressions/gguf/name_not_utf8.gguf");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  EXPECT_FALSE((*ckpt)->hf_config().contains("_name_or_path"));
  EXPECT_EQ((*ckpt)->hf_config()["hidden_size"], 32);
  EXPECT_NE((*ckpt)->hf_config().dump(2).find("LlamaForCausalLM"), std::string::npos);
}

TEST(GgufCheckpointTest, RawBlocksKeepHuggingFaceRowOrder) {
  auto ckpt = GgufCheckpoint::Open(RealFileSystem(), FixturePath("tiny_llama.gguf"));
  ASSERT_TRUE(ckpt.ok());
  const std::string name = "model.layers.1.self_attn.k_proj.weight";
  auto raw = (*ckpt)->ReadRaw(name);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->type, GgmlType::kQ8_0);
  int64_t n = raw->shape[0] * raw->shape[1];
  std::vector<float> deq(static_cast<size_t>(n));
  DequantizeGgml(raw->type, raw->bytes, n, deq);
  auto dense = (*ckpt)->Read(name);
  ASSERT_TRUE(dense.ok());
  EXPECT_EQ(deq, Floats(*dense));
}

TEST(GgufCheckpointTest, UnpermuteIsTheInverseOfLlamaCppsPermutation) {
  // rows = 2 heads x 4: GGUF row h*4 + 2i + j holds HF row h*4 + 2j + i.
  std::vector<uint8_t> gguf_rows = {0, 2, 1, 3, 4, 6, 5, 7};
  EXPECT_EQ(UnpermuteRotaryRows(gguf_rows, 8, 2, 1), (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(GgufCheckpointTest, UnsupportedArchitectureIsNamed) {
  auto ckpt = GgufCheckpoint::Open(RealFileSystem(), FixturePath("all_types.gguf"));
  // all_types.gguf says "llama" but has no model metadata.
  ASSERT_FALSE(ckpt.ok());
  EXPECT_NE(ckpt.status().message().find("llama.block_count"), std::string::npos);
}

std::string ParityGguf(const std::string& c) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/parity/" + c + "/model.gguf";
}

// Llama 3.x files from llama.cpp's converter carry the llama3 rope rule as rope_freqs.weight
// (tools/make_gguf_parity_fixtures.py writes it the same way): the factors are read as stored
// and the synthesized config gets no rope_scaling of its own.
TEST(GgufCheckpointTest, RopeFrequencyFactorsAreRead) {
  auto ckpt = GgufCheckpoint::Open(RealFileSystem(), ParityGguf("llama3_tied"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  const std::vector<double>& f = (*ckpt)->rope_frequency_factors();
  ASSERT_EQ(f.size(), 8u);  // head_dim 16
  EXPECT_EQ(f[0], 1.0);     // highest frequency: unchanged
  EXPECT_EQ(f[7], 8.0);     // lowest: divided by rope_scaling.factor
  EXPECT_FALSE((*ckpt)->hf_config().contains("rope_scaling"));
  EXPECT_FALSE((*ckpt)->Has("rope_freqs.weight"));  // not a weight of any layer
  auto plain = GgufCheckpoint::Open(RealFileSystem(), ParityGguf("llama_untied"));
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE((*plain)->rope_frequency_factors().empty());
}

TEST(GgufCheckpointTest, MalformedRopeFrequencyFactorsAreRefused) {
  auto shape = GgufCheckpoint::Open(RealFileSystem(), FixturePath("rope_freqs_bad_shape.gguf"));
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(shape.status().message().find("rope_freqs_bad_shape.gguf"), std::string::npos);
  EXPECT_NE(shape.status().message().find("rope_freqs.weight has shape [3]"), std::string::npos)
      << shape.status().message();
  EXPECT_NE(shape.status().message().find("needs [4]"), std::string::npos);
  auto negative = GgufCheckpoint::Open(RealFileSystem(), FixturePath("rope_freqs_negative.gguf"));
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("rope_freqs.weight[2] is -4"), std::string::npos)
      << negative.status().message();
}

}  // namespace
}  // namespace anec::io
