// Non-throwing accessors over nlohmann::json for tokenizer.json / tokenizer_config.json.
// (The project builds without exceptions in its error model, so only checked accessors are used.)
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anec::text {

using Json = nlohmann::json;
// Keeps object keys in document order (chat messages and tool schemas are printed by templates in
// that order). Lookups are linear, so it is not used for tokenizer.json's large vocabularies.
using OrderedJson = nlohmann::ordered_json;

// Member `key` of object `j`, or nullptr if `j` is not an object or has no such member.
inline const Json* JsonMember(const Json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

inline std::string JsonString(const Json& j, std::string_view key, std::string fallback = "") {
  const Json* m = JsonMember(j, key);
  return m && m->is_string() ? m->get<std::string>() : fallback;
}

inline bool JsonBool(const Json& j, std::string_view key, bool fallback) {
  const Json* m = JsonMember(j, key);
  return m && m->is_boolean() ? m->get<bool>() : fallback;
}

inline int64_t JsonInt(const Json& j, std::string_view key, int64_t fallback) {
  const Json* m = JsonMember(j, key);
  return m && m->is_number_integer() ? m->get<int64_t>() : fallback;
}

// True when `j` nests arrays and objects more than `levels` deep. The recursion stops at
// `levels`, so this is safe on hostile input, unlike the recursive walks that follow a parse (the
// tokenizer's component builders, dump(), jinja::Value::FromJson), which a file of 100,000 '['
// would take past the end of the stack. nlohmann's parser and destructor do not recurse.
template <typename J>
bool NestsDeeperThan(const J& j, int levels) {
  if (!j.is_structured()) return false;
  if (levels == 0) return true;
  for (const J& e : j) {
    if (NestsDeeperThan(e, levels - 1)) return true;
  }
  return false;
}

// How deep the JSON files and values anec reads may nest: real tokenizer.json files and chat
// messages (tool schemas included) nest a dozen levels at most.
inline constexpr int kMaxJsonDepth = 64;

// Parses without exceptions; `what` names the file for the error message.
inline Result<Json> ParseJson(std::string_view text, std::string_view what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Corrupt("{} is not valid JSON; re-download or regenerate it", what);
  }
  return j;
}

inline Result<OrderedJson> ParseOrderedJson(std::string_view text, std::string_view what) {
  OrderedJson j = OrderedJson::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Corrupt("{} is not valid JSON; fix its syntax", what);
  }
  return j;
}

}  // namespace anec::text
