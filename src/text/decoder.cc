#include "text/decoder.h"

#include "text/byte_level.h"
#include "text/utf8.h"

namespace anec::text {
namespace {

std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  size_t last = 0;
  for (size_t pos = s.find(from); pos != std::string_view::npos; pos = s.find(from, last)) {
    out.append(s.substr(last, pos - last));
    out.append(to);
    last = pos + from.size();
  }
  out.append(s.substr(last));
  return out;
}

class ByteLevelDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      if (!ByteLevelDecodeToken(t, &bytes)) bytes += t;  // e.g. an added token outside the alphabet
    }
    return {ToValidUtf8(bytes)};
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (std::string& t : tokens) t = ReplaceAll(t, from_, to_);
    return tokens;
  }

 private:
  std::string from_, to_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (IsValidUtf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementChar);
      }
      pending.clear();
    };
    for (std::string& t : tokens) {
      int byte = ParseByteToken(t);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }

 private:
  static int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  static int ParseByteToken(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    int hi = HexDigit(t[3]), lo = HexDigit(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    return {all};
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, int start, int stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    if (content_.empty()) return tokens;
    for (std::string& t : tokens) {
      for (int i = 0; i < start_ && t.compare(0, content_.size(), content_) == 0; ++i) {
        t.erase(0, content_.size());
      }
      for (int i = 0; i < stop_ && t.size() >= content_.size() &&
                      t.compare(t.size() - content_.size(), content_.size(), content_) == 0;
           ++i) {
        t.erase(t.size() - content_.size());
      }
    }
    return tokens;
  }

 private:
  std::string content_;
  int start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      // As in the library, the first token loses every replacement character, not just a
      // leading one.
      tokens[i] = ReplaceAll(tokens[i], replacement_, i == 0 && strip_first_ ? "" : " ");
    }
    return tokens;
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (const auto& p : parts_) tokens = p->DecodeChain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

Result<std::unique_ptr<Decoder>> DecoderFromJson(const Json& j) {
  if (j.is_null()) return std::unique_ptr<Decoder>();
  std::string type = JsonString(j, "type");
  if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (type == "Replace") {
    const Json* pattern = JsonMember(j, "pattern");
    if (!pattern || !JsonMember(*pattern, "String")) {
      return Unsupported("tokenizer.json decoder Replace needs pattern.String (Regex unsupported)");
    }
    return std::unique_ptr<Decoder>(
        new ReplaceDecoder(JsonString(*pattern, "String"), JsonString(j, "content")));
  }
  if (type == "Strip") {
    return std::unique_ptr<Decoder>(new StripDecoder(JsonString(j, "content", " "),
                                                     static_cast<int>(JsonInt(j, "start", 0)),
                                                     static_cast<int>(JsonInt(j, "stop", 0))));
  }
  if (type == "Metaspace") {
    std::string scheme = JsonString(j, "prepend_scheme", "");
    bool strip = scheme.empty() ? JsonBool(j, "add_prefix_space", true) : scheme != "never";
    return std::unique_ptr<Decoder>(
        new MetaspaceDecoder(JsonString(j, "replacement", "\xE2\x96\x81"), strip));
  }
  if (type == "Sequence") {
    const Json* list = JsonMember(j, "decoders");
    if (!list || !list->is_array()) {
      return InvalidArgument("tokenizer.json decoder Sequence has no 'decoders' array");
    }
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const Json& item : *list) {
      ANEC_ASSIGN_OR_RETURN(auto p, DecoderFromJson(item));
      if (p) parts.push_back(std::move(p));
    }
    return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(parts)));
  }
  return Unsupported(
      "tokenizer.json decoder type '{}' is not supported (supported: ByteLevel, Metaspace, "
      "Replace, ByteFallback, Fuse, Strip, Sequence)",
      type);
}

std::string DecodeTokens(const Decoder* decoder, std::vector<std::string> tokens) {
  std::string out;
  if (!decoder) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return ToValidUtf8(out);
  }
  for (const std::string& t : decoder->DecodeChain(std::move(tokens))) out += t;
  return ToValidUtf8(out);
}

}  // namespace anec::text
