#include "text/stream_decoder.h"

#include <span>

#include "text/utf8.h"

namespace anec::text {
namespace {

// Tokens held back at most. A character is at most four byte tokens; more pending tokens that
// still do not decode to a clean extension of the emitted text will not start to (invalid bytes,
// or a decoder whose output for more tokens does not begin with its output for fewer), and
// decoding an ever longer window for each new token made a long generation quadratic (found by
// fuzzing: 2,755 such tokens took over ten seconds).
constexpr size_t kMaxPending = 32;

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string StreamDecoder::Put(int32_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_->Decode(ids_, skip_special_);
  const bool extends = text.size() > context_text_.size() &&
                       text.compare(0, context_text_.size(), context_text_) == 0;
  std::string fresh;
  if (extends && !EndsWith(text, kReplacementChar)) {
    fresh = text.substr(context_text_.size());
  } else if (ids_.size() - context_ > kMaxPending) {
    // Give up holding back: emit what the pending tokens decode to.
    fresh = extends ? text.substr(context_text_.size())
                    : tokenizer_->Decode(std::span<const int32_t>(ids_).subspan(context_),
                                         skip_special_);
  } else {
    // An incomplete character decodes to a trailing U+FFFD; wait for more tokens.
    return "";
  }
  // The emitted tokens become the context of the next piece.
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(context_));
  context_ = ids_.size();
  context_text_ = tokenizer_->Decode(ids_, skip_special_);
  return fresh;
}

std::string StreamDecoder::Flush() {
  std::string text = tokenizer_->Decode(ids_, skip_special_);
  std::string rest = text.size() > context_text_.size() &&
                             text.compare(0, context_text_.size(), context_text_) == 0
                         ? text.substr(context_text_.size())
                         : "";
  ids_.clear();
  context_ = 0;
  context_text_.clear();
  return rest;
}

}  // namespace anec::text
