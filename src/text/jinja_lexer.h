// Lexer of the Jinja2 subset: splits a template into text and tag tokens, applying whitespace
// control as transformers configures jinja2 (trim_blocks=True, lstrip_blocks=True) plus the
// explicit "-" (strip) and "+" (keep) markers. Comments are dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace anec::text::jinja {

enum class TokenType {
  kText,        // literal template text (value = the text)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // value = decoded string
  kInt,
  kFloat,
  kOperator,  // value = the operator, e.g. "==", "(", "|"
  kEnd,
};

struct Token {
  TokenType type;
  std::string value;
  int line;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Errors name the line and what was malformed (unterminated tag, string, unknown character).
Result<std::vector<Token>> Lex(std::string_view source, const LexOptions& options = {});

}  // namespace anec::text::jinja
