#include "io/gguf_tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace anec::io {
namespace {

std::string FixturePath(const std::string& name) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/gguf/" + name;
}

// GGUF bytes of a tokenizer-only file (no tensors), built by hand for the cases the committed
// fixtures do not cover.
class KvBuilder {
 public:
  KvBuilder& Str(const std::string& key, const std::string& v) {
    Key(key, 8);
    return PutStr(v);
  }
  KvBuilder& Bool(const std::string& key, bool v) {
    Key(key, 7);
    bytes_.push_back(v ? 1 : 0);
    return *this;
  }
  KvBuilder& U32(const std::string& key, uint32_t v) {
    Key(key, 4);
    return Put(v);
  }
  KvBuilder& Strings(const std::string& key, const std::vector<std::string>& v) {
    Key(key, 9).Put<uint32_t>(8).Put<uint64_t>(v.size());
    for (const auto& s : v) PutStr(s);
    return *this;
  }
  KvBuilder& Floats(const std::string& key, const std::vector<float>& v) {
    Key(key, 9).Put<uint32_t>(6).Put<uint64_t>(v.size());
    for (float x : v) Put(x);
    return *this;
  }
  KvBuilder& Ints(const std::string& key, const std::vector<int32_t>& v) {
    Key(key, 9).Put<uint32_t>(5).Put<uint64_t>(v.size());
    for (int32_t x : v) Put(x);
    return *this;
  }
  std::vector<uint8_t> Finish() const {
    KvBuilder head;
    head.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(0).Put<uint64_t>(count_);
    std::vector<uint8_t> out = head.bytes_;
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    while (out.size() % 32) out.push_back(0);
    return out;
  }

 private:
  template <typename T>
  KvBuilder& Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
    return *this;
  }
  KvBuilder& PutStr(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  KvBuilder& Key(const std::string& key, uint32_t type) {
    ++count_;
    return PutStr(key).Put(type);
  }
  std::vector<uint8_t> bytes_;
  uint64_t count_ = 0;
};

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
  EXPECT_EQ(tok["pre_tokenizer"]["pretokenizers"][0]["type"], "Split");
  EXPECT_EQ(tok["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"], "\\p{N}");
  EXPECT_EQ(tok["pre_tokenizer"]["pretokenizers"][0]["behavior"], "Isolated");
  EXPECT_EQ(tok["pre_tokenizer"]["pretokenizers"][1]["use_regex"], true);
  ASSERT_EQ(tok["added_tokens"].size(), 3u);  // the three control tokens
  EXPECT_EQ(tok["added_tokens"][1]["content"], "<|im_end|>");
  EXPECT_EQ(tok["added_tokens"][1]["special"], true);

  auto cfg = nlohmann::json::parse(files->tokenizer_config_json);
  EXPECT_EQ(cfg["bos_token"], "<|im_start|>");
  EXPECT_EQ(cfg["eos_token"], "<|im_end|>");
  EXPECT_EQ(cfg["unk_token"], "<unk>");
  EXPECT_NE(cfg["chat_template"].get<std::string>().find("add_generation_prompt"),
            std::string::npos);
  EXPECT_EQ(cfg["added_tokens_decoder"]["0"]["content"], "<|im_start|>");
}

