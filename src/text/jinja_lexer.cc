#include "text/jinja_lexer.h"

#include <cctype>

#include "text/utf8.h"

namespace anec::text::jinja {
namespace {

bool IsWs(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  Lexer(std::string_view src, const LexOptions& o) : src_(src), opts_(o) {}

  Result<std::vector<Token>> Run() {
    size_t pos = 0;
    bool strip_next_text = false;
    while (pos <= src_.size()) {
      size_t p = FindTagStart(pos);
      std::string text(src_.substr(pos, (p == std::string_view::npos ? src_.size() : p) - pos));
      if (strip_next_text) {
        size_t k = 0;
        while (k < text.size() && IsWs(text[k])) ++k;
        text.erase(0, k);
      }
      if (p == std::string_view::npos) {
        Emit(TokenType::kText, std::move(text), pos);
        break;
      }
      char kind = src_[p + 1];
      char marker = p + 2 < src_.size() ? src_[p + 2] : '\0';
      if (marker == '-') {
        while (!text.empty() && IsWs(text.back())) text.pop_back();
      } else if ((kind == '%' || kind == '#') && opts_.lstrip_blocks && marker != '+') {
        size_t nl = text.rfind('\n');
        size_t line_pos = nl == std::string::npos ? 0 : nl + 1;
        bool at_line_start = nl != std::string::npos || pos == 0 || src_[pos - 1] == '\n';
        if (at_line_start && text.find_first_not_of(" \t", line_pos) == std::string::npos) {
          text.erase(line_pos);
        }
      }
      Emit(TokenType::kText, std::move(text), pos);
      size_t inner = p + 2 + ((marker == '-' || marker == '+') ? 1 : 0);
      bool strip_after = false, keep_after = false;
      if (kind == '#') {
        size_t end = src_.find("#}", inner);
        if (end == std::string_view::npos) {
          return InvalidArgument("chat template line {}: comment '{{#' is never closed with '#}}'",
                                 CountLines(src_, p));
        }
        strip_after = end > inner && src_[end - 1] == '-';
        keep_after = end > inner && src_[end - 1] == '+';
        pos = end + 2;
      } else {
        ANEC_RETURN_IF_ERROR(LexTag(kind, inner, &pos, &strip_after, &keep_after));
      }
      strip_next_text = strip_after;
      if (kind != '{' && !strip_after && !keep_after && opts_.trim_blocks) {
        if (pos < src_.size() && src_[pos] == '\n') {
          ++pos;
        } else if (pos + 1 < src_.size() && src_[pos] == '\r' && src_[pos + 1] == '\n') {
          pos += 2;
        }
      }
    }
    tokens_.push_back({TokenType::kEnd, "", CountLines(src_, src_.size())});
    return std::move(tokens_);
  }

 private:
  size_t FindTagStart(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string_view::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) {
        return p;
      }
    }
    return std::string_view::npos;
  }

  void Emit(TokenType t, std::string v, size_t at) {
    if (t == TokenType::kText && v.empty()) return;
    tokens_.push_back({t, std::move(v), CountLines(src_, at)});
  }

