// Values of the Jinja2-subset chat-template renderer, with Python semantics where templates can
// observe them: str() formatting (True/None/['a', 1]), truthiness, equality, ordering, and
// json.dumps as transformers' `tojson` filter produces it.
//
// Lists and dicts are shared by reference (as in Python), so a namespace() assigned through
// `{% set ns.x = ... %}` is seen by every holder. Dict keys are strings; insertion order is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "text/json_util.h"

namespace anec::text::jinja {

class Value;

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  // Keyword argument `name`, else positional `index`, else nullptr.
  const Value* Get(std::string_view name, size_t index) const;
};

using Function = std::function<Result<Value>(const CallArgs&)>;

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;
  const Value* Find(std::string_view key) const;
  void Set(const std::string& key, Value v);
};

class Value {
 public:
  enum class Type { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;  // undefined
  static Value None();
  Value(bool b);                                    // NOLINT
  Value(int64_t i);                                 // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d);                                  // NOLINT
  Value(std::string s);                             // NOLINT
  Value(const char* s) : Value(std::string(s)) {}   // NOLINT
  static Value List(std::vector<Value> items = {});
  static Value MakeDict(Dict d = {});
  static Value MakeFunction(std::string name, Function fn);
  static Value FromJson(const OrderedJson& j);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::kUndefined; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_float() const { return type_ == Type::kFloat; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return type_ == Type::kString; }
  bool is_list() const { return type_ == Type::kList; }
  bool is_dict() const { return type_ == Type::kDict; }
  bool is_function() const { return type_ == Type::kFunction; }

  bool as_bool() const { return b_; }
  // A float is truncated, saturating at the int64_t range (NaN is 0): converting 1e300 directly
  // would be undefined behaviour.
  int64_t as_int() const { return is_float() ? FloatToInt(d_) : i_; }
  double as_double() const { return is_float() ? d_ : static_cast<double>(i_); }
  const std::string& as_string() const { return *s_; }
  std::vector<Value>& list() const { return *list_; }
  Dict& dict() const { return *dict_; }
  const Function& function() const { return fn_->fn; }
  const std::string& function_name() const { return fn_->name; }

  bool Truthy() const;
  // Python str(): what {{ x }} prints ("" for undefined).
  std::string Str() const;
  // Python repr(): strings quoted, as inside a printed list.
  std::string Repr() const;
  // json.dumps(x, ensure_ascii=False, indent=indent (<0: None), sort_keys=sort_keys).
  Result<std::string> ToJson(int indent, bool sort_keys) const;
  std::string TypeName() const;

  // Nesting of lists and dicts, which the interpreter bounds (Repr, ToJson and the destructor
  // recurse once per level, so a template that wraps a value in itself in a loop would overflow
  // the stack): true when this value nests more than `levels` deep. Cheap: a container's depth is
  // known from its items when it is built, except for what holds a namespace (whose attributes
  // change), which is walked, at most `levels` deep.
  bool NestsDeeperThan(int levels) const;
  // True when the namespace `ns` is reachable from this value within `levels` levels: storing the
  // value in `ns` would make a cycle, which shared_ptr never frees and Repr never finishes.
  bool Reaches(const Dict* ns, int levels) const;

  // Python ==.
  bool Equals(const Value& o) const;
  // Python <: -1/0/1, or an error for unordered types.
  Result<int> Compare(const Value& o) const;

 private:
  struct Fn {
    std::string name;
    Function fn;
  };
  static int64_t FloatToInt(double d);
  // Lists and dicts: 1 + the deepest item, or kDynamicDepth below a namespace.
  static constexpr int kDynamicDepth = -1;
  static int DepthOf(const Value& item);

  Type type_ = Type::kUndefined;
  int depth_ = 0;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<std::vector<Value>> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Fn> fn_;
};

// Python float repr ("1.0", "0.1", "1e+16").
std::string FormatFloat(double d);

// Code points of a UTF-8 string, and back (for indexing and slicing strings as Python does).
std::vector<uint32_t> ToCodePoints(std::string_view s);
std::string FromCodePoints(const std::vector<uint32_t>& cps, size_t begin, size_t end);

}  // namespace anec::text::jinja
