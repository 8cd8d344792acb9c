#include "text/pre_tokenizer.h"

#include <utility>

#include "text/byte_level.h"
#include "text/regex.h"

namespace anec::text {

const char kGpt2SplitPattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct Span {
  size_t begin, end;
  bool is_match;
};

// Matches and the gaps between them, in order, as the library's Split sees them.
std::vector<Span> MatchesAndGaps(std::string_view text,
                                 const std::vector<std::pair<size_t, size_t>>& matches) {
  std::vector<Span> spans;
  size_t last = 0;
  for (auto [b, e] : matches) {
    if (b > last) spans.push_back({last, b, false});
    spans.push_back({b, e, true});
    last = e;
  }
  if (last < text.size()) spans.push_back({last, text.size(), false});
  return spans;
}

std::vector<Span> ApplyBehavior(std::vector<Span> spans, SplitBehavior behavior) {
  std::vector<Span> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return spans;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) {
        if (!s.is_match) out.push_back(s);
      }
      return out;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      return out;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        previous_match = it->is_match;
      }
      return std::vector<Span>(out.rbegin(), out.rend());
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.is_match && previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      return out;
  }
  return spans;
}

void SplitPieces(std::vector<PreToken>* pieces, const Regex* regex, const std::string& literal,
                 SplitBehavior behavior) {
  std::vector<PreToken> out;
  for (PreToken& p : *pieces) {
    std::vector<std::pair<size_t, size_t>> matches;
    if (regex) {
      matches = regex->FindAll(p.text);
    } else if (!literal.empty()) {
      for (size_t pos = p.text.find(literal); pos != std::string::npos;
           pos = p.text.find(literal, pos + literal.size())) {
        matches.emplace_back(pos, pos + literal.size());
      }
    }
    for (const Span& s : ApplyBehavior(MatchesAndGaps(p.text, matches), behavior)) {
      if (s.end > s.begin) {
        out.push_back({p.text.substr(s.begin, s.end - s.begin), p.at_text_start && s.begin == 0});
      }
    }
  }
  *pieces = std::move(out);
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::optional<Regex> regex, std::string literal, SplitBehavior behavior)
      : regex_(std::move(regex)), literal_(std::move(literal)), behavior_(behavior) {}
  void Apply(std::vector<PreToken>* pieces) const override {
    SplitPieces(pieces, regex_ ? &*regex_ : nullptr, literal_, behavior_);
  }

 private:
  std::optional<Regex> regex_;
  std::string literal_;
  SplitBehavior behavior_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::optional<Regex> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}
  void Apply(std::vector<PreToken>* pieces) const override {
    if (add_prefix_space_) {
      for (PreToken& p : *pieces) {
        // A char inserted at an iterator: GCC 12 -O3 warns falsely (-Wrestrict) on the
        // insert(pos, const char*) overload here.
        if (p.text.empty() || p.text[0] != ' ') p.text.insert(p.text.begin(), ' ');
      }
    }
    if (regex_) SplitPieces(pieces, &*regex_, "", SplitBehavior::kIsolated);
    for (PreToken& p : *pieces) p.text = ByteLevelEncode(p.text);
  }

 private:
  bool add_prefix_space_;
  std::optional<Regex> regex_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void Apply(std::vector<PreToken>* pieces) const override {
    for (PreToken& p : *pieces) {
      std::string s;
      for (char c : p.text) {
        if (c == ' ') {
          s += replacement_;
        } else {
          s.push_back(c);
        }
      }
      bool prepend =
          prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && p.at_text_start);
      if (prepend && s.compare(0, replacement_.size(), replacement_) != 0)
        s.insert(0, replacement_);
      p.text = std::move(s);
    }
    if (split_) SplitPieces(pieces, nullptr, replacement_, SplitBehavior::kMergedWithNext);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void Apply(std::vector<PreToken>* pieces) const override {
    for (const auto& p : parts_) p->Apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

Result<SplitBehavior> ParseBehavior(const std::string& name) {
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return Unsupported("tokenizer.json pre_tokenizer Split behavior '{}' is not supported", name);
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const Json& j) {
  if (j.is_null()) return std::unique_ptr<PreTokenizer>();
  std::string type = JsonString(j, "type");
  if (type == "Split") {
    if (JsonBool(j, "invert", false)) {
      return Unsupported("tokenizer.json pre_tokenizer Split with invert=true is not supported");
    }
    ANEC_ASSIGN_OR_RETURN(SplitBehavior behavior, ParseBehavior(JsonString(j, "behavior")));
    const Json* pattern = JsonMember(j, "pattern");
    if (pattern && JsonMember(*pattern, "Regex")) {
      ANEC_ASSIGN_OR_RETURN(Regex re, Regex::Compile(JsonString(*pattern, "Regex")));
      return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(std::move(re), "", behavior));
    }
    if (pattern && JsonMember(*pattern, "String")) {
      return std::unique_ptr<PreTokenizer>(
          new SplitPreTokenizer(std::nullopt, JsonString(*pattern, "String"), behavior));
    }
    return InvalidArgument("tokenizer.json pre_tokenizer Split has no pattern.Regex/String");
  }
  if (type == "ByteLevel") {
    std::optional<Regex> regex;
    if (JsonBool(j, "use_regex", true)) {
      ANEC_ASSIGN_OR_RETURN(regex, Regex::Compile(kGpt2SplitPattern));
    }
    return std::unique_ptr<PreTokenizer>(
        new ByteLevelPreTokenizer(JsonBool(j, "add_prefix_space", false), std::move(regex)));
  }
  if (type == "Metaspace") {
    std::string scheme = JsonString(j, "prepend_scheme", "");
    auto prepend = MetaspacePreTokenizer::Prepend::kAlways;
    if (scheme.empty()) {
      if (!JsonBool(j, "add_prefix_space", true)) prepend = MetaspacePreTokenizer::Prepend::kNever;
    } else if (scheme == "first") {
      prepend = MetaspacePreTokenizer::Prepend::kFirst;
    } else if (scheme == "never") {
      prepend = MetaspacePreTokenizer::Prepend::kNever;
    } else if (scheme != "always") {
      return Unsupported("tokenizer.json pre_tokenizer Metaspace prepend_scheme '{}' is unknown",
                         scheme);
    }
    return std::unique_ptr<PreTokenizer>(new MetaspacePreTokenizer(
        JsonString(j, "replacement", "\xE2\x96\x81"), prepend, JsonBool(j, "split", true)));
  }
  if (type == "Sequence") {
    const Json* list = JsonMember(j, "pretokenizers");
    if (!list || !list->is_array()) {
      return InvalidArgument("tokenizer.json pre_tokenizer Sequence has no 'pretokenizers' array");
    }
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const Json& item : *list) {
      ANEC_ASSIGN_OR_RETURN(auto p, PreTokenizerFromJson(item));
      if (p) parts.push_back(std::move(p));
    }
    return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(parts)));
  }
  return Unsupported(
      "tokenizer.json pre_tokenizer type '{}' is not supported (supported: Split, ByteLevel, "
      "Metaspace, Sequence); please report the model",
      type);
}

}  // namespace anec::text
