// Filters and global functions of the Jinja2 subset (declared in jinja_builtins.h).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "text/jinja_builtins.h"

namespace anec::text::jinja {
namespace {

Result<Value> SortValues(std::vector<Value> items, bool reverse) {
  Status error;
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    Result<int> c = x.Compare(y);
    if (!c.ok()) error = c.status();
    return c.ok() && (reverse ? *c > 0 : *c < 0);
  });
  ANEC_RETURN_IF_ERROR(error);
  return Value::List(std::move(items));
}

// selectattr / rejectattr / select / reject.
Result<Value> SelectFilter(const Value& v, const CallArgs& a, bool by_attr, bool keep) {
  std::vector<Value> items, out;
  ANEC_RETURN_IF_ERROR(Iterate(v, &items).status());
  size_t next_arg = 0;
  std::string attr;
  if (by_attr) {
    if (a.args.empty() || !a.args[0].is_string()) {
      return InvalidArgument("selectattr/rejectattr need an attribute name");
    }
    attr = a.args[0].as_string();
    next_arg = 1;
  }
  std::string test;
  if (a.args.size() > next_arg) test = a.args[next_arg].Str();
  CallArgs test_args;
  for (size_t i = next_arg + 1; i < a.args.size(); ++i) test_args.args.push_back(a.args[i]);
  for (const Value& item : items) {
    Value x = item;
    if (by_attr) {
      ANEC_ASSIGN_OR_RETURN(x, GetItem(item, Value(attr)));
    }
    bool pass;
    if (test.empty()) {
      pass = x.Truthy();
    } else {
      ANEC_ASSIGN_OR_RETURN(pass, ApplyTest(test, x, test_args));
    }
    if (pass == keep) out.push_back(item);
  }
  return Value::List(std::move(out));
}

Result<Value> ToInt(const Value& v, const Value* def) {
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(static_cast<int64_t>(v.as_bool()));
  if (v.is_float()) return Value(static_cast<int64_t>(v.as_double()));
  if (v.is_string()) {
    const std::string& s = v.as_string();
    char* end = nullptr;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == '\0') return Value(static_cast<int64_t>(i));
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value(static_cast<int64_t>(d));
  }
  return def ? *def : Value(int64_t{0});
}

}  // namespace

