// Evaluator of the Jinja2 subset: renders a parsed Template against a dict of variables.
//
// Scoping follows jinja2: a for-loop body has its own scope (so `set` inside a loop does not
// leak; templates use namespace() for that), if-blocks do not, macros see only their arguments
// and the template's top-level variables. `loop` provides index, index0, revindex, revindex0,
// first, last, length, previtem, nextitem. break/continue work as in jinja2's loopcontrols.
#pragma once

#include <string>

#include "base/status.h"
#include "text/jinja_ast.h"
#include "text/jinja_value.h"

namespace anec::text::jinja {

// `globals` are visible to the whole template (builtins are added underneath them).
// REQUIRES: `tmpl` outlives nothing returned (macros are not returned).
Result<std::string> Render(const Template& tmpl, const Dict& globals);

}  // namespace anec::text::jinja
