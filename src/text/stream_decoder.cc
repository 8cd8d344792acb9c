#include "text/stream_decoder.h"

#include "text/utf8.h"

namespace anec::text {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string StreamDecoder::Put(int32_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_->Decode(ids_, skip_special_);
  // An incomplete character decodes to a trailing U+FFFD; wait for more tokens.
  if (text.size() <= context_text_.size() || EndsWith(text, kReplacementChar) ||
      text.compare(0, context_text_.size(), context_text_) != 0) {
    return "";
  }
  std::string fresh = text.substr(context_text_.size());
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
