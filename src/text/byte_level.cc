#include "text/byte_level.h"

#include <array>
#include <cstdint>

#include "text/utf8.h"

namespace anec::text {
namespace {

struct Tables {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 512> code_point_to_byte;  // every mapped code point is < 0x144
};

bool MapsToItself(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

const Tables& GetTables() {
  static const Tables* tables = [] {
    auto* t = new Tables;
    t->code_point_to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      uint32_t cp = MapsToItself(b) ? static_cast<uint32_t>(b) : next++;
      AppendUtf8(cp, &t->byte_to_utf8[b]);
      t->code_point_to_byte[cp] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return *tables;
}

}  // namespace

std::string ByteLevelEncode(std::string_view bytes) {
  const Tables& t = GetTables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t.byte_to_utf8[b];
  return out;
}

bool ByteLevelDecodeToken(std::string_view token, std::string* out) {
  const Tables& t = GetTables();
  std::string bytes;
  bytes.reserve(token.size());
  for (size_t pos = 0; pos < token.size();) {
    uint32_t cp;
    size_t n = DecodeUtf8At(token, pos, &cp);
    if (n == 0 || cp >= t.code_point_to_byte.size() || t.code_point_to_byte[cp] < 0) return false;
    bytes.push_back(static_cast<char>(t.code_point_to_byte[cp]));
    pos += n;
  }
  out->append(bytes);
  return true;
}

}  // namespace anec::text
