// Unit tests on small hand-written tokenizer.json files (what each component does and how bad
// input is reported); the id-for-id parity with the library is in tokenizer_parity_test.cc.
#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include "text/stream_decoder.h"

namespace anec::text {
namespace {

// Byte-level BPE: vocab of the letters of "hello" plus merges written as "a b" strings.
constexpr char kTinyByteLevel[] = R"({
  "added_tokens": [{"id": 9, "content": "<|eot|>", "special": true},
                   {"id": 10, "content": "<tool>", "special": false, "normalized": false}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": {"type": "TemplateProcessing",
     "single": [{"SpecialToken": {"id": "<|eot|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
     "special_tokens": {"<|eot|>": {"id": "<|eot|>", "ids": [9], "tokens": ["<|eot|>"]}}},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "he": 4, "ll": 5, "hell": 6,
                                     "hello": 7, "\u0120": 8},
            "merges": ["h e", "l l", "he ll", "hell o"]}
})";

TEST(TokenizerTest, MergesByRankAndHandlesAddedTokens) {
  Result<Tokenizer> tok = Tokenizer::FromJson(kTinyByteLevel);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->Encode("hello", false), (std::vector<int32_t>{7}));
  EXPECT_EQ(tok->Encode("hell", false), (std::vector<int32_t>{6}));
  EXPECT_EQ(tok->Encode("oleh", false), (std::vector<int32_t>{3, 2, 1, 0}));
  // " hello" is one pre-token 'Ġhello' whose 'Ġ' has no merge with 'h'.
  EXPECT_EQ(tok->Encode(" hello", false), (std::vector<int32_t>{8, 7}));
  EXPECT_EQ(tok->Encode("he<|eot|>ll<tool>", true), (std::vector<int32_t>{9, 4, 9, 5, 10}));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{9, 4, 9, 5, 10}, false), "<|eot|>he<|eot|>ll<tool>");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{9, 4, 9, 5, 10}, true), "hell<tool>");
  EXPECT_EQ(tok->vocab_size(), 11u);
  EXPECT_TRUE(tok->IsSpecial(9));
  EXPECT_FALSE(tok->IsSpecial(10));
  EXPECT_EQ(tok->TokenToId("<tool>"), 10);
  EXPECT_EQ(tok->IdToToken(8), "\xC4\xA0");
  EXPECT_EQ(tok->IdToToken(999), "");
}

TEST(TokenizerTest, ConfigSetsBosEosAndTemplate) {
  Result<Tokenizer> tok = Tokenizer::FromJson(kTinyByteLevel);
  ASSERT_TRUE(tok.ok());
  Result<TokenizerConfig> cfg = TokenizerConfig::FromJson(
      R"({"bos_token": {"content": "<|eot|>"}, "eos_token": "<tool>", "chat_template": "{{ x }}"})");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_TRUE(tok->ApplyConfig(*cfg).ok());
  EXPECT_EQ(tok->bos_id(), 9);
  EXPECT_EQ(tok->eos_id(), 10);
  EXPECT_EQ(tok->chat_template(), "{{ x }}");
  Result<TokenizerConfig> bad = TokenizerConfig::FromJson(R"({"eos_token": "<missing>"})");
  ASSERT_TRUE(bad.ok());
  Status s = tok->ApplyConfig(*bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("<missing>"), std::string::npos);
}

TEST(TokenizerTest, StreamDecoderHoldsBackPartialCharacters) {
  // Byte-level tokens for the three bytes of '日' (E6 97 A5) as separate ids.
  Result<Tokenizer> tok = Tokenizer::FromJson(R"({
    "pre_tokenizer": {"type": "ByteLevel", "use_regex": false}, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "\u00e6": 1, "\u0139": 2, "\u00a5": 3}, "merges": []}})");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->Encode("a\xE6\x97\xA5", false), (std::vector<int32_t>{0, 1, 2, 3}));
  StreamDecoder stream(&*tok, false);
  EXPECT_EQ(stream.Put(0), "a");
  EXPECT_EQ(stream.Put(1), "");
  EXPECT_EQ(stream.Put(2), "");
  EXPECT_EQ(stream.Put(3), "\xE6\x97\xA5");
  EXPECT_EQ(stream.Put(1), "");
  EXPECT_EQ(stream.Flush(), "\xEF\xBF\xBD");  // an unfinished character ends as U+FFFD
}

