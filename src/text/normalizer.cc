#include "text/normalizer.h"

#include <vector>

#include "text/regex.h"

#ifdef ANEC_HAVE_ICU
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#endif

namespace anec::text {
namespace {

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

class NfcNormalizer : public Normalizer {
 public:
  std::string Normalize(std::string_view text) const override {
    Result<std::string> r = NfcNormalize(text);
    return r.ok() ? std::move(r).value() : std::string(text);  // availability checked at load
  }
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Normalize(std::string_view text) const override {
    if (text.empty()) return "";  // the library leaves empty pieces empty
    return prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::string literal, std::optional<Regex> regex, std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}
  std::string Normalize(std::string_view text) const override {
    std::string out;
    size_t last = 0;
    if (regex_) {
      for (auto [b, e] : regex_->FindAll(text)) {
        out.append(text.substr(last, b - last));
        out += content_;
        last = e;
      }
    } else if (!literal_.empty()) {
      for (size_t pos = text.find(literal_); pos != std::string_view::npos;
           pos = text.find(literal_, last)) {
        out.append(text.substr(last, pos - last));
        out += content_;
        last = pos + literal_.size();
      }
    }
    out.append(text.substr(last));
    return out;
  }

 private:
  std::string literal_;
  std::optional<Regex> regex_;
  std::string content_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  std::string Normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& p : parts_) s = p->Normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

bool NfcAvailable() {
#ifdef ANEC_HAVE_ICU
  return true;
#else
  return false;
#endif
}

Result<std::string> NfcNormalize(std::string_view text) {
  if (IsAscii(text)) return std::string(text);
#ifdef ANEC_HAVE_ICU
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) return Internal("ICU NFC normalizer unavailable: {}", u_errorName(err));
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  nfc->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink,
                     nullptr, err);
  if (U_FAILURE(err)) return Internal("ICU NFC normalization failed: {}", u_errorName(err));
  return out;
#else
  return Unsupported("NFC normalization needs ICU; install libicu-dev and rebuild anec");
#endif
}

Result<std::unique_ptr<Normalizer>> NormalizerFromJson(const Json& j) {
  if (j.is_null()) return std::unique_ptr<Normalizer>();
  std::string type = JsonString(j, "type");
  if (type == "NFC") {
    if (!NfcAvailable()) {
      return Unsupported("tokenizer.json normalizer NFC needs ICU; install libicu-dev and rebuild");
    }
    return std::unique_ptr<Normalizer>(new NfcNormalizer());
  }
  if (type == "Prepend") {
    return std::unique_ptr<Normalizer>(new PrependNormalizer(JsonString(j, "prepend")));
  }
  if (type == "Replace") {
    const Json* pattern = JsonMember(j, "pattern");
    std::string content = JsonString(j, "content");
    if (pattern && JsonMember(*pattern, "String")) {
      return std::unique_ptr<Normalizer>(
          new ReplaceNormalizer(JsonString(*pattern, "String"), std::nullopt, content));
    }
    if (pattern && JsonMember(*pattern, "Regex")) {
      ANEC_ASSIGN_OR_RETURN(Regex re, Regex::Compile(JsonString(*pattern, "Regex")));
      return std::unique_ptr<Normalizer>(new ReplaceNormalizer("", std::move(re), content));
    }
    return InvalidArgument("tokenizer.json normalizer Replace has no pattern.String/Regex");
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    const Json* list = JsonMember(j, "normalizers");
    if (!list || !list->is_array()) {
      return InvalidArgument("tokenizer.json normalizer Sequence has no 'normalizers' array");
    }
    for (const Json& item : *list) {
      ANEC_ASSIGN_OR_RETURN(auto p, NormalizerFromJson(item));
      if (p) parts.push_back(std::move(p));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(parts)));
  }
  return Unsupported(
      "tokenizer.json normalizer type '{}' is not supported (supported: NFC, Prepend, Replace, "
      "Sequence); please report the model",
      type);
}

}  // namespace anec::text
