// JsonForMessage: a JSON value from a user's file, as text fit for an error message.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace anec::io {

// `v` serialized, cut to `max_chars` characters ("..." at the end when cut). A value nested
// deeper than 32 levels is shown by its type only: nlohmann::json's dump() recurses once per
// level, and a hostile file (a config.json of 100,000 '[') would overflow the stack. Strings that
// are not UTF-8 are shown with U+FFFD instead of throwing.
std::string JsonForMessage(const nlohmann::json& v, size_t max_chars = 80);

}  // namespace anec::io
