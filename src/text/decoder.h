// Decoders from tokenizer.json ("decoder" field): turn a list of token strings back into text.
// Each decoder maps a token list to a token list, as in the library, and the result is joined.
//
// Supported types: ByteLevel, Metaspace, Replace (String pattern), ByteFallback, Fuse, Strip,
// Sequence. Output is always valid UTF-8 (invalid bytes become U+FFFD as in the library).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "text/json_util.h"

namespace anec::text {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const = 0;
};

// `j` is the value of "decoder"; null yields nullptr (tokens are joined with spaces).
Result<std::unique_ptr<Decoder>> DecoderFromJson(const Json& j);

// Runs `decoder` (or the join-with-spaces fallback) and returns valid UTF-8.
std::string DecodeTokens(const Decoder* decoder, std::vector<std::string> tokens);

}  // namespace anec::text
