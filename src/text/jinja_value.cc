#include "text/jinja_value.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "text/utf8.h"

namespace anec::text::jinja {

const Value* CallArgs::Get(std::string_view name, size_t index) const {
  for (const auto& [k, v] : kwargs) {
    if (k == name) return &v;
  }
  return index < args.size() ? &args[index] : nullptr;
}

const Value* Dict::Find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::Set(const std::string& key, Value v) {
  for (auto& [k, old] : items) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(key, std::move(v));
}

Value Value::None() {
  Value v;
  v.type_ = Type::kNone;
  return v;
}
Value::Value(bool b) : type_(Type::kBool), b_(b) {}
Value::Value(int64_t i) : type_(Type::kInt), i_(i) {}
Value::Value(double d) : type_(Type::kFloat), d_(d) {}
Value::Value(std::string s)
    : type_(Type::kString), s_(std::make_shared<const std::string>(std::move(s))) {}

int64_t Value::FloatToInt(double d) {
  if (std::isnan(d)) return 0;
  // 2^63 is exactly representable; every double below it and >= -2^63 converts.
  if (d >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
  if (d < -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

int Value::DepthOf(const Value& item) {
  return item.is_list() || item.is_dict() ? item.depth_ : 0;
}

Value Value::List(std::vector<Value> items) {
  Value v;
  v.type_ = Type::kList;
  v.depth_ = 1;
  for (const Value& item : items) {
    const int d = DepthOf(item);
    if (d == kDynamicDepth || v.depth_ == kDynamicDepth) {
      v.depth_ = kDynamicDepth;
    } else {
      v.depth_ = std::max(v.depth_, d + 1);
    }
  }
  v.list_ = std::make_shared<std::vector<Value>>(std::move(items));
  return v;
}

Value Value::MakeDict(Dict d) {
  Value v;
  v.type_ = Type::kDict;
  v.depth_ = d.is_namespace ? kDynamicDepth : 1;
  for (const auto& [key, item] : d.items) {
    const int depth = DepthOf(item);
    if (depth == kDynamicDepth || v.depth_ == kDynamicDepth) {
      v.depth_ = kDynamicDepth;
    } else {
      v.depth_ = std::max(v.depth_, depth + 1);
    }
  }
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}

bool Value::NestsDeeperThan(int levels) const {
  if (!is_list() && !is_dict()) return false;
  if (depth_ != kDynamicDepth) return depth_ > levels;
  if (levels <= 0) return true;
  if (is_list()) {
    for (const Value& item : *list_) {
      if (item.NestsDeeperThan(levels - 1)) return true;
    }
    return false;
  }
  for (const auto& [key, item] : dict_->items) {
    if (item.NestsDeeperThan(levels - 1)) return true;
  }
  return false;
}

bool Value::Reaches(const Dict* ns, int levels) const {
  // Only what holds a namespace (dynamic depth) can reach one.
  if (depth_ != kDynamicDepth || levels < 0) return false;
  if (is_dict() && dict_.get() == ns) return true;
  if (is_list()) {
    for (const Value& item : *list_) {
      if (item.Reaches(ns, levels - 1)) return true;
    }
    return false;
  }
  for (const auto& [key, item] : dict_->items) {
    if (item.Reaches(ns, levels - 1)) return true;
  }
  return false;
}

Value Value::MakeFunction(std::string name, Function fn) {
  Value v;
  v.type_ = Type::kFunction;
  v.fn_ = std::make_shared<Fn>(Fn{std::move(name), std::move(fn)});
  return v;
}

Value Value::FromJson(const OrderedJson& j) {
  switch (j.type()) {
    case OrderedJson::value_t::null:
      return None();
    case OrderedJson::value_t::boolean:
      return Value(j.get<bool>());
    case OrderedJson::value_t::number_integer:
      return Value(j.get<int64_t>());
    case OrderedJson::value_t::number_unsigned:
      return Value(static_cast<int64_t>(j.get<uint64_t>()));
    case OrderedJson::value_t::number_float:
      return Value(j.get<double>());
    case OrderedJson::value_t::string:
      return Value(j.get<std::string>());
    case OrderedJson::value_t::array: {
      std::vector<Value> items;
      for (const OrderedJson& e : j) items.push_back(FromJson(e));
      return List(std::move(items));
    }
    case OrderedJson::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(it.key(), FromJson(*it));
      return MakeDict(std::move(d));
    }
    default:
      return Value();
  }
}

bool Value::Truthy() const {
  switch (type_) {
    case Type::kUndefined:
    case Type::kNone:
      return false;
    case Type::kBool:
      return b_;
    case Type::kInt:
      return i_ != 0;
    case Type::kFloat:
      return d_ != 0;
    case Type::kString:
      return !s_->empty();
    case Type::kList:
      return !list_->empty();
    case Type::kDict:
      return !dict_->items.empty();
    case Type::kFunction:
      return true;
  }
  return false;
}

std::string FormatFloat(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

namespace {

std::string PyQuote(const std::string& s) {
  // Python repr: single quotes unless the string holds ' and no ".
  char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == static_cast<unsigned char>(q)) {
      out += '\\';
      out += q;
    } else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7F)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  out += q;
  return out;
}

void JsonQuote(const std::string& s, std::string* out) {
  *out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (c < 0x20)
          *out += fmt::format("\\u{:04x}", c);
        else
          *out += static_cast<char>(c);
    }
  }
  *out += '"';
}

Status ToJsonImpl(const Value& v, int indent, bool sort_keys, int depth, std::string* out) {
  std::string nl, pad, pad_in;
  if (indent >= 0) {
    nl = "\n";
    pad = std::string(static_cast<size_t>(indent * depth), ' ');
    pad_in = std::string(static_cast<size_t>(indent * (depth + 1)), ' ');
  }
  const char* item_sep = indent >= 0 ? "," : ", ";
  switch (v.type()) {
    case Value::Type::kUndefined:
      return InvalidArgument("tojson: value is undefined (json.dumps would fail)");
    case Value::Type::kNone:
      *out += "null";
      return Status::Ok();
    case Value::Type::kBool:
      *out += v.as_bool() ? "true" : "false";
      return Status::Ok();
    case Value::Type::kInt:
      *out += std::to_string(v.as_int());
      return Status::Ok();
    case Value::Type::kFloat: {
      double d = v.as_double();
      *out += std::isnan(d)   ? "NaN"
              : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                              : FormatFloat(d);
      return Status::Ok();
    }
    case Value::Type::kString:
      JsonQuote(v.as_string(), out);
      return Status::Ok();
    case Value::Type::kList: {
      if (v.list().empty()) {
        *out += "[]";
        return Status::Ok();
      }
      *out += "[" + nl;
      for (size_t i = 0; i < v.list().size(); ++i) {
        if (i) *out += item_sep + nl;
        *out += pad_in;
        ANEC_RETURN_IF_ERROR(ToJsonImpl(v.list()[i], indent, sort_keys, depth + 1, out));
      }
      *out += nl + pad + "]";
      return Status::Ok();
    }
    case Value::Type::kDict: {
      if (v.dict().items.empty()) {
        *out += "{}";
        return Status::Ok();
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.dict().items) items.push_back(&kv);
      if (sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return a->first < b->first; });
      }
      *out += "{" + nl;
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) *out += item_sep + nl;
        *out += pad_in;
        JsonQuote(items[i]->first, out);
        *out += ": ";
        ANEC_RETURN_IF_ERROR(ToJsonImpl(items[i]->second, indent, sort_keys, depth + 1, out));
      }
      *out += nl + pad + "}";
      return Status::Ok();
    }
    case Value::Type::kFunction:
      return InvalidArgument("tojson: a function is not JSON serializable");
  }
  return Status::Ok();
}

}  // namespace

