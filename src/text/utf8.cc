#include "text/utf8.h"

namespace anec::text {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// Allowed range of the second byte for a given lead byte (Unicode Table 3-7); the later
// continuation bytes are always 0x80..0xBF. Returns the sequence length, 0 for a bad lead.
int LeadInfo(uint8_t lead, uint8_t* lo, uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;
  if (lead < 0xE0) return 2;
  if (lead == 0xE0) {
    *lo = 0xA0;
    return 3;
  }
  if (lead == 0xED) {
    *hi = 0x9F;
    return 3;
  }
  if (lead < 0xF0) return 3;
  if (lead == 0xF0) {
    *lo = 0x90;
    return 4;
  }
  if (lead < 0xF4) return 4;
  if (lead == 0xF4) {
    *hi = 0x8F;
    return 4;
  }
  return 0;
}

// Number of bytes at s[pos] that are a valid (possibly incomplete) prefix, and the full length.
size_t ValidPrefix(std::string_view s, size_t pos, int* full_len) {
  uint8_t lo, hi;
  int n = LeadInfo(static_cast<uint8_t>(s[pos]), &lo, &hi);
  *full_len = n;
  if (n == 0) return 0;
  size_t k = 1;
  for (; k < static_cast<size_t>(n) && pos + k < s.size(); ++k) {
    uint8_t b = static_cast<uint8_t>(s[pos + k]);
    uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  return k;
}

}  // namespace

size_t DecodeUtf8At(std::string_view s, size_t pos, uint32_t* cp) {
  if (pos >= s.size()) return 0;
  int n;
  size_t k = ValidPrefix(s, pos, &n);
  if (n == 0 || k != static_cast<size_t>(n)) return 0;
  if (cp) {
    uint8_t b0 = static_cast<uint8_t>(s[pos]);
    uint32_t v = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (int i = 1; i < n; ++i) v = (v << 6) | (static_cast<uint8_t>(s[pos + i]) & 0x3F);
    *cp = v;
  }
  return n;
}

size_t InvalidSubpartLength(std::string_view s, size_t pos) {
  int n;
  size_t k = ValidPrefix(s, pos, &n);
  return k == 0 ? 1 : k;
}

std::string ToValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    size_t n = DecodeUtf8At(s, pos, nullptr);
    if (n) {
      out.append(s.substr(pos, n));
      pos += n;
    } else {
      out.append(kReplacementChar);
      pos += InvalidSubpartLength(s, pos);
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    size_t n = DecodeUtf8At(s, pos, nullptr);
    if (!n) return false;
    pos += n;
  }
  return true;
}

size_t CompleteUtf8PrefixLength(std::string_view s) {
  // Only the last (up to 3) bytes can be an incomplete sequence.
  size_t start = s.size() >= 3 ? s.size() - 3 : 0;
  for (size_t pos = s.size(); pos > start;) {
    --pos;
    uint8_t b = static_cast<uint8_t>(s[pos]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    int n;
    size_t k = ValidPrefix(s, pos, &n);
    if (n > 1 && k == s.size() - pos && k < static_cast<size_t>(n)) return pos;
    break;
  }
  return s.size();
}

size_t CountCodePoints(std::string_view s) {
  size_t count = 0;
  for (size_t pos = 0; pos < s.size(); ++count) {
    size_t n = DecodeUtf8At(s, pos, nullptr);
    pos += n ? n : InvalidSubpartLength(s, pos);
  }
  return count;
}

}  // namespace anec::text
