// Added tokens of tokenizer.json ("added_tokens"): strings matched in the input before
// pre-tokenization and mapped straight to their ids.
//
// Matching is leftmost-longest, like the library's Aho-Corasick pass: at the leftmost position
// where some token matches, the longest token is taken. Tokens with normalized=false are matched
// in the raw input, tokens with normalized=true in the normalized text. lstrip / rstrip make a
// match swallow adjacent whitespace; single_word rejects matches touching word characters.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "text/json_util.h"

namespace anec::text {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

// `j` is the "added_tokens" array.
Result<std::vector<AddedToken>> AddedTokensFromJson(const Json& j);

struct Segment {
  std::string text;
  int32_t token_id = -1;  // id of the added token, or -1 for plain text
  size_t offset = 0;      // byte offset in the matched string
};

// Matches a fixed set of added tokens.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // Splits `text` into plain segments and token segments, in order; empty plain segments are
  // omitted.
  std::vector<Segment> Split(std::string_view text) const;
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<int>, 256> by_first_byte_;  // indices into tokens_, longest first
};

}  // namespace anec::text