Result<Value> ApplyFilter(std::string_view name, const Value& v, const CallArgs& a) {
  const Value* a0 = a.Get("", 0);
  if (name == "safe") return v;
  if (name == "default" || name == "d") {
    const Value* boolean = a.Get("boolean", 1);
    bool use_default = v.is_undefined() || (boolean && boolean->Truthy() && !v.Truthy());
    return use_default ? (a0 ? *a0 : Value(std::string())) : v;
  }
  if (name == "string") return Value(v.Str());
  if (name == "int") return ToInt(v, a.Get("default", 0));
  if (name == "float")
    return v.is_number() ? Value(v.as_double()) : Value(std::strtod(v.Str().c_str(), nullptr));
  if (name == "tojson") {
    const Value* indent = a.Get("indent", 0);
    const Value* sort_keys = a.Get("sort_keys", 3);
    ANEC_ASSIGN_OR_RETURN(
        std::string s,
        v.ToJson(indent && indent->is_int() ? static_cast<int>(indent->as_int()) : -1,
                 sort_keys && sort_keys->Truthy()));
    return Value(std::move(s));
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value(static_cast<int64_t>(ToCodePoints(v.as_string()).size()));
    if (v.is_list()) return Value(static_cast<int64_t>(v.list().size()));
    if (v.is_dict()) return Value(static_cast<int64_t>(v.dict().items.size()));
    if (v.is_undefined()) return Value(int64_t{0});
    return InvalidArgument("object of type '{}' has no len()", v.TypeName());
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::List();
    if (!v.is_dict()) return InvalidArgument("items filter needs a mapping, got {}", v.TypeName());
    std::vector<Value> out;
    for (const auto& [k, x] : v.dict().items) out.push_back(Value::List({Value(k), x}));
    return Value::List(std::move(out));
  }
  if (name == "list") {
    std::vector<Value> items;
    ANEC_RETURN_IF_ERROR(Iterate(v, &items).status());
    return Value::List(std::move(items));
  }
  if (name == "first" || name == "last") {
    std::vector<Value> items;
    ANEC_RETURN_IF_ERROR(Iterate(v, &items).status());
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) return GetSlice(v, Value(), Value(), Value(int64_t{-1}));
    std::vector<Value> items;
    ANEC_RETURN_IF_ERROR(Iterate(v, &items).status());
    std::reverse(items.begin(), items.end());
    return Value::List(std::move(items));
  }
  if (name == "sort") {
    std::vector<Value> items;
    ANEC_RETURN_IF_ERROR(Iterate(v, &items).status());
    const Value* reverse = a.Get("reverse", 0);
    return SortValues(std::move(items), reverse && reverse->Truthy());
  }
  if (name == "join") {
    std::vector<Value> items;
    ANEC_RETURN_IF_ERROR(Iterate(v, &items).status());
    const Value* sep = a.Get("d", 0);
    const Value* attr = a.Get("attribute", 1);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      Value x = items[i];
      if (attr) {
        ANEC_ASSIGN_OR_RETURN(x, GetItem(x, *attr));
      }
      out += (i && sep ? sep->Str() : "") + x.Str();
    }
    return Value(std::move(out));
  }
  if (name == "map") {
    std::vector<Value> items, out;
    ANEC_RETURN_IF_ERROR(Iterate(v, &items).status());
    const Value* attr = a.Get("attribute", 99);
    const Value* def = a.Get("default", 99);
    for (const Value& item : items) {
      if (attr) {
        ANEC_ASSIGN_OR_RETURN(Value x, GetItem(item, *attr));
        out.push_back(x.is_undefined() && def ? *def : x);
      } else if (a0 && a0->is_string()) {
        CallArgs rest;
        rest.args.assign(a.args.begin() + 1, a.args.end());
        ANEC_ASSIGN_OR_RETURN(Value x, ApplyFilter(a0->as_string(), item, rest));
        out.push_back(x);
      } else {
        return InvalidArgument("map filter needs attribute= or a filter name");
      }
    }
    return Value::List(std::move(out));
  }
  if (name == "selectattr") return SelectFilter(v, a, true, true);
  if (name == "rejectattr") return SelectFilter(v, a, true, false);
  if (name == "select") return SelectFilter(v, a, false, true);
  if (name == "reject") return SelectFilter(v, a, false, false);
  if (name == "abs") {
    if (v.is_int()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    return Value(std::fabs(v.as_double()));
  }
  // The remaining filters are string filters with the same meaning as the str methods.
  if (!v.is_string() && !v.is_undefined()) {
    if (name == "trim" || name == "upper" || name == "lower" || name == "capitalize" ||
        name == "title" || name == "replace") {
      return ApplyFilter(name, Value(v.Str()), a);
    }
    return Unsupported("Jinja filter '{}' is not supported by anec for {}", name, v.TypeName());
  }
  Value s = v.is_undefined() ? Value(std::string()) : v;
  std::string method = name == "trim" ? "strip" : std::string(name);
  for (const char* m : {"strip", "upper", "lower", "capitalize", "title", "replace"}) {
    if (method == m) {
      ANEC_ASSIGN_OR_RETURN(Value fn, GetAttribute(s, m));
      return fn.function()(a);
    }
  }
  return Unsupported("Jinja filter '{}' is not supported by anec", name);
}

Dict BuiltinGlobals() {
  Dict g;
  g.Set("range", Value::MakeFunction("range", [](const CallArgs& a) -> Result<Value> {
          int64_t start = 0, stop = 0, step = 1;
          if (a.args.size() == 1) {
            stop = a.args[0].as_int();
          } else if (a.args.size() >= 2) {
            start = a.args[0].as_int();
            stop = a.args[1].as_int();
            if (a.args.size() >= 3) step = a.args[2].as_int();
          }
          if (step == 0) return InvalidArgument("range() step must not be zero");
          std::vector<Value> out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
            out.push_back(Value(i));
            // The interpreter's limit on list sizes and loop iterations.
            if (out.size() > 1'000'000) return InvalidArgument("range() too large");
            if (__builtin_add_overflow(i, step, &i)) break;  // past int64_t: beyond stop too
          }
          return Value::List(std::move(out));
        }));
  auto make_dict = [](bool ns) {
    return [ns](const CallArgs& a) -> Result<Value> {
      Dict d;
      d.is_namespace = ns;
      for (const Value& pos : a.args) {
        if (pos.is_dict()) {
          for (const auto& [k, v] : pos.dict().items) d.Set(k, v);
        }
      }
      for (const auto& [k, v] : a.kwargs) d.Set(k, v);
      return Value::MakeDict(std::move(d));
    };
  };
  g.Set("namespace", Value::MakeFunction("namespace", make_dict(true)));
  g.Set("dict", Value::MakeFunction("dict", make_dict(false)));
  return g;
}

}  // namespace anec::text::jinja
