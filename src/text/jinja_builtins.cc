#include "text/jinja_builtins.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "text/unicode_case.h"

namespace anec::text::jinja {
namespace {

bool IsPySpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= 0x1c && c <= 0x1f);
}

std::string AsciiMap(std::string_view s, int (*f)(int)) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(f(static_cast<unsigned char>(c)));
  return out;
}

std::string Capitalize(std::string_view s) {
  std::string out = AsciiMap(s, ::tolower);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string Title(std::string_view s) {
  std::string out(s);
  bool prev_alpha = false;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    bool alpha = std::isalpha(u) != 0;
    c = static_cast<char>(alpha ? (prev_alpha ? std::tolower(u) : std::toupper(u)) : u);
    prev_alpha = alpha;
  }
  return out;
}

std::vector<Value> PySplit(const std::string& s, const Value* sep, int64_t maxsplit) {
  std::vector<Value> parts;
  if (!sep || sep->is_none() || sep->is_undefined()) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && IsPySpace(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t end = s.size();
        while (end > i && IsPySpace(s[end - 1])) --end;
        parts.emplace_back(s.substr(i, end - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !IsPySpace(s[j])) ++j;
      parts.emplace_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  const std::string& d = sep->as_string();
  size_t last = 0;
  for (size_t pos = s.find(d); pos != std::string::npos && !d.empty(); pos = s.find(d, last)) {
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) break;
    parts.emplace_back(s.substr(last, pos - last));
    last = pos + d.size();
  }
  parts.emplace_back(s.substr(last));
  return parts;
}

std::string Replace(const std::string& s, const std::string& from, const std::string& to,
                    int64_t count) {
  std::string out;
  size_t last = 0;
  int64_t n = 0;
  if (from.empty()) return s;
  for (size_t pos = s.find(from); pos != std::string::npos && (count < 0 || n < count);
       pos = s.find(from, last), ++n) {
    out += s.substr(last, pos - last) + to;
    last = pos + from.size();
  }
  return out + s.substr(last);
}

Status NeedString(const Value* v, std::string_view fn) {
  if (!v || !v->is_string()) {
    return InvalidArgument("{}() needs a string argument, got {}", fn, v ? v->TypeName() : "none");
  }
  return Status::Ok();
}

Result<bool> AffixTest(const std::string& s, const Value* arg, bool prefix) {
  std::vector<Value> options;
  if (arg && arg->is_list())
    options = arg->list();
  else if (arg)
    options.push_back(*arg);
  for (const Value& o : options) {
    ANEC_RETURN_IF_ERROR(NeedString(&o, prefix ? "startswith" : "endswith"));
    const std::string& a = o.as_string();
    if (a.size() <= s.size() && s.compare(prefix ? 0 : s.size() - a.size(), a.size(), a) == 0) {
      return true;
    }
  }
  return false;
}

Result<Value> StringMethod(const std::string& s, std::string_view name, const CallArgs& a) {
  const Value* a0 = a.Get("", 0);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return Value(PyStrip(s, a0, name != "rstrip", name != "lstrip"));
  }
  if (name == "upper") return Value(ToUpperUnicode(s));
  if (name == "lower") return Value(ToLowerUnicode(s));
  if (name == "title") return Value(Title(s));
  if (name == "capitalize") return Value(Capitalize(s));
  if (name == "startswith" || name == "endswith") {
    ANEC_ASSIGN_OR_RETURN(bool r, AffixTest(s, a0, name == "startswith"));
    return Value(r);
  }
  if (name == "split") {
    const Value* max = a.Get("maxsplit", 1);
    return Value::List(PySplit(s, a.Get("sep", 0), max && max->is_int() ? max->as_int() : -1));
  }
  if (name == "replace") {
    ANEC_RETURN_IF_ERROR(NeedString(a0, "replace"));
    const Value* to = a.Get("", 1);
    ANEC_RETURN_IF_ERROR(NeedString(to, "replace"));
    const Value* count = a.Get("count", 2);
    return Value(Replace(s, a0->as_string(), to->as_string(), count ? count->as_int() : -1));
  }
  if (name == "find") {
    ANEC_RETURN_IF_ERROR(NeedString(a0, "find"));
    size_t p = s.find(a0->as_string());
    return Value(p == std::string::npos
                     ? int64_t{-1}
                     : static_cast<int64_t>(ToCodePoints(s.substr(0, p)).size()));
  }
  if (name == "count") {
    ANEC_RETURN_IF_ERROR(NeedString(a0, "count"));
    return Value(static_cast<int64_t>(PySplit(s, a0, -1).size() - 1));
  }
  if (name == "join") {
    if (!a0) return InvalidArgument("join() needs a list");
    std::vector<Value> items;
    ANEC_RETURN_IF_ERROR(Iterate(*a0, &items).status());
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? s : "") + items[i].Str();
    return Value(out);
  }
  return InvalidArgument("str has no method '{}'", name);
}

