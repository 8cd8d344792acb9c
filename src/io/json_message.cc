#include "io/json_message.h"

#include <fmt/format.h>

namespace anec::io {
namespace {

constexpr int kMaxShownDepth = 32;

// The recursion stops after `levels`, so this is safe on any input.
bool NestsDeeperThan(const nlohmann::json& v, int levels) {
  if (!v.is_structured()) return false;
  if (levels == 0) return true;
  for (const nlohmann::json& e : v) {
    if (NestsDeeperThan(e, levels - 1)) return true;
  }
  return false;
}

}  // namespace

std::string JsonForMessage(const nlohmann::json& v, size_t max_chars) {
  std::string s =
      NestsDeeperThan(v, kMaxShownDepth)
          ? fmt::format("<{} nested more than {} levels deep>", v.type_name(), kMaxShownDepth)
          : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max_chars && max_chars > 3) s = s.substr(0, max_chars - 3) + "...";
  return s;
}

}  // namespace anec::io