std::string Value::Str() const {
  switch (type_) {
    case Type::kUndefined:
      return "";
    case Type::kString:
      return *s_;
    default:
      return Repr();
  }
}

std::string Value::Repr() const {
  switch (type_) {
    case Type::kUndefined:
      return "";
    case Type::kNone:
      return "None";
    case Type::kBool:
      return b_ ? "True" : "False";
    case Type::kInt:
      return std::to_string(i_);
    case Type::kFloat:
      return FormatFloat(d_);
    case Type::kString:
      return PyQuote(*s_);
    case Type::kList: {
      std::string out = "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].Repr();
      return out + "]";
    }
    case Type::kDict: {
      std::string out = dict_->is_namespace ? "<Namespace {" : "{";
      for (size_t i = 0; i < dict_->items.size(); ++i) {
        out +=
            (i ? ", " : "") + PyQuote(dict_->items[i].first) + ": " + dict_->items[i].second.Repr();
      }
      return out + (dict_->is_namespace ? "}>" : "}");
    }
    case Type::kFunction:
      return "<function " + fn_->name + ">";
  }
  return "";
}

Result<std::string> Value::ToJson(int indent, bool sort_keys) const {
  std::string out;
  ANEC_RETURN_IF_ERROR(ToJsonImpl(*this, indent, sort_keys, 0, &out));
  return out;
}

