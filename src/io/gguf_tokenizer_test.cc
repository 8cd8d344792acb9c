#include "io/gguf_tokenizer.h"

#include <cstdlib>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace anec::io {
namespace {

std::string FixturePath(const std::string& name) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/gguf/" + name;
}

TEST(GgufTokenizerTest, RebuildsByteLevelBpeFiles) {
  auto f = GgufFile::Open(RealFileSystem(), FixturePath("tiny_llama.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto tok = nlohmann::json::parse(files->tokenizer_json);
  EXPECT_EQ(tok["model"]["type"], "BPE");
  EXPECT_EQ(tok["model"]["vocab"].size(), 40u);
  EXPECT_EQ(tok["model"]["vocab"]["abcd"], 31);
  EXPECT_EQ(tok["model"]["merges"][2], "ab cd");
  // "smollm" splits digits one by one, then GPT-2's byte-level regex.
  EXPECT_EQ(tok["pre_tokenizer"]["type"], "Sequence");
  EXPECT_EQ(tok["pre_tokenizer"]["pretokenizers"][0]["type"], "Digits");
  EXPECT_EQ(tok["pre_tokenizer"]["pretokenizers"][1]["use_regex"], true);
  ASSERT_EQ(tok["added_tokens"].size(), 3u);  // the three control tokens
  EXPECT_EQ(tok["added_tokens"][1]["content"], "<|im_end|>");
  EXPECT_EQ(tok["added_tokens"][1]["special"], true);

  auto cfg = nlohmann::json::parse(files->tokenizer_config_json);
  EXPECT_EQ(cfg["bos_token"], "<|im_start|>");
  EXPECT_EQ(cfg["eos_token"], "<|im_end|>");
  EXPECT_EQ(cfg["unk_token"], "<unk>");
  EXPECT_NE(cfg["chat_template"].get<std::string>().find("add_generation_prompt"), std::string::npos);
  EXPECT_EQ(cfg["added_tokens_decoder"]["0"]["content"], "<|im_start|>");
}

TEST(GgufTokenizerTest, MissingVocabularyIsAnError) {
  auto f = GgufFile::Open(RealFileSystem(), FixturePath("all_types.gguf"));
  ASSERT_TRUE(f.ok());
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("tokenizer.ggml.model"), std::string::npos);
}

}  // namespace
}  // namespace anec::io
