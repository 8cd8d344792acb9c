#include "text/jinja_eval.h"

#include <cmath>
#include <limits>
#include <unordered_map>

#include "text/jinja_builtins.h"

namespace anec::text::jinja {
namespace {

constexpr int kMaxDepth = 100;           // macro recursion guard
constexpr int kMaxEvalDepth = 500;       // nested expression evaluation, across macro calls
constexpr size_t kMaxOutput = 64 << 20;  // a runaway template must not eat the machine
// Work of one render, in steps: one per statement and expression evaluated, ten per loop
// iteration, one per list item or 64 string bytes an operation builds (and a filter reads). A
// real template over thousands of messages takes a small fraction; a hostile one (loops nested
// over range(10**5), a large list rebuilt in every iteration) ends with an error instead of
// running for hours. Two million steps are about a second under AddressSanitizer.
constexpr int64_t kMaxSteps = 2'000'000;
// Items of a list built by repetition (`[x] * n`, `[a] + [b]`), like range()'s limit.
constexpr size_t kMaxListItems = 1'000'000;
// Nesting of a value stored by `set` (the parser's limit for a literal); see
// Value::NestsDeeperThan.
constexpr int kMaxValueDepth = 256;

Status IntegerOverflow(int64_t x, std::string_view op, int64_t y) {
  return InvalidArgument("integer overflow: {} {} {} does not fit in 64 bits", x, op, y);
}

class Interpreter {
 public:
  explicit Interpreter(const Dict& globals) {
    scopes_.emplace_back();
    for (const auto& [k, v] : BuiltinGlobals().items) scopes_[0][k] = v;
    for (const auto& [k, v] : globals.items) scopes_[0][k] = v;
  }

  Result<std::string> Run(const Template& t) {
    std::string out;
    ANEC_RETURN_IF_ERROR(Exec(t.body, &out).status());
    return out;
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Scope = std::unordered_map<std::string, Value>;

  Value Lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return Value();
  }

  static Status At(int line, const Status& s) {
    if (s.ok() || s.message().rfind("chat template", 0) == 0) return s;
    return Status(s.code(), fmt::format("chat template line {}: {}", line, s.message()));
  }

  Result<Flow> Exec(const NodeList& nodes, std::string* out) {
    for (const auto& n : nodes) {
      ANEC_ASSIGN_OR_RETURN(Flow f, ExecNode(*n, out));
      if (f != Flow::kNormal) return f;
      if (out->size() > kMaxOutput) return InvalidArgument("chat template output exceeds 64 MiB");
    }
    return Flow::kNormal;
  }

  Result<Flow> ExecNode(const Node& n, std::string* out) {
    ANEC_RETURN_IF_ERROR(Charge(1));
    switch (n.kind) {
      case Node::Kind::kText:
        *out += n.text;
        return Flow::kNormal;
      case Node::Kind::kOutput: {
        Result<Value> v = Eval(*n.expr);
        if (!v.ok()) return At(n.line, v.status());
        *out += v->Str();
        return Flow::kNormal;
      }
      case Node::Kind::kIf:
        for (const auto& [cond, body] : n.branches) {
          Result<Value> c = Eval(*cond);
          if (!c.ok()) return At(n.line, c.status());
          if (c->Truthy()) return Exec(body, out);
        }
        return Exec(n.else_body, out);
      case Node::Kind::kFor:
        return ExecFor(n, out);
      case Node::Kind::kSet:
        return ExecSet(n);
      case Node::Kind::kMacro:
        scopes_.back()[n.text] = MakeMacro(n);
        return Flow::kNormal;
      case Node::Kind::kBreak:
        return Flow::kBreak;
      case Node::Kind::kContinue:
        return Flow::kContinue;
      case Node::Kind::kBlock:
        return Exec(n.body, out);
    }
    return Flow::kNormal;
  }

