// Parity with the Hugging Face `tokenizers` library: small tokenizers trained and saved by
// tools/make_text_fixtures.py in the styles of Llama 3, Qwen 2, SmolLM (GPT-2), Llama 2 and
// Mistral, with the library's ids and decodes for a fixed multilingual text set.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "base/file_system.h"
#include "text/json_util.h"
#include "text/normalizer.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"

namespace anec::text {
namespace {

std::string FixtureDir() {
  const char* src = std::getenv("ANEC_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/text";
}

class TokenizerParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerParityTest, IdsAndDecodesMatchLibrary) {
  const std::string family = GetParam();
  if (family == "qwen2" && !NfcAvailable()) {
    GTEST_SKIP() << "built without ICU: NFC tokenizers are refused (install libicu-dev)";
  }
  Result<Tokenizer> tok =
      Tokenizer::FromJsonFile(RealFileSystem(), FixtureDir() + "/tokenizers/" + family + ".json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  Result<std::string> expected_text =
      RealFileSystem()->ReadFile(FixtureDir() + "/tokenizer_expected.json");
  ASSERT_TRUE(expected_text.ok()) << expected_text.status().ToString();
  Result<Json> expected = ParseJson(*expected_text, "tokenizer_expected.json");
  ASSERT_TRUE(expected.ok());
  const Json& fam = (*expected)[family];
  EXPECT_EQ(tok->vocab_size(), fam["vocab_size"].get<size_t>());
  const Json& cases = fam["cases"];
  ASSERT_GT(cases.size(), 20u);
  for (const Json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    SCOPED_TRACE(family + " text: '" + text + "'");
    std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> got = tok->Encode(text, /*add_special_tokens=*/false);
    EXPECT_EQ(got, want);
    EXPECT_EQ(tok->Encode(text, true), c["ids_with_special"].get<std::vector<int32_t>>());
    EXPECT_EQ(tok->Decode(want, false), c["decoded"].get<std::string>());
    EXPECT_EQ(tok->Decode(want, true), c["decoded_skip_special"].get<std::string>());
    // Streaming one id at a time must give the same text.
    StreamDecoder stream(&*tok, /*skip_special=*/false);
    std::string streamed;
    for (int32_t id : want) {
      std::string piece = stream.Put(id);
      streamed += piece;
    }
    streamed += stream.Flush();
    EXPECT_EQ(streamed, c["decoded"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TokenizerParityTest,
                         ::testing::Values("llama3", "qwen2", "smollm", "llama2",
                                           "mistral_metaspace"));

// Byte-level BPE loses nothing: decode(encode(x)) == x for any text without NFC changes.
TEST(TokenizerParityTest, ByteLevelRoundTrips) {
  for (std::string family : {"llama3", "smollm"}) {
    Result<Tokenizer> tok =
        Tokenizer::FromJsonFile(RealFileSystem(), FixtureDir() + "/tokenizers/" + family + ".json");
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    for (std::string text :
         {"plain ascii", "  spaced\t\ttabs \n\n", "日本語とEnglish混在",
          "🚀 emoji 👨‍👩‍👧 family", "e\xCC\x81 combining", "x<|im_end|>y"}) {
      EXPECT_EQ(tok->Decode(tok->Encode(text, false), false), text) << family << ": " << text;
    }
  }
}

}  // namespace
}  // namespace anec::text
