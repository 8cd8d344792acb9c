// Syntax tree of the Jinja2 subset (built by jinja_parser, run by jinja_eval).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja_value.h"

namespace anec::text::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // literal
    kName,     // name
    kList,     // children
    kTuple,    // children (evaluates to a list)
    kDict,     // children: key0, value0, key1, value1...
    kAttr,     // children[0].name
    kIndex,    // children[0][children[1]]
    kSlice,    // children[0][a:b:c]; children[1..3] may be null
    kCall,     // children[0](children[1..], kwargs)
    kFilter,   // children[0] | name(children[1..], kwargs)
    kTest,     // children[0] is [not] name(children[1..]); negate
    kUnary,    // op children[0]: "not", "-", "+"
    kBinary,   // children[0] op children[1]
    kCond,     // children[0] if children[1] else children[2] (may be null)
  };
  Kind kind;
  int line = 0;
  std::string name;  // name / attribute / filter / test / operator
  Value literal;
  bool negate = false;
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;

  Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;
  // Iterative, so a long operator chain (a deep left-leaning tree) cannot overflow the stack.
  ~Expr() {
    std::vector<ExprPtr> pending;
    auto detach = [&pending](Expr& e) {
      for (ExprPtr& c : e.children) {
        if (c) pending.push_back(std::move(c));
      }
      for (auto& kv : e.kwargs) {
        if (kv.second) pending.push_back(std::move(kv.second));
      }
      e.children.clear();
      e.kwargs.clear();
    };
    detach(*this);
    while (!pending.empty()) {
      ExprPtr e = std::move(pending.back());
      pending.pop_back();
      detach(*e);
    }
  }
};

struct Node;
using NodeList = std::vector<std::unique_ptr<Node>>;

struct Node {
  enum class Kind {
    kText,    // text
    kOutput,  // {{ expr }}
    kIf,      // branches (cond, body); else_body
    kFor,     // targets in expr [if filter]: body; else_body
    kSet,     // target (or target.attr) = expr; or block form with body
    kMacro,   // name(params) body
    kBreak,
    kContinue,
    kBlock,  // body rendered in place ({% generation %})
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<std::pair<ExprPtr, NodeList>> branches;
  NodeList body;
  NodeList else_body;
  std::vector<std::string> targets;  // for-loop names; set: {name} or {name, attr}
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters with defaults
};

struct Template {
  NodeList body;
};

}  // namespace anec::text::jinja
