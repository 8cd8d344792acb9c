// Helpers shared by the fuzz targets: the input size bound and a sink that makes every byte a
// reader hands out actually read (so AddressSanitizer sees a span that points past its buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace anec::fuzz {

// Inputs above this are rejected before any parsing; scripts/fuzz.sh passes the same bound as
// -max_len. Every seed is far below it, and a reader must not need more to reach its code.
inline constexpr size_t kMaxInputBytes = 256 * 1024;

// Where Consume() stores its result: volatile, so the reads cannot be optimized away.
inline volatile uint8_t consume_sink = 0;

// Reads every byte (folds them into consume_sink).
inline void Consume(std::span<const uint8_t> bytes) {
  uint8_t x = 0;
  for (uint8_t b : bytes) x ^= b;
  consume_sink = x;
}
inline void Consume(std::string_view s) {
  Consume(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

}  // namespace anec::fuzz
