// Built-in filters, tests, attribute/method lookup and global functions of the Jinja2 subset,
// with the semantics of jinja2 (and Python's str/dict methods) that chat templates rely on.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "text/jinja_value.h"

namespace anec::text::jinja {

// obj.name: dict methods (get, items, keys, values) and string methods (strip, split,
// startswith, replace, upper, ...) bind as functions; otherwise a dict entry; else undefined.
Result<Value> GetAttribute(const Value& obj, std::string_view name);
// obj[key]: dict entry, list/string element (negative indices count from the end); a missing
// entry is undefined; a string key on a non-dict falls back to GetAttribute.
Result<Value> GetItem(const Value& obj, const Value& key);
// obj[start:stop:step] on lists and strings (code points), Python semantics.
Result<Value> GetSlice(const Value& obj, const Value& start, const Value& stop, const Value& step);

Result<bool> ApplyTest(std::string_view name, const Value& v, const CallArgs& args);
Result<Value> ApplyFilter(std::string_view name, const Value& v, const CallArgs& args);

// Globals available to every template: range, namespace, dict.
Dict BuiltinGlobals();

// Python-style helpers shared with the evaluator.
std::string PyStrip(std::string_view s, const Value* chars, bool left, bool right);
Result<Value> Iterate(const Value& v, std::vector<Value>* items);  // list/dict keys/chars

}  // namespace anec::text::jinja
