// A compiled PCRE2 pattern in UTF + Unicode-property mode (JIT-compiled when available), the
// stand-in for the Oniguruma regexes that Hugging Face `tokenizers` uses for Split patterns.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace anec::text {

class Regex {
 public:
  // Errors name the pattern and PCRE2's message with the offset.
  static Result<Regex> Compile(std::string_view pattern);

  // Non-overlapping matches, left to right, as [begin, end) byte offsets. An empty match
  // advances by one character. REQUIRES: `text` is valid UTF-8.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  std::string pattern_;
};

}  // namespace anec::text