  // Lexes the inside of {{ }} or {% %} starting at `pos`; leaves *next after the closing tag.
  Status LexTag(char kind, size_t pos, size_t* next, bool* strip_after, bool* keep_after) {
    const size_t tag_start = pos;
    Emit(kind == '{' ? TokenType::kVarBegin : TokenType::kBlockBegin, "", pos);
    const char close = kind == '{' ? '}' : '%';
    int depth = 0;
    while (true) {
      while (pos < src_.size() && IsWs(src_[pos])) ++pos;
      if (pos >= src_.size()) {
        return InvalidArgument("chat template line {}: tag is never closed",
                               CountLines(src_, tag_start));
      }
      char c = src_[pos];
      if (depth == 0) {
        bool marked = (c == '-' || c == '+') && pos + 2 < src_.size() && src_[pos + 1] == close &&
                      src_[pos + 2] == '}';
        if (marked || (c == close && pos + 1 < src_.size() && src_[pos + 1] == '}')) {
          *strip_after = marked && c == '-';
          *keep_after = marked && c == '+';
          Emit(kind == '{' ? TokenType::kVarEnd : TokenType::kBlockEnd, "", pos);
          *next = pos + (marked ? 3 : 2);
          return Status::Ok();
        }
      }
      if (c == '\'' || c == '"') {
        ANEC_RETURN_IF_ERROR(LexString(&pos));
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t b = pos;
        while (pos < src_.size() &&
               (std::isdigit(static_cast<unsigned char>(src_[pos])) || src_[pos] == '_'))
          ++pos;
        bool is_float = false;
        if (pos + 1 < src_.size() && src_[pos] == '.' &&
            std::isdigit(static_cast<unsigned char>(src_[pos + 1]))) {
          is_float = true;
          ++pos;
          while (pos < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos]))) ++pos;
        }
        std::string num;
        for (size_t i = b; i < pos; ++i) {
          if (src_[i] != '_') num += src_[i];
        }
        Emit(is_float ? TokenType::kFloat : TokenType::kInt, num, b);
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t b = pos;
        while (pos < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[pos])) || src_[pos] == '_'))
          ++pos;
        Emit(TokenType::kName, std::string(src_.substr(b, pos - b)), b);
      } else {
        static const char* kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* t : kTwo) {
          if (src_.compare(pos, 2, t) == 0) op = t;
        }
        if (op.empty()) {
          if (std::string_view("+-*/%~<>=()[]{}.,:|!").find(c) == std::string_view::npos) {
            return InvalidArgument("chat template line {}: unexpected character '{}' in a tag",
                                   CountLines(src_, pos), c);
          }
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        Emit(TokenType::kOperator, op, pos);
        pos += op.size();
      }
    }
  }

  Status LexString(size_t* pos) {
    size_t b = *pos;
    char q = src_[b];
    std::string out;
    size_t i = b + 1;
    for (; i < src_.size() && src_[i] != q; ++i) {
      if (src_[i] != '\\' || i + 1 >= src_.size()) {
        out += src_[i];
        continue;
      }
      char e = src_[++i];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '0':
          out += '\0';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'u':
          if (i + 4 < src_.size()) {
            uint32_t cp = 0;
            bool ok = true;
            for (size_t k = i + 1; k <= i + 4; ++k) {
              char h = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[k])));
              int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : -1;
              ok = ok && d >= 0;
              cp = cp * 16 + static_cast<uint32_t>(d < 0 ? 0 : d);
            }
            if (ok && (cp < 0xD800 || cp > 0xDFFF)) {
              AppendUtf8(cp, &out);
              i += 4;
              break;
            }
          }
          [[fallthrough]];
        default:
          out += '\\';
          out += e;
      }
    }
    if (i >= src_.size()) {
      return InvalidArgument("chat template line {}: string literal is never closed",
                             CountLines(src_, b));
    }
    Emit(TokenType::kString, std::move(out), b);
    *pos = i + 1;
    return Status::Ok();
  }

  // 1-based line of byte `end`; positions mostly increase, so count incrementally.
  int CountLines(std::string_view s, size_t end) {
    if (end < line_pos_) {
      line_pos_ = 0;
      line_ = 1;
    }
    for (; line_pos_ < end && line_pos_ < s.size(); ++line_pos_) line_ += s[line_pos_] == '\n';
    return line_;
  }

  std::string_view src_;
  LexOptions opts_;
  size_t line_pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

Result<std::vector<Token>> Lex(std::string_view source, const LexOptions& options) {
  // jinja2's default keep_trailing_newline=False drops one newline at the end of the source.
  if (source.size() >= 2 && source.substr(source.size() - 2) == "\r\n") {
    source.remove_suffix(2);
  } else if (!source.empty() && source.back() == '\n') {
    source.remove_suffix(1);
  }
  return Lexer(source, options).Run();
}

}  // namespace anec::text::jinja