// Sequence normalizers, pre-tokenizers, decoders and post-processors are built
// recursively, so a tokenizer.json nesting thousands of them overflowed the stack.
TEST(TokenizerTest, DeeplyNestedComponentsAreAnError) {
  for (const auto& [field, list] :
       {std::pair<std::string, std::string>{"normalizer", "normalizers"},
        {"pre_tokenizer", "pretokenizers"},
        {"decoder", "decoders"},
        {"post_processor", "processors"}}) {
    std::string nested;
    for (int i = 0; i < 20000; ++i) nested += R"({"type": "Sequence", ")" + list + R"(": [)";
    for (int i = 0; i < 20000; ++i) nested += "]}";
    Result<Tokenizer> t = Tokenizer::FromJson(R"({"model": {"type": "BPE", "vocab": {"a": 0}, )"
                                              R"("merges": []}, ")" +
                                              field + "\": " + nested + "}");
    ASSERT_FALSE(t.ok()) << field;
    EXPECT_NE(t.status().message().find("more than 64 levels deep"), std::string::npos)
        << t.status().ToString();
  }
}

// Found by fuzzing (tests/fuzz/regressions/tokenizer/stream_never_completes): bytes that never
// form a character were held back forever, and each new token decoded the whole growing window.
TEST(TokenizerTest, StreamDecoderHoldsBackBoundedly) {
  Result<Tokenizer> tok = Tokenizer::FromJson(R"({
    "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "byte_fallback": true, "vocab": {"<0x80>": 0, "a": 1},
              "merges": []}})");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  StreamDecoder stream(&*tok, false);
  std::string out;
  std::vector<int32_t> ids(5000, 0);  // lone continuation bytes: U+FFFD each, never complete
  for (size_t i = 0; i < ids.size(); ++i) {
    out += stream.Put(ids[i]);
    if (i == 40) {
      EXPECT_FALSE(out.empty()) << "more than 32 tokens held back";
    }
  }
  out += stream.Flush();
  EXPECT_EQ(out, tok->Decode(ids, false));
  // Characters that complete within the bound are still held back and emitted whole.
  EXPECT_EQ(stream.Put(1), "a");
}

TEST(TokenizerTest, ByteFallbackAndUnknown) {
  Result<Tokenizer> tok = Tokenizer::FromJson(R"({
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "decoder": {"type": "Sequence", "decoders": [
       {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
       {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
              "vocab": {"<unk>": 0, "<0xC3>": 1, "<0xA9>": 2, "\u2581": 3, "a": 4, "\u2581a": 5},
              "merges": [["\u2581", "a"]]}})");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  // 'é' (C3 A9) falls back to bytes; 'z' and 'q' have no byte tokens: one fused <unk>.
  EXPECT_EQ(tok->Encode("a\xC3\xA9zq", false), (std::vector<int32_t>{5, 1, 2, 0}));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{5, 1, 2}, false), "a\xC3\xA9");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{5, 1}, false), "a\xEF\xBF\xBD");
  StreamDecoder stream(&*tok, false);
  EXPECT_EQ(stream.Put(5), "a");
  EXPECT_EQ(stream.Put(1), "");
  EXPECT_EQ(stream.Put(2), "\xC3\xA9");
}

TEST(TokenizerTest, ErrorsNameTheProblem) {
  auto message = [](const char* json) {
    Result<Tokenizer> t = Tokenizer::FromJson(json);
    return t.ok() ? std::string("ok") : t.status().ToString();
  };
  EXPECT_NE(message("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message(R"({"model": {"type": "WordPiece", "vocab": {}}})").find("WordPiece"),
            std::string::npos);
  EXPECT_NE(message(R"({"normalizer": {"type": "NFKD"}, "model": {"vocab": {}}})").find("NFKD"),
            std::string::npos);
  EXPECT_NE(message(R"({"pre_tokenizer": {"type": "Whitespace"}, "model": {"vocab": {}}})")
                .find("Whitespace"),
            std::string::npos);
  EXPECT_NE(message(R"({"model": {"vocab": {"a": 0}, "merges": ["a b"]}})").find("merges[0]"),
            std::string::npos);
  EXPECT_NE(message(R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("},
                        "behavior": "Isolated"}, "model": {"vocab": {}}})")
                .find("does not compile"),
            std::string::npos);
  EXPECT_EQ(message(R"({"model": {"vocab": {"a": 0}, "merges": []}})"), "ok");
}

}  // namespace
}  // namespace anec::text