Result<Value> DictMethod(const Value& d, std::string_view name, const CallArgs& a) {
  if (name == "get") {
    const Value* key = a.Get("", 0);
    const Value* def = a.Get("", 1);
    const Value* found = key && key->is_string() ? d.dict().Find(key->as_string()) : nullptr;
    return found ? *found : def ? *def : Value::None();
  }
  std::vector<Value> out;
  for (const auto& [k, v] : d.dict().items) {
    if (name == "items")
      out.push_back(Value::List({Value(k), v}));
    else if (name == "keys")
      out.push_back(Value(k));
    else
      out.push_back(v);
  }
  return Value::List(std::move(out));
}

int64_t ClampIndex(int64_t i, int64_t n, bool negative_step) {
  if (i < 0) i += n;
  if (negative_step) return std::clamp<int64_t>(i, -1, n - 1);
  return std::clamp<int64_t>(i, 0, n);
}

}  // namespace

std::string PyStrip(std::string_view s, const Value* chars, bool left, bool right) {
  bool custom = chars && chars->is_string();
  auto strip_me = [&](char c) {
    return custom ? chars->as_string().find(c) != std::string::npos : IsPySpace(c);
  };
  size_t b = 0, e = s.size();
  while (left && b < e && strip_me(s[b])) ++b;
  while (right && e > b && strip_me(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

Result<Value> Iterate(const Value& v, std::vector<Value>* items) {
  items->clear();
  if (v.is_list()) {
    *items = v.list();
  } else if (v.is_dict()) {
    for (const auto& kv : v.dict().items) items->push_back(Value(kv.first));
  } else if (v.is_string()) {
    std::vector<uint32_t> cps = ToCodePoints(v.as_string());
    for (size_t i = 0; i < cps.size(); ++i) items->push_back(Value(FromCodePoints(cps, i, i + 1)));
  } else if (!v.is_undefined()) {
    return InvalidArgument("'{}' object is not iterable", v.TypeName());
  }
  return Value();
}

Result<Value> GetAttribute(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) {
    return InvalidArgument("attribute '{}' of an undefined value (jinja2 raises UndefinedError)",
                           name);
  }
  static const char* kDictMethods[] = {"get", "items", "keys", "values"};
  static const char* kStrMethods[] = {"strip",   "lstrip",     "rstrip",     "upper",    "lower",
                                      "title",   "capitalize", "startswith", "endswith", "split",
                                      "replace", "find",       "count",      "join"};
  if (obj.is_dict() && !obj.dict().is_namespace) {
    for (const char* m : kDictMethods) {
      if (name == m) {
        return Value::MakeFunction(std::string(name),
                                   [obj, m](const CallArgs& a) { return DictMethod(obj, m, a); });
      }
    }
  }
  if (obj.is_dict()) {
    const Value* v = obj.dict().Find(name);
    return v ? *v : Value();
  }
  if (obj.is_string()) {
    for (const char* m : kStrMethods) {
      if (name == m) {
        std::string s = obj.as_string();
        return Value::MakeFunction(std::string(name),
                                   [s, m](const CallArgs& a) { return StringMethod(s, m, a); });
      }
    }
  }
  return Value();
}

Result<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return InvalidArgument("indexing an undefined value");
  if (obj.is_dict()) {
    if (!key.is_string()) return Value();
    const Value* v = obj.dict().Find(key.as_string());
    return v ? *v : Value();
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    std::vector<uint32_t> cps;
    int64_t n = obj.is_list() ? static_cast<int64_t>(obj.list().size())
                              : static_cast<int64_t>((cps = ToCodePoints(obj.as_string())).size());
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value();
    if (obj.is_list()) return obj.list()[i];
    return Value(FromCodePoints(cps, i, i + 1));
  }
  if (key.is_string()) return GetAttribute(obj, key.as_string());
  return Value();
}

Result<Value> GetSlice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (!obj.is_list() && !obj.is_string()) {
    return InvalidArgument("cannot slice a value of type {}", obj.TypeName());
  }
  std::vector<uint32_t> cps;
  if (obj.is_string()) cps = ToCodePoints(obj.as_string());
  int64_t n =
      obj.is_list() ? static_cast<int64_t>(obj.list().size()) : static_cast<int64_t>(cps.size());
  int64_t st = step.is_int() ? step.as_int() : 1;
  if (st == 0) return InvalidArgument("slice step cannot be zero");
  bool neg = st < 0;
  int64_t b = start.is_int() ? ClampIndex(start.as_int(), n, neg) : (neg ? n - 1 : 0);
  int64_t e = stop.is_int() ? ClampIndex(stop.as_int(), n, neg) : (neg ? -1 : n);
  std::vector<Value> items;
  std::vector<uint32_t> out_cps;
  for (int64_t i = b; neg ? i > e : i < e; i += st) {
    if (obj.is_list())
      items.push_back(obj.list()[i]);
    else
      out_cps.push_back(cps[i]);
  }
  if (obj.is_list()) return Value::List(std::move(items));
  return Value(FromCodePoints(out_cps, 0, out_cps.size()));
}