TEST(GgufTokenizerTest, RebuildsSentencePieceBpeFiles) {
  auto f = GgufFile::Open(RealFileSystem(), FixturePath("tiny_spm.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto tok = nlohmann::json::parse(files->tokenizer_json);
  const auto& m = tok["model"];
  EXPECT_EQ(m["type"], "BPE");
  EXPECT_EQ(m["byte_fallback"], true);
  EXPECT_EQ(m["fuse_unk"], true);
  EXPECT_EQ(m["unk_token"], "<unk>");
  EXPECT_EQ(m["vocab"].size(), 350u);
  EXPECT_EQ(m["vocab"]["<0x0A>"], 13);
  EXPECT_EQ(m["vocab"]["\u2581the"], 262);
  // Best score first: "he" (score 0) and "▁t" (-1) are the first merges; "▁the" (-2) has two
  // splits, the longer left part first ("▁th"+"e" before "▁t"+"he").
  ASSERT_GE(m["merges"].size(), 4u);
  EXPECT_EQ(m["merges"][0], nlohmann::json::array({"h", "e"}));
  EXPECT_EQ(m["merges"][1], nlohmann::json::array({"\u2581", "t"}));
  EXPECT_EQ(m["merges"][2], nlohmann::json::array({"\u2581th", "e"}));
  EXPECT_EQ(m["merges"][3], nlohmann::json::array({"\u2581t", "he"}));
  // Byte tokens never merge: "<0x41>" has no split into two vocabulary tokens.
  for (const auto& merge : m["merges"]) {
    EXPECT_NE(merge[0].get<std::string>().rfind("<0x", 0), 0u) << merge.dump();
  }
  EXPECT_EQ(tok["normalizer"], nullptr);
  EXPECT_EQ(tok["pre_tokenizer"]["type"], "Metaspace");
  EXPECT_EQ(tok["pre_tokenizer"]["prepend_scheme"], "first");
  EXPECT_EQ(tok["pre_tokenizer"]["split"], false);
  const auto& dec = tok["decoder"]["decoders"];
  ASSERT_EQ(dec.size(), 4u);
  EXPECT_EQ(dec[0]["type"], "Replace");
  EXPECT_EQ(dec[1]["type"], "ByteFallback");
  EXPECT_EQ(dec[2]["type"], "Fuse");
  EXPECT_EQ(dec[3]["type"], "Strip");
  EXPECT_EQ(dec[3]["start"], 1);
  // BOS only: add_bos_token true, add_eos_token false.
  const auto& post = tok["post_processor"];
  EXPECT_EQ(post["type"], "TemplateProcessing");
  ASSERT_EQ(post["single"].size(), 2u);
  EXPECT_EQ(post["single"][0]["SpecialToken"]["id"], "<s>");
  EXPECT_EQ(post["special_tokens"]["<s>"]["ids"][0], 1);
  // <unk> (unknown), <s>, </s> (control) special; <|user|> (user-defined) not.
  ASSERT_EQ(tok["added_tokens"].size(), 4u);
  EXPECT_EQ(tok["added_tokens"][0]["content"], "<unk>");
  EXPECT_EQ(tok["added_tokens"][0]["special"], true);
  EXPECT_EQ(tok["added_tokens"][3]["content"], "<|user|>");
  EXPECT_EQ(tok["added_tokens"][3]["id"], 259);
  EXPECT_EQ(tok["added_tokens"][3]["special"], false);

  auto cfg = nlohmann::json::parse(files->tokenizer_config_json);
  EXPECT_EQ(cfg["add_bos_token"], true);
  EXPECT_EQ(cfg["add_eos_token"], false);
  EXPECT_EQ(cfg["bos_token"], "<s>");
  EXPECT_EQ(cfg["eos_token"], "</s>");
  EXPECT_EQ(cfg["unk_token"], "<unk>");
}

// Tokens of a small SentencePiece vocabulary whose merge order depends on character (not byte)
// lengths: "abc"+"d" (3 characters on the left) ranks before "éé"+"z" (2 characters, 4 bytes),
// though "ééz" comes first in the file and both have score -1.
const std::vector<std::string> kSpmTokens = {
    "<unk>", "<s>", "</s>", "\u00e9", "\u00e9\u00e9", "z",   "\u00e9\u00e9z",
    "a",     "b",   "c",    "d",      "abc",          "abcd"};
const std::vector<float> kSpmScores = {0, 0, 0, -100, 0, -101, -1, -102, -103, -104, -105, -50, -1};
const std::vector<int32_t> kSpmTypes = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

KvBuilder SpmKv() {
  KvBuilder b;
  b.Str("tokenizer.ggml.model", "llama")
      .Strings("tokenizer.ggml.tokens", kSpmTokens)
      .Ints("tokenizer.ggml.token_type", kSpmTypes)
      .U32("tokenizer.ggml.bos_token_id", 1)
      .U32("tokenizer.ggml.eos_token_id", 2)
      .U32("tokenizer.ggml.unknown_token_id", 0);
  return b;
}

TEST(GgufTokenizerTest, SentencePieceFlagsAndMergeOrder) {
  std::vector<uint8_t> bytes = SpmKv()
                                   .Floats("tokenizer.ggml.scores", kSpmScores)
                                   .Bool("tokenizer.ggml.add_space_prefix", false)
                                   .Bool("tokenizer.ggml.add_bos_token", false)
                                   .Bool("tokenizer.ggml.add_eos_token", true)
                                   .Finish();
  auto f = GgufFile::FromBytes(bytes, "spm.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto tok = nlohmann::json::parse(files->tokenizer_json);
  using J = nlohmann::json;
  EXPECT_EQ(tok["model"]["merges"],
            J::array({J::array({"\u00e9", "\u00e9"}), J::array({"abc", "d"}),
                      J::array({"\u00e9\u00e9", "z"})}));
  // No space prefix: nothing prepended, no leading space stripped when decoding.
  EXPECT_EQ(tok["pre_tokenizer"]["prepend_scheme"], "never");
  EXPECT_EQ(tok["decoder"]["decoders"].size(), 3u);
  // EOS appended, no BOS.
  const auto& single = tok["post_processor"]["single"];
  ASSERT_EQ(single.size(), 2u);
  EXPECT_EQ(single[0]["Sequence"]["id"], "A");
  EXPECT_EQ(single[1]["SpecialToken"]["id"], "</s>");
  auto cfg = nlohmann::json::parse(files->tokenizer_config_json);
  EXPECT_EQ(cfg["add_bos_token"], false);
  EXPECT_EQ(cfg["add_eos_token"], true);
}

TEST(GgufTokenizerTest, Phi3PrefixesWithANormalizerAndGemmaIsUnsupported) {
  std::vector<uint8_t> bytes = SpmKv()
                                   .Floats("tokenizer.ggml.scores", kSpmScores)
                                   .Str("general.architecture", "phi3")
                                   .Finish();
  auto f = GgufFile::FromBytes(bytes, "phi3.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto tok = nlohmann::json::parse(files->tokenizer_json);
  EXPECT_EQ(tok["pre_tokenizer"], nullptr);
  const auto& steps = tok["normalizer"]["normalizers"];
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0]["type"], "Prepend");
  EXPECT_EQ(steps[1]["type"], "Replace");
  EXPECT_EQ(steps[1]["content"], "\u2581");

  bytes = SpmKv()
              .Floats("tokenizer.ggml.scores", kSpmScores)
              .Str("general.architecture", "gemma2")
              .Finish();
  auto g = GgufFile::FromBytes(bytes, "gemma2.gguf");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  files = BuildHfTokenizerFiles(*g);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("gemma2"), std::string::npos);
}

TEST(GgufTokenizerTest, ByteLevelTokensStoredRawAreRespelled) {
  // "x y" (a real space) and "é\n" are not in the byte alphabet: their vocabulary keys are the
  // byte-level spellings ("xĠy", "Ã©Ċ") and they are not added tokens, even when typed so.
  std::vector<uint8_t> bytes =
      KvBuilder()
          .Str("tokenizer.ggml.model", "gpt2")
          .Strings("tokenizer.ggml.tokens", {"<|end|>", "x", "y", "x y", "\u00e9\n", "<think>"})
          .Ints("tokenizer.ggml.token_type", {3, 1, 1, 4, 3, 4})
          .Strings("tokenizer.ggml.merges", {})
          .Finish();
  auto f = GgufFile::FromBytes(bytes, "raw.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto tok = nlohmann::json::parse(files->tokenizer_json);
  EXPECT_EQ(tok["model"]["vocab"]["x\u0120y"], 3);
  EXPECT_EQ(tok["model"]["vocab"]["\u00c3\u00a9\u010a"], 4);
  EXPECT_EQ(tok["model"]["vocab"].size(), 6u);
  ASSERT_EQ(tok["added_tokens"].size(), 2u);
  EXPECT_EQ(tok["added_tokens"][0]["content"], "<|end|>");
  EXPECT_EQ(tok["added_tokens"][1]["content"], "<think>");
  EXPECT_EQ(tok["added_tokens"][1]["special"], false);
}

TEST(GgufTokenizerTest, SentencePieceWithoutScoresIsAnError) {
  std::vector<uint8_t> bytes = SpmKv().Finish();
  auto f = GgufFile::FromBytes(bytes, "spm.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("tokenizer.ggml.scores"), std::string::npos);

  std::vector<float> short_scores(kSpmScores.begin(), kSpmScores.end() - 1);
  bytes = SpmKv().Floats("tokenizer.ggml.scores", short_scores).Finish();
  auto g = GgufFile::FromBytes(bytes, "spm.gguf");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  files = BuildHfTokenizerFiles(*g);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("12 entries but there are 13"), std::string::npos);
}

TEST(GgufTokenizerTest, UnknownTokenizerModelIsUnsupported) {
  std::vector<uint8_t> bytes = KvBuilder().Str("tokenizer.ggml.model", "t5").Finish();
  auto f = GgufFile::FromBytes(bytes, "t5.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("'t5'"), std::string::npos);
}

// Found by fuzzing (tests/fuzz/regressions/gguf/token_not_utf8): a token that is not UTF-8 made
// nlohmann::json throw while writing tokenizer.json, which ended the process.
TEST(GgufTokenizerTest, StringsThatAreNotUtf8AreErrorsNotCrashes) {
  auto expect_error = [](const std::vector<uint8_t>& bytes, const std::string& what) {
    auto f = GgufFile::FromBytes(bytes, "bad.gguf");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    auto files = BuildHfTokenizerFiles(*f);
    ASSERT_FALSE(files.ok()) << what;
    EXPECT_NE(files.status().message().find(what), std::string::npos) << files.status().ToString();
    EXPECT_NE(files.status().message().find("not valid UTF-8"), std::string::npos);
  };
  // A lead byte followed by a space passes a lax byte-level spelling check.
  expect_error(KvBuilder()
                   .Str("tokenizer.ggml.model", "gpt2")
                   .Strings("tokenizer.ggml.tokens", {"a", "b", "\xC4 "})
                   .Strings("tokenizer.ggml.merges", {"a b"})
                   .Finish(),
               "tokenizer.ggml.tokens[2]");
  expect_error(KvBuilder()
                   .Str("tokenizer.ggml.model", "gpt2")
                   .Strings("tokenizer.ggml.tokens", {"a", "b"})
                   .Strings("tokenizer.ggml.merges", {"a b", "\xED\xA0\x80 b"})  // a surrogate
                   .Finish(),
               "tokenizer.ggml.merges[1]");
  expect_error(KvBuilder()
                   .Str("tokenizer.ggml.model", "llama")
                   .Strings("tokenizer.ggml.tokens", {"<unk>", "\xFF"})
                   .Floats("tokenizer.ggml.scores", {0, 0})
                   .Finish(),
               "tokenizer.ggml.tokens[1]");
  expect_error(KvBuilder()
                   .Str("tokenizer.ggml.model", "gpt2")
                   .Strings("tokenizer.ggml.tokens", {"a"})
                   .Strings("tokenizer.ggml.merges", {})
                   .Str("tokenizer.chat_template", "{{ x }}\xC0\x80")  // overlong NUL
                   .Finish(),
               "tokenizer.chat_template");

  const char* root = std::getenv("ANEC_SOURCE_DIR");
  auto f = GgufFile::Open(RealFileSystem(), std::string(root ? root : ".") +
                                                "/tests/fuzz/regressions/gguf/token_not_utf8");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("not valid UTF-8"), std::string::npos);
}

// Deriving SentencePiece merges built and hashed both parts of every cut of
// every token, so one 200 KB token took minutes (quadratic). Parts whose length no token has are
// now skipped; the merges are the same.
TEST(GgufTokenizerTest, LongTokenDoesNotMakeMergeDerivationQuadratic) {
  const std::string long_token(200000, 'a');
  std::vector<uint8_t> bytes =
      KvBuilder()
          .Str("tokenizer.ggml.model", "llama")
          .Strings("tokenizer.ggml.tokens", {"<unk>", "a", "aa", long_token})
          .Floats("tokenizer.ggml.scores", {0, -1, -2, -3})
          .Finish();
  auto f = GgufFile::FromBytes(bytes, "long.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const auto start = std::chrono::steady_clock::now();
  auto files = BuildHfTokenizerFiles(*f);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  // A hang guard, not a speed measurement: the quadratic derivation needs minutes here.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  auto tok = nlohmann::json::parse(files->tokenizer_json);
  EXPECT_EQ(tok["model"]["merges"], nlohmann::json::parse(R"([["a", "a"]])"));
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
