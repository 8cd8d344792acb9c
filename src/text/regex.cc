#include "text/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "text/utf8.h"

namespace anec::text {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() { pcre2_code_free(code); }
};

Result<Regex> Regex::Compile(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(error, buffer, sizeof(buffer));
    return InvalidArgument("regex '{}' does not compile at offset {}: {}; fix the pattern", pattern,
                           offset, reinterpret_cast<const char*>(buffer));
  }
  pcre2_jit_compile(code,
                    PCRE2_JIT_COMPLETE);  // optional speed-up; interpretive matching otherwise
  auto impl = std::make_shared<Impl>();
  impl->code = code;
  Regex re;
  re.impl_ = std::move(impl);
  re.pattern_ = std::string(pattern);
  return re;
}

std::vector<std::pair<size_t, size_t>> Regex::FindAll(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> spans;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  size_t start = 0;
  while (start <= text.size()) {
    int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                         PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0) break;  // no match (or a resource limit: treat the rest as unmatched)
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (e == b) {
      if (b >= text.size()) break;
      size_t n = DecodeUtf8At(text, b, nullptr);
      start = b + (n ? n : 1);
      continue;
    }
    spans.emplace_back(b, e);
    start = e;
  }
  pcre2_match_data_free(md);
  return spans;
}

}  // namespace anec::text