  Result<Flow> ExecSet(const Node& n) {
    Value v;
    if (n.expr) {
      Result<Value> r = Eval(*n.expr);
      if (!r.ok()) return At(n.line, r.status());
      v = *r;
    } else {
      std::string body;
      ANEC_RETURN_IF_ERROR(Exec(n.body, &body).status());
      v = Value(body);
    }
    if (v.NestsDeeperThan(kMaxValueDepth)) {
      return InvalidArgument(
          "chat template line {}: the value set to '{}' nests more than {} levels", n.line,
          n.targets.back(), kMaxValueDepth);
    }
    if (n.targets.size() == 2) {
      Value ns = Lookup(n.targets[0]);
      if (!ns.is_dict() || !ns.dict().is_namespace) {
        return InvalidArgument(
            "chat template line {}: cannot assign attribute on non-namespace "
            "'{}'",
            n.line, n.targets[0]);
      }
      if (v.Reaches(&ns.dict(), kMaxValueDepth)) {
        return InvalidArgument("chat template line {}: '{}.{}' would hold the namespace itself",
                               n.line, n.targets[0], n.targets[1]);
      }
      ns.dict().Set(n.targets[1], v);
    } else {
      scopes_.back()[n.targets[0]] = v;
    }
    return Flow::kNormal;
  }

  Result<Flow> ExecFor(const Node& n, std::string* out) {
    Result<Value> iterable = Eval(*n.expr);
    if (!iterable.ok()) return At(n.line, iterable.status());
    std::vector<Value> all, items;
    Status s = Iterate(*iterable, &all).status();
    if (s.ok()) s = Charge(static_cast<int64_t>(all.size()));
    if (!s.ok()) return At(n.line, s);
    scopes_.emplace_back();
    auto bind = [&](const Value& item) -> Status {
      if (n.targets.size() == 1) {
        scopes_.back()[n.targets[0]] = item;
        return Status::Ok();
      }
      if (!item.is_list() || item.list().size() != n.targets.size()) {
        return InvalidArgument("chat template line {}: cannot unpack {} into {} names", n.line,
                               item.Repr(), n.targets.size());
      }
      for (size_t i = 0; i < n.targets.size(); ++i) scopes_.back()[n.targets[i]] = item.list()[i];
      return Status::Ok();
    };
    if (n.filter) {
      for (const Value& item : all) {
        Status b = bind(item);
        if (!b.ok()) {
          scopes_.pop_back();
          return b;
        }
        Result<Value> keep = Eval(*n.filter);
        if (!keep.ok()) {
          scopes_.pop_back();
          return At(n.line, keep.status());
        }
        if (keep->Truthy()) items.push_back(item);
      }
    } else {
      items = std::move(all);
    }
    const int64_t len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      if (Status c = Charge(10); !c.ok()) {
        scopes_.pop_back();
        return At(n.line, c);
      }
      Status b = bind(items[i]);
      if (!b.ok()) {
        scopes_.pop_back();
        return b;
      }
      // Distinct keys: appended directly (Set() would search), since this runs per iteration.
      Dict loop;
      loop.items.reserve(9);
      loop.items.emplace_back("index", Value(i + 1));
      loop.items.emplace_back("index0", Value(i));
      loop.items.emplace_back("revindex", Value(len - i));
      loop.items.emplace_back("revindex0", Value(len - i - 1));
      loop.items.emplace_back("first", Value(i == 0));
      loop.items.emplace_back("last", Value(i == len - 1));
      loop.items.emplace_back("length", Value(len));
      loop.items.emplace_back("previtem", i > 0 ? items[i - 1] : Value());
      loop.items.emplace_back("nextitem", i + 1 < len ? items[i + 1] : Value());
      scopes_.back()["loop"] = Value::MakeDict(std::move(loop));
      Result<Flow> f = Exec(n.body, out);
      if (!f.ok()) {
        scopes_.pop_back();
        return f.status();
      }
      if (*f == Flow::kBreak) break;
    }
    scopes_.pop_back();
    if (len == 0) return Exec(n.else_body, out);
    return Flow::kNormal;
  }

