// Parser of the Jinja2 subset: statements if/elif/else, for (with else, `if` filter, tuple
// targets), set (name, ns.attr, block form), macro, break/continue, generation blocks; the
// expression grammar with jinja2's precedence (conditional, or, and, not, comparisons,
// + -, ~, * / // %, **, unary, filters and tests, postfix . [] () ).
#pragma once

#include <string_view>

#include "base/status.h"
#include "text/jinja_ast.h"

namespace anec::text::jinja {

// Errors name the template line and the unexpected token.
Result<Template> Parse(std::string_view source);

}  // namespace anec::text::jinja
