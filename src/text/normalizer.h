// Normalizers from tokenizer.json ("normalizer" field): text rewrites applied to every piece of
// input that is not an added token that opted out of normalization (normalized=false).
//
// Supported types: NFC (needs ICU, see docs/TEXT.md), Prepend, Replace (String or Regex pattern),
// Sequence. Any other type is rejected at load time with its name.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "text/json_util.h"

namespace anec::text {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // REQUIRES: `text` is valid UTF-8. The result is valid UTF-8.
  virtual std::string Normalize(std::string_view text) const = 0;
};

// `j` is the value of "normalizer"; null yields nullptr (no normalization).
Result<std::unique_ptr<Normalizer>> NormalizerFromJson(const Json& j);

// Unicode NFC of valid UTF-8 text; ASCII is returned as is. Unsupported when built without ICU.
Result<std::string> NfcNormalize(std::string_view text);
bool NfcAvailable();

}  // namespace anec::text