  Value MakeMacro(const Node& n) {
    const Node* node = &n;
    return Value::MakeFunction(n.text, [this, node](const CallArgs& a) -> Result<Value> {
      if (depth_ >= kMaxDepth) return InvalidArgument("macro '{}' recursion too deep", node->text);
      Scope frame;
      for (size_t i = 0; i < node->params.size(); ++i) {
        const auto& [name, def] = node->params[i];
        const Value* given = a.Get(name, i);
        if (given) {
          frame[name] = *given;
        } else if (def) {
          ANEC_ASSIGN_OR_RETURN(frame[name], Eval(*def));
        } else {
          frame[name] = Value();
        }
      }
      std::vector<Scope> saved = std::move(scopes_);
      scopes_ = {saved[0], std::move(frame)};
      ++depth_;
      std::string out;
      Result<Flow> f = Exec(node->body, &out);
      --depth_;
      saved[0] = std::move(scopes_[0]);
      scopes_ = std::move(saved);
      if (!f.ok()) return f.status();
      return Value(std::move(out));
    });
  }

  Result<CallArgs> EvalArgs(const Expr& e, size_t first) {
    CallArgs a;
    for (size_t i = first; i < e.children.size(); ++i) {
      ANEC_ASSIGN_OR_RETURN(Value v, Eval(*e.children[i]));
      a.args.push_back(std::move(v));
    }
    for (const auto& [k, x] : e.kwargs) {
      ANEC_ASSIGN_OR_RETURN(Value v, Eval(*x));
      a.kwargs.emplace_back(k, std::move(v));
    }
    return a;
  }

  Status Charge(int64_t steps) {
    steps_ += steps;
    if (steps_ <= kMaxSteps) return Status::Ok();
    return InvalidArgument("the template does more than {} steps of work (a runaway loop?)",
                           kMaxSteps);
  }

  // The size that building or reading `v` costs, in steps.
  static int64_t Size(const Value& v) {
    if (v.is_list()) return static_cast<int64_t>(v.list().size());
    if (v.is_dict()) return static_cast<int64_t>(v.dict().items.size());
    if (v.is_string()) return static_cast<int64_t>(v.as_string().size() / 64);
    return 0;
  }

  Result<Value> Eval(const Expr& e) {
    if (eval_depth_ >= kMaxEvalDepth) {
      return InvalidArgument("expression nesting (through macro calls) deeper than {}",
                             kMaxEvalDepth);
    }
    ANEC_RETURN_IF_ERROR(Charge(1));
    ++eval_depth_;
    Result<Value> v = EvalInner(e);
    --eval_depth_;
    // What an operation builds costs in proportion to its size; names, attributes and literals
    // only hand over existing values.
    const bool builds = e.kind == Expr::Kind::kCall || e.kind == Expr::Kind::kFilter ||
                        e.kind == Expr::Kind::kBinary || e.kind == Expr::Kind::kSlice ||
                        e.kind == Expr::Kind::kList || e.kind == Expr::Kind::kTuple ||
                        e.kind == Expr::Kind::kDict;
    if (v.ok() && builds) ANEC_RETURN_IF_ERROR(Charge(Size(*v)));
    return v;
  }