Result<bool> ApplyTest(std::string_view name, const Value& v, const CallArgs& args) {
  const Value* a0 = args.Get("", 0);
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_function();
  if (name == "lower") return v.is_string() && v.as_string() == ToLowerUnicode(v.as_string());
  if (name == "upper") return v.is_string() && v.as_string() == ToUpperUnicode(v.as_string());
  if (name == "odd" || name == "even") {
    if (!v.is_int()) return InvalidArgument("test '{}' needs an integer", name);
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (!a0) return InvalidArgument("test '{}' needs an argument", name);
  if (name == "equalto" || name == "eq" || name == "==") return v.Equals(*a0);
  if (name == "ne" || name == "!=") return !v.Equals(*a0);
  if (name == "sameas") {
    return v.type() == a0->type() && (v.is_none() || v.is_undefined() || v.Equals(*a0));
  }
  if (name == "divisibleby") return a0->as_int() != 0 && v.as_int() % a0->as_int() == 0;
  if (name == "in") {
    if (a0->is_string() && v.is_string())
      return a0->as_string().find(v.as_string()) != std::string::npos;
    if (a0->is_dict()) return v.is_string() && a0->dict().Find(v.as_string()) != nullptr;
    if (a0->is_list()) {
      for (const Value& x : a0->list()) {
        if (x.Equals(v)) return true;
      }
    }
    return false;
  }
  for (auto [n, want] : {std::pair{"lt", -1}, {"<", -1}, {"gt", 1}, {">", 1}}) {
    if (name == n) {
      ANEC_ASSIGN_OR_RETURN(int c, v.Compare(*a0));
      return c == want;
    }
  }
  for (auto [n, not_want] : {std::pair{"le", 1}, {"<=", 1}, {"ge", -1}, {">=", -1}}) {
    if (name == n) {
      ANEC_ASSIGN_OR_RETURN(int c, v.Compare(*a0));
      return c != not_want;
    }
  }
  return Unsupported("Jinja test '{}' is not supported by anec", name);
}

}  // namespace anec::text::jinja
