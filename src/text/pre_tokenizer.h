// Pre-tokenizers from tokenizer.json ("pre_tokenizer" field): cut normalized text into words
// that the BPE model encodes independently (and caches).
//
// Supported types: Split (Regex or String pattern; behaviors Isolated, Removed,
// MergedWithPrevious, MergedWithNext, Contiguous; invert=false), ByteLevel (add_prefix_space,
// use_regex with the GPT-2 pattern), Metaspace (replacement, prepend_scheme, split), Sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "text/json_util.h"

namespace anec::text {

struct PreToken {
  std::string text;
  bool at_text_start = false;  // begins at offset 0 of the original input (Metaspace "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Rewrites and splits each piece in place; empty pieces are dropped.
  virtual void Apply(std::vector<PreToken>* pieces) const = 0;
};

// `j` is the value of "pre_tokenizer"; null yields nullptr (the whole piece is one word).
Result<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const Json& j);

// The split pattern that ByteLevel(use_regex=true) applies (GPT-2's).
extern const char kGpt2SplitPattern[];

}  // namespace anec::text