  Result<Value> EvalInner(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.literal;
      case Expr::Kind::kName:
        return Lookup(e.name);
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        std::vector<Value> items;
        for (const auto& c : e.children) {
          ANEC_ASSIGN_OR_RETURN(Value v, Eval(*c));
          items.push_back(std::move(v));
        }
        return Value::List(std::move(items));
      }
      case Expr::Kind::kDict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
          ANEC_ASSIGN_OR_RETURN(Value k, Eval(*e.children[i]));
          ANEC_ASSIGN_OR_RETURN(Value v, Eval(*e.children[i + 1]));
          d.Set(k.Str(), std::move(v));
        }
        return Value::MakeDict(std::move(d));
      }
      case Expr::Kind::kAttr: {
        ANEC_ASSIGN_OR_RETURN(Value obj, Eval(*e.children[0]));
        return GetAttribute(obj, e.name);
      }
      case Expr::Kind::kIndex: {
        ANEC_ASSIGN_OR_RETURN(Value obj, Eval(*e.children[0]));
        ANEC_ASSIGN_OR_RETURN(Value key, Eval(*e.children[1]));
        return GetItem(obj, key);
      }
      case Expr::Kind::kSlice: {
        ANEC_ASSIGN_OR_RETURN(Value obj, Eval(*e.children[0]));
        Value parts[3];
        for (int i = 0; i < 3; ++i) {
          if (e.children[i + 1]) {
            ANEC_ASSIGN_OR_RETURN(parts[i], Eval(*e.children[i + 1]));
          }
        }
        return GetSlice(obj, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::kCall: {
        ANEC_ASSIGN_OR_RETURN(Value fn, Eval(*e.children[0]));
        if (!fn.is_function()) {
          return InvalidArgument("'{}' is not callable",
                                 e.children[0]->name.empty() ? fn.TypeName() : e.children[0]->name);
        }
        ANEC_ASSIGN_OR_RETURN(CallArgs a, EvalArgs(e, 1));
        return fn.function()(a);
      }
      case Expr::Kind::kFilter: {
        ANEC_ASSIGN_OR_RETURN(Value v, Eval(*e.children[0]));
        // Most filters read their whole input (sum, join, map, sort...); these few do not.
        if (e.name != "length" && e.name != "count" && e.name != "first" && e.name != "last" &&
            e.name != "default" && e.name != "d") {
          ANEC_RETURN_IF_ERROR(Charge(Size(v)));
        }
        ANEC_ASSIGN_OR_RETURN(CallArgs a, EvalArgs(e, 1));
        return ApplyFilter(e.name, v, a);
      }
      case Expr::Kind::kTest: {
        ANEC_ASSIGN_OR_RETURN(Value v, Eval(*e.children[0]));
        ANEC_ASSIGN_OR_RETURN(CallArgs a, EvalArgs(e, 1));
        ANEC_ASSIGN_OR_RETURN(bool r, ApplyTest(e.name, v, a));
        return Value(r != e.negate);
      }
      case Expr::Kind::kUnary: {
        ANEC_ASSIGN_OR_RETURN(Value v, Eval(*e.children[0]));
        if (e.name == "not") return Value(!v.Truthy());
        if (!v.is_number())
          return InvalidArgument("bad operand type for unary {}: {}", e.name, v.TypeName());
        if (e.name == "+") return v;
        if (v.is_int() && v.as_int() == std::numeric_limits<int64_t>::min()) {
          return IntegerOverflow(0, "-", v.as_int());
        }
        return v.is_int() ? Value(-v.as_int()) : Value(-v.as_double());
      }
      case Expr::Kind::kBinary:
        return EvalBinary(e);
      case Expr::Kind::kCond: {
        ANEC_ASSIGN_OR_RETURN(Value c, Eval(*e.children[1]));
        if (c.Truthy()) return Eval(*e.children[0]);
        return e.children[2] ? Eval(*e.children[2]) : Value();
      }
    }
    return Value();
  }

  Result<Value> EvalBinary(const Expr& e) {
    const std::string& op = e.name;
    ANEC_ASSIGN_OR_RETURN(Value a, Eval(*e.children[0]));
    if (op == "and") return a.Truthy() ? Eval(*e.children[1]) : a;
    if (op == "or") return a.Truthy() ? a : Eval(*e.children[1]);
    ANEC_ASSIGN_OR_RETURN(Value b, Eval(*e.children[1]));
    if (op == "~") {
      std::string s = a.Str() + b.Str();
      if (s.size() > kMaxOutput) return InvalidArgument("a string of more than 64 MiB");
      return Value(std::move(s));
    }
    if (op == "==") return Value(a.Equals(b));
    if (op == "!=") return Value(!a.Equals(b));
    if (op == "in" || op == "not in") {
      CallArgs args;
      args.args.push_back(b);
      ANEC_ASSIGN_OR_RETURN(bool r, ApplyTest("in", a, args));
      return Value(r == (op == "in"));
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      ANEC_ASSIGN_OR_RETURN(int c, a.Compare(b));
      bool r = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
      return Value(r);
    }
    if (op == "+") {
      if (a.is_string() && b.is_string()) {
        if (a.as_string().size() + b.as_string().size() > kMaxOutput) {
          return InvalidArgument("a string of more than 64 MiB");
        }
        return Value(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list()) {
        if (a.list().size() + b.list().size() > kMaxListItems) {
          return InvalidArgument("a list of more than {} items", kMaxListItems);
        }
        std::vector<Value> items = a.list();
        items.insert(items.end(), b.list().begin(), b.list().end());
        return Value::List(std::move(items));
      }
    }
    if (op == "*" && a.is_int() && (b.is_string() || b.is_list())) std::swap(a, b);
    if (op == "*" && (a.is_string() || a.is_list()) && b.is_int()) {
      std::string s;
      std::vector<Value> items;
      for (int64_t i = 0; i < b.as_int() && i < 1'000'000; ++i) {
        if (a.is_string())
          s += a.as_string();
        else
          items.insert(items.end(), a.list().begin(), a.list().end());
        // ("x" * 10**6) * 10**6 would need a terabyte.
        if (s.size() > kMaxOutput) return InvalidArgument("a string of more than 64 MiB");
        if (items.size() > kMaxListItems) {
          return InvalidArgument("a list of more than {} items", kMaxListItems);
        }
      }
      return a.is_string() ? Value(s) : Value::List(std::move(items));
    }
    bool numeric = (a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool());
    if (!numeric) {
      return InvalidArgument("unsupported operand types for {}: '{}' and '{}'", op, a.TypeName(),
                             b.TypeName());
    }
    bool ints = !a.is_float() && !b.is_float();
    int64_t x = a.as_int(), y = b.as_int();
    double dx = a.as_double(), dy = b.as_double();
    if (a.is_bool()) {
      x = a.as_bool();
      dx = x;
    }
    if (b.is_bool()) {
      y = b.as_bool();
      dy = y;
    }
    // Python's integers do not overflow; 64-bit ones must not silently wrap (undefined behaviour).
    if (ints && (op == "+" || op == "-" || op == "*")) {
      int64_t r = 0;
      const bool overflow = op == "+"   ? __builtin_add_overflow(x, y, &r)
                            : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                        : __builtin_mul_overflow(x, y, &r);
      if (overflow) return IntegerOverflow(x, op, y);
      return Value(r);
    }
    if (op == "+") return Value(dx + dy);
    if (op == "-") return Value(dx - dy);
    if (op == "*") return Value(dx * dy);
    if (op == "**") {
      if (!ints || y < 0) return Value(std::pow(dx, dy));
      const double p = std::pow(dx, dy);
      if (!(std::fabs(p) < 9223372036854775808.0)) return IntegerOverflow(x, op, y);  // 2^63
      return Value(static_cast<int64_t>(p));
    }
    if (dy == 0) return InvalidArgument("division by zero");
    if (op == "/") return Value(dx / dy);
    if (op == "//") {
      if (ints) {
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return IntegerOverflow(x, op, y);
        int64_t q = x / y;  // rounds toward zero; Python floors
        if (q * y != x && ((x < 0) != (y < 0))) --q;
        return Value(q);
      }
      return Value(std::floor(dx / dy));
    }
    if (op == "%") {
      if (ints) {
        if (y == -1) return Value(int64_t{0});  // INT64_MIN % -1 traps in C++
        int64_t m = x % y;
        return Value(m != 0 && ((m < 0) != (y < 0)) ? m + y : m);
      }
      double m = std::fmod(dx, dy);
      return Value(m != 0 && ((m < 0) != (dy < 0)) ? m + dy : m);
    }
    return InvalidArgument("unknown operator {}", op);
  }

  std::vector<Scope> scopes_;
  int depth_ = 0;
  int eval_depth_ = 0;
  int64_t steps_ = 0;
};

}  // namespace

Result<std::string> Render(const Template& tmpl, const Dict& globals) {
  Interpreter interp(globals);
  return interp.Run(tmpl);
}

}  // namespace anec::text::jinja
