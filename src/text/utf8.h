// UTF-8 helpers shared by the tokenizers and the chat-template renderer.
//
// Invalid input is never an error here: functions that must produce text replace each maximal
// invalid subpart with U+FFFD, the same policy as Rust's String::from_utf8_lossy (which the
// Hugging Face `tokenizers` decoders use), so our decoded strings match theirs byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace anec::text {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Appends the UTF-8 encoding of `cp`. REQUIRES: cp <= 0x10FFFF and not a surrogate.
void AppendUtf8(uint32_t cp, std::string* out);

// Length in bytes of the valid UTF-8 sequence starting at s[pos], or 0 if invalid or truncated.
// On success stores the code point in *cp (if non-null).
size_t DecodeUtf8At(std::string_view s, size_t pos, uint32_t* cp);

// Length of the maximal invalid subpart at s[pos] (>= 1): the bytes that form the longest prefix
// of some valid sequence, or 1. REQUIRES: DecodeUtf8At(s, pos) == 0 and pos < s.size().
size_t InvalidSubpartLength(std::string_view s, size_t pos);

// Valid UTF-8, each maximal invalid subpart replaced by U+FFFD.
std::string ToValidUtf8(std::string_view s);
bool IsValidUtf8(std::string_view s);

// Number of leading bytes of `s` that end on a code point boundary, treating a truncated but
// so-far-valid multi-byte sequence at the very end as incomplete (it is excluded). Used by
// streaming decoders to hold back partial characters.
size_t CompleteUtf8PrefixLength(std::string_view s);

// Number of code points (invalid bytes count one each).
size_t CountCodePoints(std::string_view s);

}  // namespace anec::text
