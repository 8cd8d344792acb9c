#include "anemll_paths.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <regex>

namespace anec::contract {

std::string RuntimeName(AnemllRuntime r) {
  switch (r) {
    case AnemllRuntime::kChatPy034:
      return "chat.py 0.3.4";
    case AnemllRuntime::kChatFullPy034:
      return "chat_full.py 0.3.4";
    case AnemllRuntime::kSwiftCli034:
      return "Swift CLI 0.3.4";
    case AnemllRuntime::kChatPy035:
      return "chat.py 0.3.5";
    case AnemllRuntime::kChatFullPy035:
      return "chat_full.py 0.3.5";
    case AnemllRuntime::kSwiftCli035:
      return "Swift CLI 0.3.5";
  }
  return "?";
}

std::vector<AnemllRuntime> AllRuntimes() {
  return {AnemllRuntime::kChatPy034, AnemllRuntime::kChatFullPy034, AnemllRuntime::kSwiftCli034,
          AnemllRuntime::kChatPy035, AnemllRuntime::kChatFullPy035, AnemllRuntime::kSwiftCli035};
}

bool IsSwift(AnemllRuntime r) {
  return r == AnemllRuntime::kSwiftCli034 || r == AnemllRuntime::kSwiftCli035;
}

bool Is035(AnemllRuntime r) {
  return r == AnemllRuntime::kChatPy035 || r == AnemllRuntime::kChatFullPy035 ||
         r == AnemllRuntime::kSwiftCli035;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string SourcePackage(const std::string& name) {
  if (!EndsWith(name, ".mlmodelc")) return name;
  return name.substr(0, name.size() - 9) + ".mlpackage";
}

// ---- meta.yaml ----

std::optional<std::string> MetaParams::Get(const std::string& key) const {
  auto it = scalars.find(key);
  if (it == scalars.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> MetaParams::Int(const std::string& key) const {
  std::optional<std::string> s = Get(key);
  if (!s || s->empty()) return std::nullopt;
  int64_t v = 0;
  const char* end = s->data() + s->size();
  auto [p, ec] = std::from_chars(s->data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<bool> MetaParams::Bool(const std::string& key) const {
  std::optional<std::string> s = Get(key);
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "True") return true;
  if (*s == "false" || *s == "False") return false;
  return std::nullopt;
}

std::optional<std::vector<int64_t>> MetaParams::IntList(const std::string& key) const {
  auto it = lists.find(key);
  if (it == lists.end()) return std::nullopt;
  std::vector<int64_t> out;
  for (const std::string& s : it->second) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    out.push_back(v);
  }
  return out;
}

Result<MetaParams> ParseMeta(std::string_view yaml_text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Corrupt("{}: not YAML: {}", path, e.what());
  }
  // chat.py / chat_full.py: meta['model_info']['parameters'] (parse_args); Swift CLI:
  // YAMLConfig.load requires model_info and model_info.parameters.
  YAML::Node info = root["model_info"];
  if (!info || !info.IsMap()) return Corrupt("{}: no model_info map", path);
  YAML::Node params = info["parameters"];
  if (!params || !params.IsMap()) return Corrupt("{}: no model_info.parameters map", path);
  MetaParams m;
  if (info["version"] && info["version"].IsScalar()) m.version = info["version"].Scalar();
  if (info["model_type"] && info["model_type"].IsScalar()) {
    m.model_type = info["model_type"].Scalar();
  }
  if (info["architecture"] && info["architecture"].IsScalar()) {
    m.architecture = info["architecture"].Scalar();
  }
  for (const auto& kv : params) {
    const std::string key = kv.first.Scalar();
    if (kv.second.IsScalar()) {
      m.scalars[key] = kv.second.Scalar();
    } else if (kv.second.IsSequence()) {
      std::vector<std::string> items;
      for (const auto& item : kv.second) items.push_back(item.IsScalar() ? item.Scalar() : "?");
      m.lists[key] = std::move(items);
    }
  }
  return m;
}

// ---- folder listing ----

Result<FolderListing> FolderListing::OfDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return NotFound("{}: cannot list the folder: {}", dir, ec.message());
  FolderListing l;
  for (const auto& e : it) l.Add(e.path().filename().string());
  return l;
}

namespace {

bool GlobMatch(std::string_view pattern, std::string_view name) {
  // '*' only (the runtimes' patterns use no other wildcard).
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

std::vector<std::string> FolderListing::Glob(const std::string& pattern) const {
  std::vector<std::string> out;
  for (const std::string& n : names_) {
    // glob.glob's '*' does not match a leading dot.
    if (!n.empty() && n[0] == '.' && (pattern.empty() || pattern[0] != '.')) continue;
    if (GlobMatch(pattern, n)) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---- compile_on_mac.sh ----

namespace {

// Splits a shell line into words, honouring single quotes (the script quotes every name).
Result<std::vector<std::string>> ShellWords(std::string_view line, int line_no) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false, quoted = false;
  for (char c : line) {
    if (quoted) {
      if (c == '\'') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '\'') {
      quoted = in_word = true;
    } else if (c == '\\' || c == '"' || c == '$' || c == '`') {
      return InvalidArgument("compile_on_mac.sh line {}: unexpected '{}' in a compile line",
                             line_no, c);
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quoted) return InvalidArgument("compile_on_mac.sh line {}: unterminated quote", line_no);
  if (in_word) words.push_back(std::move(cur));
  return words;
}

}  // namespace

Result<std::vector<CompileStep>> ParseCompileScript(std::string_view text) {
  std::vector<CompileStep> steps;
  int line_no = 0;
  size_t start = 0;
  bool saw_cd = false;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    ++line_no;
    start = end + 1;
    if (line.find("cd \"$(dirname \"$0\")\"") != std::string_view::npos) saw_cd = true;
    if (line.rfind("xcrun coremlcompiler", 0) != 0) continue;
    ANEC_ASSIGN_OR_RETURN(std::vector<std::string> w, ShellWords(line, line_no));
    if (w.size() != 5 || w[2] != "compile") {
      return InvalidArgument(
          "compile_on_mac.sh line {}: expected `xcrun coremlcompiler compile "
          "X.mlpackage .`, found `{}`",
          line_no, line);
    }
    if (w[4] != ".") {
      return InvalidArgument("compile_on_mac.sh line {}: output folder '{}', expected '.'", line_no,
                             w[4]);
    }
    if (!saw_cd) {
      return InvalidArgument(
          "compile_on_mac.sh line {}: compiles before changing to the script's "
          "folder, so `.` would be the caller's folder",
          line_no);
    }
    if (!EndsWith(w[3], ".mlpackage") || w[3].find('/') != std::string::npos) {
      return InvalidArgument("compile_on_mac.sh line {}: input '{}' is not a .mlpackage name",
                             line_no, w[3]);
    }
    steps.push_back({w[3], w[3].substr(0, w[3].size() - 10) + ".mlmodelc"});
  }
  return steps;
}

FolderListing AfterCompile(const FolderListing& listing, const std::vector<CompileStep>& steps) {
  FolderListing out = listing;
  for (const CompileStep& s : steps) {
    if (listing.Exists(s.package)) out.Add(s.compiled);  // xcrun fails on a missing input
  }
  return out;
}

// ---- path rules ----

namespace {

// pathlib.Path.with_suffix on a file name: replaces the part from the last dot (not a leading
// one), or appends.
std::string WithSuffix(const std::string& name, const std::string& suffix) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return name + suffix;
  return name.substr(0, dot) + suffix;
}

std::string Suffix(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? "" : name.substr(dot);
}

// Python runtimes: `_lut{v}` unless the value is the string 'none' (parse_args of chat.py and
// chat_full.py, both versions). A missing key is a KeyError there.
Result<std::string> PyLut(const MetaParams& m, const std::string& key, AnemllRuntime r) {
  std::optional<std::string> v = m.Get(key);
  if (!v)
    return InvalidArgument("{}: meta.yaml has no {} (KeyError in parse_args)", RuntimeName(r), key);
  return *v == "none" ? std::string() : "_lut" + *v;
}

// Swift CLI: `String(params[key] as? Int ?? -1)`, suffix only when not -1 (YAMLConfig.load).
std::string SwiftLut(const MetaParams& m, const std::string& key) {
  std::optional<int64_t> v = m.Int(key);
  return v && *v != -1 ? "_lut" + std::to_string(*v) : std::string();
}

// chat.py / chat_full.py parse_model_path (both versions): the name as given, then with
// .mlmodelc / .mlpackage as suffix (Path.with_suffix), then with either appended; an embeddings
// name with `_lut` falls back to the name cut at `_lut`. 0.3.5 adds: a name without `_chunk_`
// matches the first of `{base}_chunk_*of*.mlmodelc`, else of `{base}_chunk_*of*.mlpackage`.
Result<std::string> PyParseModelPath(const std::string& name, const FolderListing& l,
                                     AnemllRuntime r) {
  std::vector<std::string> tried = {name, WithSuffix(name, ".mlmodelc"),
                                    WithSuffix(name, ".mlpackage"), name + ".mlmodelc",
                                    name + ".mlpackage"};
  for (const std::string& c : tried) {
    if (l.Exists(c)) return c;
  }
  if (name.find("_lut") != std::string::npos && name.find("embeddings") != std::string::npos) {
    const std::string cut = name.substr(0, name.find("_lut"));
    for (const std::string& c : {cut, WithSuffix(cut, ".mlmodelc"), WithSuffix(cut, ".mlpackage"),
                                 cut + ".mlmodelc", cut + ".mlpackage"}) {
      if (l.Exists(c)) return c;
      tried.push_back(c);
    }
  }
  if (Is035(r)) {
    const std::string suffix = Suffix(name);
    const std::string base =
        suffix == ".mlmodelc" || suffix == ".mlpackage" ? WithSuffix(name, "") : name;
    if (base.find("_chunk_") == std::string::npos) {
      std::vector<std::string> c = l.Glob(base + "_chunk_*of*.mlmodelc");
      if (c.empty()) c = l.Glob(base + "_chunk_*of*.mlpackage");
      if (!c.empty()) return c[0];
    }
  }
  return NotFound("{}: model not found (FileNotFoundError in parse_model_path); tried {}",
                  RuntimeName(r), fmt::format("{}", fmt::join(tried, ", ")));
}

// parse_ffn_filename: 0.3.4 (both scripts) and chat_full.py 0.3.5 match `FFN_PF.*_chunk_(\d+)of
// (\d+)` in the file name; chat.py 0.3.5 matches `FFN[^/]*_chunk_(\d+)of(\d+)`.
// find_all_chunks: the path with every `_chunk_\d+of\d+` replaced by `_chunk_*`, globbed and
// sorted; load_models requires as many matches as the NN of the name.
Result<std::vector<std::string>> PyChunks(const std::string& first, const FolderListing& l,
                                          AnemllRuntime r) {
  const std::regex name_rule(r == AnemllRuntime::kChatPy035 ? "FFN[^/]*_chunk_(\\d+)of(\\d+)"
                                                            : "FFN_PF.*_chunk_(\\d+)of(\\d+)");
  std::smatch m;
  if (!std::regex_search(first, m, name_rule)) {
    return InvalidArgument(
        "{}: '{}' has no chunk number, so load_models would load it as one "
        "single-function FFN model (no infer/prefill)",
        RuntimeName(r), first);
  }
  const int total = std::stoi(m[2].str());
  const std::string pattern =
      std::regex_replace(first, std::regex("_chunk_\\d+of\\d+"), std::string("_chunk_*"));
  std::vector<std::string> chunks = l.Glob(pattern);
  if (static_cast<int>(chunks.size()) != total) {
    return InvalidArgument(
        "{}: found {} chunks matching {} but the name says {} (ValueError in "
        "load_models)",
        RuntimeName(r), chunks.size(), pattern, total);
  }
  return chunks;
}

std::string StripModelExt(std::string s) {
  // chat.py 0.3.5 parse_args `_strip_model_ext`: removes every `.mlmodelc` and `.mlpackage`.
  for (const std::string ext : {".mlmodelc", ".mlpackage"}) {
    for (size_t p = s.find(ext); p != std::string::npos; p = s.find(ext)) s.erase(p, ext.size());
  }
  return s;
}

Result<ResolvedFiles> ResolvePython(AnemllRuntime r, const MetaParams& m, const FolderListing& l) {
  // parse_args (all four scripts): model_prefix defaults to 'llama'; num_chunks is required.
  const std::string prefix = m.Get("model_prefix").value_or("llama");
  ANEC_ASSIGN_OR_RETURN(std::string lut_ffn, PyLut(m, "lut_ffn", r));
  ANEC_ASSIGN_OR_RETURN(std::string lut_head, PyLut(m, "lut_lmhead", r));
  ANEC_ASSIGN_OR_RETURN(std::string lut_emb, PyLut(m, "lut_embeddings", r));
  std::optional<int64_t> nn = m.Int("num_chunks");
  if (!nn) return InvalidArgument("{}: meta.yaml num_chunks is not an integer", RuntimeName(r));
  const std::string default_ffn = fmt::format("{}_FFN_PF{}_chunk_01of{:02d}", prefix, lut_ffn, *nn);
  std::string embed = prefix + "_embeddings" + lut_emb;
  std::string head = prefix + "_lm_head" + lut_head;
  std::string ffn = default_ffn;
  if (r == AnemllRuntime::kChatPy035) {
    // chat.py 0.3.5 parse_args: the `lm_head` / `embeddings` keys win (extensions stripped);
    // `ffn` without `_chunk_` is replaced by the default first-chunk name when that exists as
    // .mlmodelc or .mlpackage, else kept (parse_model_path then looks for its chunks).
    if (auto v = m.Get("lm_head")) head = StripModelExt(*v);
    if (auto v = m.Get("embeddings")) embed = StripModelExt(*v);
    if (auto v = m.Get("ffn")) {
      const std::string candidate = StripModelExt(*v);
      if (candidate.find("_chunk_") == std::string::npos) {
        ffn = l.Exists(default_ffn + ".mlmodelc") || l.Exists(default_ffn + ".mlpackage")
                  ? default_ffn
                  : candidate;
      } else {
        ffn = candidate;
      }
    }
  }
  // (0.3.4 and chat_full.py 0.3.5 ignore the embeddings / lm_head / ffn keys.)
  ResolvedFiles out;
  ANEC_ASSIGN_OR_RETURN(out.embeddings, PyParseModelPath(embed, l, r));
  ANEC_ASSIGN_OR_RETURN(out.lm_head, PyParseModelPath(head, l, r));
  ANEC_ASSIGN_OR_RETURN(std::string first, PyParseModelPath(ffn, l, r));
  ANEC_ASSIGN_OR_RETURN(out.chunks, PyChunks(first, l, r));
  return out;
}

// Swift CLI, both versions (YAMLConfig.load, YAMLConfig.init(from:), ModelLoader.loadModel).
Result<ResolvedFiles> ResolveSwift(AnemllRuntime r, const MetaParams& m, const FolderListing& l) {
  const std::string prefix = m.Get("model_prefix").value_or("llama");
  const std::string lut_ffn = SwiftLut(m, "lut_ffn");
  const std::string lut_head = SwiftLut(m, "lut_lmhead");
  const std::string lut_emb = SwiftLut(m, "lut_embeddings");
  const int64_t n = m.Int("num_chunks").value_or(1);
  ResolvedFiles out;
  // YAMLConfig.load: a defined `embeddings` / `lm_head` is used verbatim (baseDir/name), else
  // `{prefix}_embeddings[_lutN].mlmodelc` / `{prefix}_lm_head[_lutN].mlmodelc`.
  out.embeddings = m.Get("embeddings").value_or(prefix + "_embeddings" + lut_emb + ".mlmodelc");
  out.lm_head = m.Get("lm_head").value_or(prefix + "_lm_head" + lut_head + ".mlmodelc");
  // YAMLConfig.load, `ffn` defined: used if it exists; else with one chunk, `.mlmodelc` removed
  // and `_chunk_01of01.mlmodelc` appended if that exists; else kept. Not defined: with several
  // chunks `{prefix}_FFN_PF[_lutN]_chunk_01ofNN.mlmodelc`; with one, the `_chunk_01of01` name
  // if it exists, else `{prefix}_FFN_PF[_lutN].mlmodelc`.
  std::string ffn;
  if (auto defined = m.Get("ffn")) {
    ffn = *defined;
    if (!l.Exists(ffn) && n == 1) {
      std::string base = *defined;
      for (size_t p = base.find(".mlmodelc"); p != std::string::npos; p = base.find(".mlmodelc")) {
        base.erase(p, 9);
      }
      if (l.Exists(base + "_chunk_01of01.mlmodelc")) ffn = base + "_chunk_01of01.mlmodelc";
    }
  } else if (n > 1) {
    ffn = fmt::format("{}_FFN_PF{}_chunk_01of{:02d}.mlmodelc", prefix, lut_ffn, n);
  } else {
    const std::string base = prefix + "_FFN_PF" + lut_ffn;
    ffn = l.Exists(base + "_chunk_01of01.mlmodelc") ? base + "_chunk_01of01.mlmodelc"
                                                    : base + ".mlmodelc";
  }
  // YAMLConfig.init(from:): several chunks and no `_chunk_01of` in the path: a trailing
  // `.mlmodelc` is dropped and `_chunk_01ofNN.mlmodelc` appended.
  if (n > 1 && ffn.find("_chunk_01of") == std::string::npos) {
    std::string base = ffn;
    if (EndsWith(base, ".mlmodelc")) base.resize(base.size() - 9);
    ffn = fmt::format("{}_chunk_01of{:02d}.mlmodelc", base, n);
  }
  // ModelLoader.loadModel: embeddings and LM head must exist; chunk i is the path with
  // `_chunk_\d+of` replaced by `_chunk_{i:02}of` (or, without `_chunk_` and several chunks, the
  // base with `_chunk_{i:02}of{NN}.mlmodelc`); a missing chunk is skipped and then the count
  // check fails.
  for (const std::string* p : {&out.embeddings, &out.lm_head}) {
    if (!l.Exists(*p)) {
      return NotFound("{}: {} not found (ModelLoader: failedToLoadModel)", RuntimeName(r), *p);
    }
  }
  for (int64_t i = 1; i <= n; ++i) {
    std::string chunk;
    if (ffn.find("_chunk_") != std::string::npos) {
      chunk =
          std::regex_replace(ffn, std::regex("_chunk_\\d+of"), fmt::format("_chunk_{:02d}of", i));
    } else if (n > 1) {
      std::string base = ffn;
      if (EndsWith(base, ".mlmodelc")) base.resize(base.size() - 9);
      chunk = fmt::format("{}_chunk_{:02d}of{:02d}.mlmodelc", base, i, n);
    } else {
      chunk = ffn;
    }
    if (!l.Exists(chunk)) {
      return NotFound("{}: FFN chunk {} not found at {} (ModelLoader: expected {} chunks)",
                      RuntimeName(r), i, chunk, n);
    }
    out.chunks.push_back(chunk);
  }
  // MLModel(contentsOf:) loads compiled models only.
  for (const std::string& f : out.chunks) {
    if (!EndsWith(f, ".mlmodelc")) {
      return InvalidArgument("{}: {} is not a compiled .mlmodelc", RuntimeName(r), f);
    }
  }
  return out;
}

}  // namespace

Result<ResolvedFiles> ResolveFiles(AnemllRuntime runtime, const MetaParams& meta,
                                   const FolderListing& listing) {
  if (!meta.model_type.empty() && meta.model_type != "chunked" && Is035(runtime)) {
    return Unsupported("{}: model_type '{}' is not the chunked layout", RuntimeName(runtime),
                       meta.model_type);
  }
  return IsSwift(runtime) ? ResolveSwift(runtime, meta, listing)
                          : ResolvePython(runtime, meta, listing);
}

}  // namespace anec::contract
