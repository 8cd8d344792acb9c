#include "text/added_vocabulary.h"

#include <algorithm>

#include "text/regex.h"
#include "text/utf8.h"

namespace anec::text {
namespace {

// The library decides with Rust regex's Unicode \w and \s, spelled out here as the Unicode
// properties they stand for (PCRE2's own \w leaves out combining marks), applied to the single
// character next to a match.
bool CharMatches(std::string_view ch, const char* pattern) {
  static const Regex* word =
      new Regex(*Regex::Compile(R"(^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]$)"));
  static const Regex* space = new Regex(*Regex::Compile(R"(^\p{White_Space}$)"));
  const Regex* re = pattern[1] == 'w' ? word : space;
  return !ch.empty() && !re->FindAll(ch).empty();
}

// The character ending at byte `end` / starting at byte `begin` of valid UTF-8 `text`.
std::string_view CharBefore(std::string_view text, size_t end) {
  size_t b = end;
  while (b > 0 && (static_cast<unsigned char>(text[b - 1]) & 0xC0) == 0x80) --b;
  if (b > 0) --b;
  return text.substr(b, end - b);
}
std::string_view CharAt(std::string_view text, size_t begin) {
  size_t n = begin < text.size() ? DecodeUtf8At(text, begin, nullptr) : 0;
  return text.substr(begin, n ? n : (begin < text.size() ? 1 : 0));
}

}  // namespace

Result<std::vector<AddedToken>> AddedTokensFromJson(const Json& j) {
  std::vector<AddedToken> tokens;
  if (j.is_null()) return tokens;
  if (!j.is_array()) return InvalidArgument("tokenizer.json added_tokens is not an array");
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& t = j[i];
    AddedToken a;
    a.id = static_cast<int32_t>(JsonInt(t, "id", -1));
    a.content = JsonString(t, "content");
    if (a.id < 0 || a.content.empty()) {
      return InvalidArgument("tokenizer.json added_tokens[{}] needs an id >= 0 and a content", i);
    }
    a.special = JsonBool(t, "special", false);
    a.lstrip = JsonBool(t, "lstrip", false);
    a.rstrip = JsonBool(t, "rstrip", false);
    a.normalized = JsonBool(t, "normalized", !a.special);
    a.single_word = JsonBool(t, "single_word", false);
    tokens.push_back(std::move(a));
  }
  return tokens;
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(
        static_cast<int>(i));
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

std::vector<Segment> AddedTokenMatcher::Split(std::string_view text) const {
  std::vector<Segment> out;
  size_t plain_start = 0;  // start of the pending plain text
  size_t pos = 0;
  auto flush_plain = [&](size_t end) {
    if (end > plain_start) {
      out.push_back({std::string(text.substr(plain_start, end - plain_start)), -1, plain_start});
    }
  };
  while (pos < text.size()) {
    const AddedToken* found = nullptr;
    for (int idx : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& t = tokens_[idx];
      if (text.compare(pos, t.content.size(), t.content) == 0) {
        found = &t;
        break;
      }
    }
    if (!found) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + found->content.size();
    if (found->single_word) {
      bool touches =
          CharMatches(CharBefore(text, start), "\\w") || CharMatches(CharAt(text, stop), "\\w");
      if (touches) {
        pos = stop;
        continue;
      }
    }
    if (found->lstrip) {
      while (start > plain_start && CharMatches(CharBefore(text, start), "\\s")) {
        start -= CharBefore(text, start).size();
      }
    }
    if (found->rstrip) {
      while (stop < text.size() && CharMatches(CharAt(text, stop), "\\s")) {
        stop += CharAt(text, stop).size();
      }
    }
    flush_plain(start);
    out.push_back({std::string(text.substr(start, stop - start)), found->id, start});
    pos = plain_start = stop;
  }
  flush_plain(text.size());
  return out;
}

}  // namespace anec::text
