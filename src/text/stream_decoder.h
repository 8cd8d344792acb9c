// StreamDecoder: turns ids arriving one at a time (generation) into text pieces whose
// concatenation equals Tokenizer::Decode of all ids, emitting only complete characters: a token
// that ends inside a multi-byte UTF-8 character (byte-level BPE) or a run of <0xXX> byte-fallback
// tokens that does not yet form a character is held back until the character completes.
//
// Works by decoding a short window (the previously emitted tokens as context, plus the pending
// ones) and emitting the growth, so context-dependent decoders (Metaspace's leading-space strip)
// behave as in a full decode. At most 32 tokens are held back: past that (bytes that never form
// a character, or a decoder whose output does not grow by extension) the pending tokens' own
// decoding is emitted, so the concatenation may then differ from the full decode. Not
// thread-safe; the Tokenizer must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace anec::text {

class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer* tokenizer, bool skip_special)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  // Returns the newly completed text (possibly empty).
  std::string Put(int32_t id);
  // Text still held back (incomplete characters become U+FFFD, as in a full decode).
  std::string Flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // context tokens followed by pending ones
  size_t context_ = 0;        // ids_[0, context_) were already emitted
  std::string context_text_;  // Decode(ids_[0, context_))
};

}  // namespace anec::text
