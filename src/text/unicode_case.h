// Unicode case mapping as Python's str.upper() / str.lower() do it (full mappings, no locale:
// "ß".upper() == "SS"). Uses ICU when built with it; otherwise only ASCII letters change.
#pragma once

#include <string>
#include <string_view>

namespace anec::text {

std::string ToUpperUnicode(std::string_view utf8);
std::string ToLowerUnicode(std::string_view utf8);

}  // namespace anec::text
