#include "text/utf8.h"

#include <gtest/gtest.h>

#include "text/byte_level.h"

namespace anec::text {
namespace {

TEST(Utf8Test, DecodesAndEncodes) {
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8At("\xE2\x96\x81x", 0, &cp), 3u);
  EXPECT_EQ(cp, 0x2581u);
  std::string s;
  AppendUtf8(0x1F600, &s);
  EXPECT_EQ(s, "\xF0\x9F\x98\x80");
  EXPECT_EQ(DecodeUtf8At("\xC0\x80", 0, &cp), 0u);      // overlong
  EXPECT_EQ(DecodeUtf8At("\xED\xA0\x80", 0, &cp), 0u);  // surrogate
  EXPECT_EQ(CountCodePoints("h\xC3\xA9llo \xF0\x9F\x98\x80"), 7u);
}

TEST(Utf8Test, LossyConversionMatchesRustMaximalSubparts) {
  // Truncated 3-byte sequence then ASCII: one U+FFFD for the two bytes.
  EXPECT_EQ(ToValidUtf8("a\xE6\x97z"), "a\xEF\xBF\xBDz");
  // Two stray continuation bytes: one U+FFFD each.
  EXPECT_EQ(ToValidUtf8("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  // F0 followed by an invalid second byte: the lead alone is replaced.
  EXPECT_EQ(ToValidUtf8("\xF0\x41"),
            "\xEF\xBF\xBD"
            "A");
  EXPECT_TRUE(IsValidUtf8("\xE6\x97\xA5"));
  EXPECT_FALSE(IsValidUtf8("\xE6\x97"));
}

TEST(Utf8Test, CompletePrefixHoldsBackOnlyTrailingPartialCharacter) {
  EXPECT_EQ(CompleteUtf8PrefixLength("ab\xE6\x97"), 2u);
  EXPECT_EQ(CompleteUtf8PrefixLength("ab\xE6\x97\xA5"), 5u);
  EXPECT_EQ(CompleteUtf8PrefixLength("ab\xF0"), 2u);
  EXPECT_EQ(CompleteUtf8PrefixLength("ab\x80"), 3u);  // invalid, not partial: nothing to wait for
  EXPECT_EQ(CompleteUtf8PrefixLength(""), 0u);
}

TEST(ByteLevelTest, MapsEveryByteAndBack) {
  // Space and newline map to U+0120 'Ġ' and U+010A 'Ċ'; printable ASCII maps to itself.
  EXPECT_EQ(ByteLevelEncode(" a\n"),
            "\xC4\xA0"
            "a"
            "\xC4\x8A");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string encoded = ByteLevelEncode(all);
  EXPECT_EQ(CountCodePoints(encoded), 256u);
  std::string back;
  ASSERT_TRUE(ByteLevelDecodeToken(encoded, &back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(ByteLevelDecodeToken("\xE2\x96\x81", &back));  // '▁' is not in the alphabet
}

}  // namespace
}  // namespace anec::text