std::string Value::TypeName() const {
  switch (type_) {
    case Type::kUndefined:
      return "undefined";
    case Type::kNone:
      return "none";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kFloat:
      return "float";
    case Type::kString:
      return "string";
    case Type::kList:
      return "list";
    case Type::kDict:
      return "dict";
    case Type::kFunction:
      return "function";
  }
  return "?";
}

bool Value::Equals(const Value& o) const {
  if ((is_number() || is_bool()) && (o.is_number() || o.is_bool())) {
    if (is_float() || o.is_float()) return as_double() == o.as_double();
    return (is_bool() ? b_ : i_) == (o.is_bool() ? o.b_ : o.i_);
  }
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kUndefined:
    case Type::kNone:
      return true;
    case Type::kString:
      return *s_ == *o.s_;
    case Type::kList:
      if (list_->size() != o.list_->size()) return false;
      for (size_t i = 0; i < list_->size(); ++i) {
        if (!(*list_)[i].Equals((*o.list_)[i])) return false;
      }
      return true;
    case Type::kDict:
      if (dict_->items.size() != o.dict_->items.size()) return false;
      for (const auto& [k, v] : dict_->items) {
        const Value* other = o.dict_->Find(k);
        if (!other || !v.Equals(*other)) return false;
      }
      return true;
    case Type::kFunction:
      return fn_ == o.fn_;
    default:
      return false;
  }
}

Result<int> Value::Compare(const Value& o) const {
  if ((is_number() || is_bool()) && (o.is_number() || o.is_bool())) {
    double a = is_bool() ? b_ : as_double(), b = o.is_bool() ? o.b_ : o.as_double();
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (is_string() && o.is_string()) {
    int c = s_->compare(*o.s_);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (is_list() && o.is_list()) {
    for (size_t i = 0; i < list_->size() && i < o.list_->size(); ++i) {
      ANEC_ASSIGN_OR_RETURN(int c, (*list_)[i].Compare((*o.list_)[i]));
      if (c) return c;
    }
    return list_->size() < o.list_->size() ? -1 : list_->size() > o.list_->size() ? 1 : 0;
  }
  return InvalidArgument("'<' not supported between instances of '{}' and '{}'", TypeName(),
                         o.TypeName());
}

std::vector<uint32_t> ToCodePoints(std::string_view s) {
  std::vector<uint32_t> cps;
  for (size_t pos = 0; pos < s.size();) {
    uint32_t cp = 0xFFFD;
    size_t n = DecodeUtf8At(s, pos, &cp);
    if (n == 0) n = InvalidSubpartLength(s, pos);
    cps.push_back(cp);
    pos += n;
  }
  return cps;
}

std::string FromCodePoints(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end && i < cps.size(); ++i) AppendUtf8(cps[i], &out);
  return out;
}

}  // namespace anec::text::jinja
