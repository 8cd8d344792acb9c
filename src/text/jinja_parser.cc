#include "text/jinja_parser.h"

#include <cstdlib>
#include <set>

#include "text/jinja_lexer.h"

namespace anec::text::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Result<Template> Run() {
    Template t;
    std::string end;
    ANEC_ASSIGN_OR_RETURN(t.body, ParseBody({}, &end));
    return t;
  }

 private:
  using ExprResult = Result<ExprPtr>;

  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& Next() { return toks_[std::min(pos_++, toks_.size() - 1)]; }
  bool IsOp(const char* op, size_t ahead = 0) const {
    return Peek(ahead).type == TokenType::kOperator && Peek(ahead).value == op;
  }
  bool IsName(const char* name, size_t ahead = 0) const {
    return Peek(ahead).type == TokenType::kName && Peek(ahead).value == name;
  }
  bool SkipOp(const char* op) {
    if (!IsOp(op)) return false;
    ++pos_;
    return true;
  }
  bool SkipName(const char* name) {
    if (!IsName(name)) return false;
    ++pos_;
    return true;
  }
  Status Error(std::string_view what) const {
    const Token& t = Peek();
    std::string found = t.type == TokenType::kEnd        ? "end of template"
                        : t.type == TokenType::kBlockEnd ? "'%}'"
                        : t.type == TokenType::kVarEnd   ? "'}}'"
                                                         : "'" + t.value + "'";
    return InvalidArgument("chat template line {}: expected {}, found {}", t.line, what, found);
  }
  Status Expect(TokenType type, const char* what) {
    if (Peek().type != type) return Error(what);
    ++pos_;
    return Status::Ok();
  }
  Status ExpectOp(const char* op) {
    if (!SkipOp(op)) return Error(std::string("'") + op + "'");
    return Status::Ok();
  }
  Result<std::string> ExpectName() {
    if (Peek().type != TokenType::kName) return Error("a name");
    return Next().value;
  }
  ExprPtr Make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // Parses nodes until {% <one of end_tags> ...; consumes "{%" and the tag name.
  Result<NodeList> ParseBody(const std::set<std::string>& end_tags, std::string* which) {
    NodeList out;
    while (true) {
      const Token& t = Peek();
      if (t.type == TokenType::kEnd) {
        if (end_tags.empty()) return out;
        return Error("'{% " + *end_tags.rbegin() + " %}'");
      }
      if (t.type == TokenType::kText) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kText;
        n->text = Next().value;
        out.push_back(std::move(n));
      } else if (t.type == TokenType::kVarBegin) {
        ++pos_;
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kOutput;
        n->line = t.line;
        ANEC_ASSIGN_OR_RETURN(n->expr, ParseExpression(true));
        ANEC_RETURN_IF_ERROR(Expect(TokenType::kVarEnd, "'}}'"));
        out.push_back(std::move(n));
      } else if (t.type == TokenType::kBlockBegin) {
        if (Peek(1).type == TokenType::kName && end_tags.count(Peek(1).value)) {
          pos_ += 2;
          *which = toks_[pos_ - 1].value;
          return out;
        }
        ++pos_;
        ANEC_ASSIGN_OR_RETURN(auto n, ParseStatement());
        out.push_back(std::move(n));
      } else {
        return Error("text or a tag");
      }
    }
  }

  Result<std::unique_ptr<Node>> ParseStatement() {
    DepthGuard guard(&depth_);
    if (depth_ > kMaxDepth) return Error("less deeply nested blocks");
    int line = Peek().line;
    ANEC_ASSIGN_OR_RETURN(std::string kw, ExpectName());
    auto n = std::make_unique<Node>();
    n->line = line;
    std::string end;
    if (kw == "if") {
      n->kind = Node::Kind::kIf;
      std::string tag = "if";
      while (tag == "if" || tag == "elif") {
        ANEC_ASSIGN_OR_RETURN(ExprPtr cond, ParseExpression(true));
        ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'%}'"));
        ANEC_ASSIGN_OR_RETURN(NodeList body, ParseBody({"elif", "else", "endif"}, &tag));
        n->branches.emplace_back(std::move(cond), std::move(body));
      }
      if (tag == "else") {
        ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'%}'"));
        ANEC_ASSIGN_OR_RETURN(n->else_body, ParseBody({"endif"}, &tag));
      }
    } else if (kw == "for") {
      n->kind = Node::Kind::kFor;
      do {
        ANEC_ASSIGN_OR_RETURN(std::string target, ExpectName());
        n->targets.push_back(target);
      } while (SkipOp(","));
      if (!SkipName("in")) return Error("'in'");
      ANEC_ASSIGN_OR_RETURN(n->expr, ParseTuple(false));
      if (SkipName("if")) {
        ANEC_ASSIGN_OR_RETURN(n->filter, ParseExpression(true));
      }
      SkipName("recursive");
      ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'%}'"));
      ANEC_ASSIGN_OR_RETURN(n->body, ParseBody({"else", "endfor"}, &end));
      if (end == "else") {
        ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'%}'"));
        ANEC_ASSIGN_OR_RETURN(n->else_body, ParseBody({"endfor"}, &end));
      }
    } else if (kw == "set") {
      n->kind = Node::Kind::kSet;
      ANEC_ASSIGN_OR_RETURN(std::string target, ExpectName());
      n->targets.push_back(target);
      if (SkipOp(".")) {
        ANEC_ASSIGN_OR_RETURN(std::string attr, ExpectName());
        n->targets.push_back(attr);
      }
      if (SkipOp("=")) {
        ANEC_ASSIGN_OR_RETURN(n->expr, ParseTuple(true));
      } else {
        ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'=' or '%}'"));
        ANEC_ASSIGN_OR_RETURN(n->body, ParseBody({"endset"}, &end));
      }
    } else if (kw == "macro") {
      n->kind = Node::Kind::kMacro;
      ANEC_ASSIGN_OR_RETURN(n->text, ExpectName());
      ANEC_RETURN_IF_ERROR(ExpectOp("("));
      while (!SkipOp(")")) {
        if (!n->params.empty()) ANEC_RETURN_IF_ERROR(ExpectOp(","));
        ANEC_ASSIGN_OR_RETURN(std::string param, ExpectName());
        ExprPtr def;
        if (SkipOp("=")) {
          ANEC_ASSIGN_OR_RETURN(def, ParseExpression(true));
        }
        n->params.emplace_back(param, std::move(def));
      }
      ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'%}'"));
      ANEC_ASSIGN_OR_RETURN(n->body, ParseBody({"endmacro"}, &end));
    } else if (kw == "break" || kw == "continue") {
      n->kind = kw == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
    } else if (kw == "generation") {
      n->kind = Node::Kind::kBlock;
      ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'%}'"));
      ANEC_ASSIGN_OR_RETURN(n->body, ParseBody({"endgeneration"}, &end));
    } else {
      return Unsupported(
          "chat template line {}: statement '{{% {} %}}' is not supported by anec's "
          "Jinja subset",
          line, kw);
    }
    // The closing tag of the statement (or of its end tag).
    ANEC_RETURN_IF_ERROR(Expect(TokenType::kBlockEnd, "'%}'"));
    return n;
  }

  // Comma-separated expressions; more than one makes a tuple.
  ExprResult ParseTuple(bool with_condexpr) {
    int line = Peek().line;
    ANEC_ASSIGN_OR_RETURN(ExprPtr first, ParseExpression(with_condexpr));
    if (!IsOp(",")) return first;
    ExprPtr t = Make(Expr::Kind::kTuple, line);
    t->children.push_back(std::move(first));
    while (SkipOp(",")) {
      if (Peek().type == TokenType::kBlockEnd) break;
      ANEC_ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(with_condexpr));
      t->children.push_back(std::move(e));
    }
    return t;
  }

  // Bounds recursion on hostile templates (the evaluator recurses as deep as the tree).
  struct DepthGuard {
    explicit DepthGuard(int* d) : depth(d) { ++*depth; }
    ~DepthGuard() { --*depth; }
    int* depth;
  };
  static constexpr int kMaxDepth = 256;
  // Operator chains build trees iteratively; a budget keeps their total size (and so the
  // recursion of evaluation and destruction) bounded.
  static constexpr int kMaxChainSteps = 10000;
  Status CountChainStep() {
    if (++chain_steps_ > kMaxChainSteps) return Error("a shorter template (too many operators)");
    return Status::Ok();
  }

  ExprResult ParseExpression(bool with_condexpr) {
    DepthGuard guard(&depth_);
    if (depth_ > kMaxDepth) return Error("less deeply nested expressions");
    int line = Peek().line;
    ANEC_ASSIGN_OR_RETURN(ExprPtr e, ParseOr());
    while (with_condexpr && SkipName("if")) {
      ExprPtr c = Make(Expr::Kind::kCond, line);
      ANEC_ASSIGN_OR_RETURN(ExprPtr cond, ParseOr());
      ExprPtr other;
      if (SkipName("else")) {
        ANEC_ASSIGN_OR_RETURN(other, ParseExpression(true));
      }
      c->children.push_back(std::move(e));
      c->children.push_back(std::move(cond));
      c->children.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr Binary(std::string op, ExprPtr a, ExprPtr b, int line) {
    ExprPtr e = Make(Expr::Kind::kBinary, line);
    e->name = std::move(op);
    e->children.push_back(std::move(a));
    e->children.push_back(std::move(b));
    return e;
  }

  ExprResult ParseOr() {
    ANEC_ASSIGN_OR_RETURN(ExprPtr e, ParseAnd());
    while (IsName("or")) {
      ANEC_RETURN_IF_ERROR(CountChainStep());
      int line = Next().line;
      ANEC_ASSIGN_OR_RETURN(ExprPtr r, ParseAnd());
      e = Binary("or", std::move(e), std::move(r), line);
    }
    return e;
  }

  ExprResult ParseAnd() {
    ANEC_ASSIGN_OR_RETURN(ExprPtr e, ParseNot());
    while (IsName("and")) {
      ANEC_RETURN_IF_ERROR(CountChainStep());
      int line = Next().line;
      ANEC_ASSIGN_OR_RETURN(ExprPtr r, ParseNot());
      e = Binary("and", std::move(e), std::move(r), line);
    }
    return e;
  }

  ExprResult ParseNot() {
    if (IsName("not")) {
      DepthGuard guard(&depth_);
      if (depth_ > kMaxDepth) return Error("fewer nested 'not'");
      ExprPtr e = Make(Expr::Kind::kUnary, Next().line);
      e->name = "not";
      ANEC_ASSIGN_OR_RETURN(ExprPtr inner, ParseNot());
      e->children.push_back(std::move(inner));
      return e;
    }
    return ParseCompare();
  }

  ExprResult ParseCompare() {
    ANEC_ASSIGN_OR_RETURN(ExprPtr e, ParseMath1());
    while (true) {
      std::string op;
      int line = Peek().line;
      for (const char* o : {"==", "!=", "<", "<=", ">", ">="}) {
        if (IsOp(o)) op = o;
      }
      if (!op.empty()) {
        ++pos_;
      } else if (IsName("in")) {
        ++pos_;
        op = "in";
      } else if (IsName("not") && IsName("in", 1)) {
        pos_ += 2;
        op = "not in";
      } else {
        return e;
      }
      ANEC_RETURN_IF_ERROR(CountChainStep());
      ANEC_ASSIGN_OR_RETURN(ExprPtr r, ParseMath1());
      e = Binary(op, std::move(e), std::move(r), line);
    }
  }

  template <typename Sub>
  ExprResult ParseLeftAssoc(std::initializer_list<const char*> ops, Sub sub) {
    ANEC_ASSIGN_OR_RETURN(ExprPtr e, (this->*sub)());
    while (true) {
      const char* found = nullptr;
      for (const char* o : ops) {
        if (IsOp(o)) found = o;
      }
      if (!found) return e;
      ANEC_RETURN_IF_ERROR(CountChainStep());
      int line = Next().line;
      ANEC_ASSIGN_OR_RETURN(ExprPtr r, (this->*sub)());
      e = Binary(found, std::move(e), std::move(r), line);
    }
  }
  ExprResult ParseMath1() { return ParseLeftAssoc({"+", "-"}, &Parser::ParseConcat); }
  ExprResult ParseConcat() { return ParseLeftAssoc({"~"}, &Parser::ParseMath2); }
  ExprResult ParseMath2() { return ParseLeftAssoc({"*", "/", "//", "%"}, &Parser::ParsePow); }
  ExprResult ParsePow() { return ParseLeftAssoc({"**"}, &Parser::ParseUnaryWithFilter); }
  ExprResult ParseUnaryWithFilter() { return ParseUnary(true); }

  ExprResult ParseUnary(bool with_filter) {
    ExprPtr e;
    if (IsOp("-") || IsOp("+")) {
      DepthGuard guard(&depth_);
      if (depth_ > kMaxDepth) return Error("fewer nested signs");
      e = Make(Expr::Kind::kUnary, Peek().line);
      e->name = Next().value;
      ANEC_ASSIGN_OR_RETURN(ExprPtr inner, ParseUnary(false));
      e->children.push_back(std::move(inner));
    } else {
      ANEC_ASSIGN_OR_RETURN(e, ParsePrimary());
    }
    ANEC_ASSIGN_OR_RETURN(e, ParsePostfix(std::move(e)));
    if (with_filter) {
      ANEC_ASSIGN_OR_RETURN(e, ParseFilterExpr(std::move(e)));
    }
    return e;
  }

  ExprResult ParsePrimary() {
    const Token& t = Peek();
    int line = t.line;
    if (t.type == TokenType::kName) {
      ++pos_;
      ExprPtr e = Make(Expr::Kind::kLiteral, line);
      if (t.value == "true" || t.value == "True")
        e->literal = Value(true);
      else if (t.value == "false" || t.value == "False")
        e->literal = Value(false);
      else if (t.value == "none" || t.value == "None")
        e->literal = Value::None();
      else {
        e->kind = Expr::Kind::kName;
        e->name = t.value;
      }
      return e;
    }
    if (t.type == TokenType::kString) {
      std::string s;
      while (Peek().type == TokenType::kString) s += Next().value;
      ExprPtr e = Make(Expr::Kind::kLiteral, line);
      e->literal = Value(std::move(s));
      return e;
    }
    if (t.type == TokenType::kInt || t.type == TokenType::kFloat) {
      ++pos_;
      ExprPtr e = Make(Expr::Kind::kLiteral, line);
      e->literal = t.type == TokenType::kInt
                       ? Value(static_cast<int64_t>(std::strtoll(t.value.c_str(), nullptr, 10)))
                       : Value(std::strtod(t.value.c_str(), nullptr));
      return e;
    }
    if (SkipOp("(")) {
      if (SkipOp(")")) return Make(Expr::Kind::kTuple, line);
      ANEC_ASSIGN_OR_RETURN(ExprPtr e, ParseTuple(true));
      ANEC_RETURN_IF_ERROR(ExpectOp(")"));
      return e;
    }
    if (SkipOp("[")) {
      ExprPtr e = Make(Expr::Kind::kList, line);
      while (!SkipOp("]")) {
        if (!e->children.empty()) ANEC_RETURN_IF_ERROR(ExpectOp(","));
        if (SkipOp("]")) break;
        ANEC_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(true));
        e->children.push_back(std::move(item));
      }
      return e;
    }
    if (SkipOp("{")) {
      ExprPtr e = Make(Expr::Kind::kDict, line);
      while (!SkipOp("}")) {
        if (!e->children.empty()) ANEC_RETURN_IF_ERROR(ExpectOp(","));
        if (SkipOp("}")) break;
        ANEC_ASSIGN_OR_RETURN(ExprPtr key, ParseExpression(true));
        ANEC_RETURN_IF_ERROR(ExpectOp(":"));
        ANEC_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
        e->children.push_back(std::move(key));
        e->children.push_back(std::move(value));
      }
      return e;
    }
    return Error("an expression");
  }

  Status ParseCallArgs(Expr* call) {
    // REQUIRES: "(" already consumed.
    bool first = true;
    while (!SkipOp(")")) {
      if (!first) ANEC_RETURN_IF_ERROR(ExpectOp(","));
      first = false;
      if (SkipOp(")")) break;
      if (Peek().type == TokenType::kName && IsOp("=", 1)) {
        std::string key = Next().value;
        ++pos_;
        ANEC_ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
        call->kwargs.emplace_back(key, std::move(v));
      } else {
        ANEC_ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
        call->children.push_back(std::move(v));
      }
    }
    return Status::Ok();
  }

  ExprResult ParsePostfix(ExprPtr e) {
    while (true) {
      int line = Peek().line;
      if (IsOp(".") || IsOp("[") || IsOp("(")) ANEC_RETURN_IF_ERROR(CountChainStep());
      if (SkipOp(".")) {
        ExprPtr a = Make(Expr::Kind::kAttr, line);
        if (Peek().type == TokenType::kInt) {
          a->kind = Expr::Kind::kIndex;
          ExprPtr idx = Make(Expr::Kind::kLiteral, line);
          idx->literal =
              Value(static_cast<int64_t>(std::strtoll(Next().value.c_str(), nullptr, 10)));
          a->children.push_back(std::move(e));
          a->children.push_back(std::move(idx));
        } else {
          ANEC_ASSIGN_OR_RETURN(a->name, ExpectName());
          a->children.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (SkipOp("[")) {
        ExprPtr parts[3];
        int colons = 0;
        while (!IsOp("]")) {
          if (SkipOp(":")) {
            if (++colons > 2) return Error("']'");
            continue;
          }
          if (parts[colons]) return Error("':' or ']'");
          ANEC_ASSIGN_OR_RETURN(parts[colons], ParseExpression(true));
        }
        ++pos_;
        ExprPtr s = Make(colons ? Expr::Kind::kSlice : Expr::Kind::kIndex, line);
        s->children.push_back(std::move(e));
        if (!colons && !parts[0]) return Error("an index");
        for (int i = 0; i < (colons ? 3 : 1); ++i) s->children.push_back(std::move(parts[i]));
        e = std::move(s);
      } else if (SkipOp("(")) {
        ExprPtr c = Make(Expr::Kind::kCall, line);
        c->children.push_back(std::move(e));
        ANEC_RETURN_IF_ERROR(ParseCallArgs(c.get()));
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprResult ParseFilterExpr(ExprPtr e) {
    while (true) {
      int line = Peek().line;
      if (IsOp("|") || IsName("is") || IsOp("(")) ANEC_RETURN_IF_ERROR(CountChainStep());
      if (SkipOp("|")) {
        ExprPtr f = Make(Expr::Kind::kFilter, line);
        ANEC_ASSIGN_OR_RETURN(f->name, ExpectName());
        f->children.push_back(std::move(e));
        if (SkipOp("(")) ANEC_RETURN_IF_ERROR(ParseCallArgs(f.get()));
        e = std::move(f);
      } else if (SkipName("is")) {
        ExprPtr t = Make(Expr::Kind::kTest, line);
        t->negate = SkipName("not");
        ANEC_ASSIGN_OR_RETURN(t->name, ExpectName());
        t->children.push_back(std::move(e));
        const Token& n = Peek();
        if (SkipOp("(")) {
          ANEC_RETURN_IF_ERROR(ParseCallArgs(t.get()));
        } else if ((n.type == TokenType::kName || n.type == TokenType::kString ||
                    n.type == TokenType::kInt || n.type == TokenType::kFloat || IsOp("[") ||
                    IsOp("{")) &&
                   !IsName("else") && !IsName("or") && !IsName("and")) {
          ANEC_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
          ANEC_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
          t->children.push_back(std::move(arg));
        }
        e = std::move(t);
      } else if (SkipOp("(")) {
        ExprPtr c = Make(Expr::Kind::kCall, line);
        c->children.push_back(std::move(e));
        ANEC_RETURN_IF_ERROR(ParseCallArgs(c.get()));
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int chain_steps_ = 0;
};

}  // namespace

Result<Template> Parse(std::string_view source) {
  ANEC_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(source));
  return Parser(std::move(tokens)).Run();
}

}  // namespace anec::text::jinja
