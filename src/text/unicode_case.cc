#include "text/unicode_case.h"

#include <cctype>

#ifdef ANEC_HAVE_ICU
#include <unicode/locid.h>
#include <unicode/unistr.h>
#endif

namespace anec::text {
namespace {

[[maybe_unused]] std::string AsciiMap(std::string_view s, int (*f)(int)) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(f(static_cast<unsigned char>(c)));
  return out;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

}  // namespace

std::string ToUpperUnicode(std::string_view utf8) {
  if (IsAscii(utf8)) return AsciiMap(utf8, ::toupper);
#ifdef ANEC_HAVE_ICU
  std::string out;
  icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())))
      .toUpper(icu::Locale::getRoot())
      .toUTF8String(out);
  return out;
#else
  return AsciiMap(utf8, ::toupper);
#endif
}

std::string ToLowerUnicode(std::string_view utf8) {
  if (IsAscii(utf8)) return AsciiMap(utf8, ::tolower);
#ifdef ANEC_HAVE_ICU
  std::string out;
  icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())))
      .toLower(icu::Locale::getRoot())
      .toUTF8String(out);
  return out;
#else
  return AsciiMap(utf8, ::tolower);
#endif
}

}  // namespace anec::text
