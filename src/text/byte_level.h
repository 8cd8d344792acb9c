// GPT-2 style byte-level alphabet: every byte maps to one printable code point, so BPE over
// bytes can be written as BPE over (visible) characters in tokenizer.json.
//
// Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to the code point of the same value; the other
// 68 bytes map, in increasing byte order, to U+0100, U+0101, ...
#pragma once

#include <string>
#include <string_view>

namespace anec::text {

// Each byte of `bytes` replaced by the UTF-8 of its code point.
std::string ByteLevelEncode(std::string_view bytes);

// Reverse of ByteLevelEncode for one token. Returns false (and leaves *out untouched) if some
// character is outside the 256-character alphabet.
bool ByteLevelDecodeToken(std::string_view token, std::string* out);

}  // namespace anec::text
