#include "io/gguf_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_map>

namespace anec::io {
namespace {

using nlohmann::json;

// Regexes of the Hugging Face tokenizers these GGUF pre-tokenizer names stand for.
constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kMetaspace = "\xE2\x96\x81";  // "▁", SentencePiece's visible space

json ByteLevel(bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", true},
          {"use_regex", use_regex}};
}
json SplitRegex(const char* regex) {
  return {{"type", "Split"},
          {"pattern", {{"Regex", regex}}},
          {"behavior", "Isolated"},
          {"invert", false}};
}

// tokenizer.ggml.pre -> Hugging Face pre_tokenizer.
struct PreRow {
  const char* names[4];
  json (*make)();
};
const PreRow kPreTable[] = {
    {{"gpt2", "default", "mpt", "olmo"}, [] { return ByteLevel(true); }},
    // llama.cpp isolates every digit for these (its regex list starts with \p{N}), as the
    // original SmolLM/StarCoder tokenizer.json files do with Digits(individual_digits). Written as
    // the equivalent isolating Split, which every reader (src/text too) knows. transformers' own
    // GGUF loader leaves this split out, which changes ids around digits ("4 \n8").
    {{"smollm", "starcoder", "refact", "codeshell"},
     [] {
       return json{{"type", "Sequence"},
                   {"pretokenizers", {SplitRegex("\\p{N}"), ByteLevel(true)}}};
     }},
    {{"llama3", "llama-bpe", "llama-v3", nullptr},
     [] {
       return json{{"type", "Sequence"},
                   {"pretokenizers", {SplitRegex(kLlama3Regex), ByteLevel(false)}}};
     }},
    {{"qwen2", "qwen3", nullptr, nullptr},
     [] {
       return json{{"type", "Sequence"},
                   {"pretokenizers", {SplitRegex(kQwen2Regex), ByteLevel(false)}}};
     }},
};

// GGUF token types.
constexpr int64_t kTokenUnknown = 2;
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes
// (controls, space, DEL, NBSP, soft hyphen) for U+0100.. in byte order.
bool IsPrintableByte(uint32_t b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}
void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {  // the alphabet stays below U+0800: two bytes
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}
// True when every character of `s` is a letter of the byte-level alphabet.
bool IsByteLevelSpelled(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return false;  // three- and four-byte characters are never letters of the alphabet
    }
    if (!IsPrintableByte(cp) && !(cp >= 256 && cp < 256 + 68)) return false;
  }
  return true;
}
// Spells raw UTF-8 text in the byte-level alphabet (transformers does this to GGUF tokens that are
// stored raw, e.g. a token containing a real space).
std::string ByteLevelSpelling(const std::string& s) {
  std::string out;
  for (char ch : s) {
    auto b = static_cast<unsigned char>(ch);
    uint32_t cp = b;
    if (!IsPrintableByte(b)) {
      uint32_t n = 0;
      for (uint32_t x = 0; x < b; ++x) n += IsPrintableByte(x) ? 0 : 1;
      cp = 256 + n;
    }
    AppendUtf8(cp, out);
  }
  return out;
}

// Byte offsets of the UTF-8 code point boundaries strictly inside `s` (a continuation byte is
// 10xxxxxx), so splits never cut a character, as Python's str slicing does.
std::vector<size_t> InnerCharBoundaries(const std::string& s) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) cuts.push_back(i);
  }
  return cuts;
}
size_t CharCount(const std::string& s) {
  return InnerCharBoundaries(s).size() + (s.empty() ? 0 : 1);
}

// Merges of a SentencePiece BPE vocabulary, recovered as Hugging Face's converters do
// (transformers' generate_merges with vocab scores): every way to cut a token into two vocabulary
// tokens is a merge ranked by the token's score, higher first; ties by longer left part, then
// longer right part, then token order, then the ids of the two parts.
json DeriveSpmMerges(const std::vector<std::string>& tokens, const std::vector<double>& scores) {
  // A repeated token keeps its last id and score but its first position, as a Python dict does.
  std::unordered_map<std::string, int64_t> id_of;
  std::unordered_map<std::string, double> score_of;
  std::vector<const std::string*> order;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (id_of.find(tokens[i]) == id_of.end()) order.push_back(&tokens[i]);
    id_of[tokens[i]] = static_cast<int64_t>(i);
    score_of[tokens[i]] = scores[i];
  }
  struct Merge {
    double score;
    size_t left_chars, right_chars;
    int64_t left_id, right_id;
    std::string left, right;
  };
  // Byte lengths of the vocabulary's tokens: a part of any other length cannot be a token, so
  // its cut is skipped without building and hashing it. Without this a single 200 KB token
  // (a hostile file) costs 200,000 lookups of 100 KB strings.
  std::vector<bool> is_token_length;
  for (const std::string* token : order) {
    if (token->size() >= is_token_length.size()) is_token_length.resize(token->size() + 1);
    is_token_length[token->size()] = true;
  }
  std::vector<Merge> merges;
  for (const std::string* token : order) {
    size_t first = merges.size();
    size_t chars = CharCount(*token);
    size_t left_chars = 0;
    for (size_t cut : InnerCharBoundaries(*token)) {
      ++left_chars;
      if (!is_token_length[cut] || !is_token_length[token->size() - cut]) continue;
      std::string left = token->substr(0, cut), right = token->substr(cut);
      auto l = id_of.find(left), r = id_of.find(right);
      if (l == id_of.end() || r == id_of.end()) continue;
      merges.push_back({score_of[*token], left_chars, chars - left_chars, l->second, r->second,
                        std::move(left), std::move(right)});
    }
    std::stable_sort(merges.begin() + first, merges.end(), [](const Merge& a, const Merge& b) {
      return std::tie(a.left_id, a.right_id) < std::tie(b.left_id, b.right_id);
    });
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::tie(a.score, a.left_chars, a.right_chars) >
           std::tie(b.score, b.left_chars, b.right_chars);
  });
  json out = json::array();
  for (Merge& m : merges) out.push_back(json::array({std::move(m.left), std::move(m.right)}));
  return out;
}

// Hugging Face's TemplateProcessing for "BOS? $A EOS?" (pairs: "... BOS?:1 $B:1 EOS?:1"), as
// transformers writes it for add_bos_token / add_eos_token.
json PostProcessor(const std::vector<std::string>& tokens, int64_t bos, int64_t eos, bool add_bos,
                   bool add_eos) {
  auto valid = [&](int64_t id) { return id >= 0 && static_cast<size_t>(id) < tokens.size(); };
  add_bos = add_bos && valid(bos);
  add_eos = add_eos && valid(eos);
  if (!add_bos && !add_eos) return nullptr;
  json single = json::array(), pair = json::array(), specials = json::object();
  auto special = [&](int64_t id, int type_id) {
    const std::string& t = tokens[static_cast<size_t>(id)];
    specials[t] = {{"id", t}, {"ids", {id}}, {"tokens", {t}}};
    return json{{"SpecialToken", {{"id", t}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* id, int type_id) {
    return json{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
  };
  for (int part = 0; part < 2; ++part) {
    if (add_bos) pair.push_back(special(bos, part));
    pair.push_back(sequence(part == 0 ? "A" : "B", part));
    if (add_eos) pair.push_back(special(eos, part));
  }
  if (add_bos) single.push_back(special(bos, 0));
  single.push_back(sequence("A", 0));
  if (add_eos) single.push_back(special(eos, 0));
  return {{"type", "TemplateProcessing"},
          {"single", single},
          {"pair", pair},
          {"special_tokens", specials}};
}

// Strings of the metadata are raw bytes but tokenizer.json is JSON: anything else than UTF-8 is
// an error here rather than an exception when the JSON is written.
Status CheckUtf8(const GgufFile& f, const char* key, size_t index, const std::string& s) {
  if (IsValidUtf8(s)) return Status::Ok();
  return Corrupt(
      "{}: {}[{}] is not valid UTF-8, so it cannot go into tokenizer.json; "
      "re-convert the GGUF with a current llama.cpp",
      f.path(), key, index);
}

Result<bool> GetBool(const GgufFile& f, const std::string& key, bool fallback) {
  if (!f.Has(key)) return fallback;
  ANEC_ASSIGN_OR_RETURN(int64_t v, f.GetInt(key));
  return v != 0;
}

int64_t TokenId(const GgufFile& f, const char* key) {
  auto id = f.GetInt(key);
  return id.ok() ? *id : -1;
}

// The pieces of tokenizer.json that depend on tokenizer.ggml.model.
struct ModelParts {
  json normalizer, pre_tokenizer, decoder, model;
  bool add_bos_default = false;
};

Result<ModelParts> Gpt2Parts(const GgufFile& f, json vocab) {
  std::string pre = "default";
  if (f.Has("tokenizer.ggml.pre")) {
    ANEC_ASSIGN_OR_RETURN(pre, f.GetString("tokenizer.ggml.pre"));
  }
  const PreRow* pre_row = nullptr;
  for (const PreRow& r : kPreTable)
    for (const char* n : r.names)
      if (n != nullptr && pre == n) pre_row = &r;
  if (pre_row == nullptr) {
    return Unsupported(
        "{}: tokenizer.ggml.pre '{}' is not in anec's pre-tokenizer table (known: "
        "gpt2, smollm, starcoder, llama3/llama-bpe, qwen2)",
        f.path(), pre);
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<std::string> merges, f.GetStringArray("tokenizer.ggml.merges"));
  for (size_t i = 0; i < merges.size(); ++i) {
    ANEC_RETURN_IF_ERROR(CheckUtf8(f, "tokenizer.ggml.merges", i, merges[i]));
  }
  ModelParts p;
  p.pre_tokenizer = pre_row->make();
  p.decoder = ByteLevel(true);
  p.model = {{"type", "BPE"},
             {"dropout", nullptr},
             {"unk_token", nullptr},
             {"continuing_subword_prefix", nullptr},
             {"end_of_word_suffix", nullptr},
             {"fuse_unk", false},
             {"byte_fallback", false},
             {"ignore_merges", false},
             {"vocab", std::move(vocab)},
             {"merges", merges}};
  return p;
}

Result<ModelParts> SentencePieceParts(const GgufFile& f, const std::vector<std::string>& tokens,
                                      json vocab) {
  if (!f.Has("tokenizer.ggml.scores")) {
    return InvalidArgument(
        "{}: tokenizer.ggml.scores is missing; a SentencePiece ('llama') "
        "vocabulary needs one score per token to order its merges",
        f.path());
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<double> scores, f.GetFloatArray("tokenizer.ggml.scores"));
  if (scores.size() != tokens.size()) {
    return Corrupt("{}: tokenizer.ggml.scores has {} entries but there are {} tokens", f.path(),
                   scores.size(), tokens.size());
  }
  std::string arch;
  if (f.Has("general.architecture")) {
    ANEC_ASSIGN_OR_RETURN(arch, f.GetString("general.architecture"));
  }
  if (arch.rfind("gemma", 0) == 0) {
    // Gemma stores runs of spaces raw and its scores do not follow its merge order.
    return Unsupported(
        "{}: the SentencePiece vocabulary of architecture '{}' is not rebuilt by "
        "anec (only Llama-style ones are). Put the model's original "
        "tokenizer.json next to the output instead",
        f.path(), arch);
  }
  ANEC_ASSIGN_OR_RETURN(bool prefix, GetBool(f, "tokenizer.ggml.add_space_prefix", true));
  int64_t unk = TokenId(f, "tokenizer.ggml.unknown_token_id");
  json unk_token = nullptr;
  if (unk >= 0 && static_cast<size_t>(unk) < tokens.size()) unk_token = tokens[unk];
  ModelParts p;
  p.add_bos_default = true;  // llama.cpp and transformers add BOS when the file does not say
  if (arch == "phi3") {
    // Phi-3's tokenizer.json adds the prefix with a normalizer, so "  hi" keeps both spaces, as
    // transformers rebuilds it for a phi3 GGUF.
    json steps = json::array();
    if (prefix) steps.push_back({{"type", "Prepend"}, {"prepend", kMetaspace}});
    steps.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMetaspace}});
    p.normalizer = {{"type", "Sequence"}, {"normalizers", steps}};
    p.pre_tokenizer = nullptr;
  } else {
    p.pre_tokenizer = {{"type", "Metaspace"},
                       {"replacement", kMetaspace},
                       {"prepend_scheme", prefix ? "first" : "never"},
                       {"split", false}};
  }
  json decoders = json::array(
      {json{{"type", "Replace"}, {"pattern", {{"String", kMetaspace}}}, {"content", " "}},
       json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}}});
  if (prefix) {
    decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  }
  p.decoder = {{"type", "Sequence"}, {"decoders", decoders}};
  p.model = {{"type", "BPE"},
             {"dropout", nullptr},
             {"unk_token", unk_token},
             {"continuing_subword_prefix", nullptr},
             {"end_of_word_suffix", nullptr},
             {"fuse_unk", true},
             {"byte_fallback", true},
             {"ignore_merges", false},
             {"vocab", std::move(vocab)},
             {"merges", DeriveSpmMerges(tokens, scores)}};
  return p;
}

}  // namespace

Result<HfTokenizerFiles> BuildHfTokenizerFiles(const GgufFile& f) {
  ANEC_ASSIGN_OR_RETURN(std::string model, f.GetString("tokenizer.ggml.model"));
  if (model != "gpt2" && model != "llama") {
    return Unsupported(
        "{}: tokenizer.ggml.model is '{}'; anec rebuilds tokenizer.json only for "
        "byte-level BPE ('gpt2') and SentencePiece BPE ('llama') vocabularies. "
        "Put the model's original tokenizer.json next to the output instead",
        f.path(), model);
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<std::string> tokens, f.GetStringArray("tokenizer.ggml.tokens"));
  for (size_t i = 0; i < tokens.size(); ++i) {
    ANEC_RETURN_IF_ERROR(CheckUtf8(f, "tokenizer.ggml.tokens", i, tokens[i]));
  }
  std::vector<int64_t> types(tokens.size(), 1);
  if (f.Has("tokenizer.ggml.token_type")) {
    ANEC_ASSIGN_OR_RETURN(types, f.GetIntArray("tokenizer.ggml.token_type"));
    if (types.size() != tokens.size()) {
      return Corrupt("{}: tokenizer.ggml.token_type has {} entries but there are {} tokens",
                     f.path(), types.size(), tokens.size());
    }
  }
  std::vector<int64_t> named_ids;
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
    named_ids.push_back(TokenId(f, key));
  }
  json vocab = json::object();
  json added = json::array();
  json added_decoder = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) {
    // A byte-level vocabulary spells every token in the byte alphabet. A token stored otherwise is
    // respelled for the vocabulary and, as in transformers, not matched as an added token.
    if (model == "gpt2" && !IsByteLevelSpelled(tokens[i])) {
      vocab[ByteLevelSpelling(tokens[i])] = i;
      continue;
    }
    vocab[tokens[i]] = i;
    bool named =
        std::find(named_ids.begin(), named_ids.end(), static_cast<int64_t>(i)) != named_ids.end();
    if (named || types[i] == kTokenUnknown || types[i] == kTokenControl ||
        types[i] == kTokenUserDefined) {
      // Matched on the raw text (normalized false), as transformers' GGUF loader adds them; the
      // unknown token and the bos/eos/unk/pad tokens are special there too.
      bool special = named || types[i] != kTokenUserDefined;
      json t = {{"id", i},           {"content", tokens[i]}, {"single_word", false},
                {"lstrip", false},   {"rstrip", false},      {"normalized", false},
                {"special", special}};
      added.push_back(t);
      json d = t;
      d.erase("id");
      added_decoder[std::to_string(i)] = d;
    }
  }
  ModelParts parts;
  if (model == "gpt2") {
    ANEC_ASSIGN_OR_RETURN(parts, Gpt2Parts(f, std::move(vocab)));
  } else {
    ANEC_ASSIGN_OR_RETURN(parts, SentencePieceParts(f, tokens, std::move(vocab)));
  }
  ANEC_ASSIGN_OR_RETURN(bool add_bos,
                        GetBool(f, "tokenizer.ggml.add_bos_token", parts.add_bos_default));
  ANEC_ASSIGN_OR_RETURN(bool add_eos, GetBool(f, "tokenizer.ggml.add_eos_token", false));
  int64_t bos = TokenId(f, "tokenizer.ggml.bos_token_id");
  int64_t eos = TokenId(f, "tokenizer.ggml.eos_token_id");
  json tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", std::move(parts.normalizer)},
      {"pre_tokenizer", std::move(parts.pre_tokenizer)},
      {"post_processor", PostProcessor(tokens, bos, eos, add_bos, add_eos)},
      {"decoder", std::move(parts.decoder)},
      {"model", std::move(parts.model)},
  };
  auto token_name = [&](const char* key) -> json {
    int64_t id = TokenId(f, key);
    if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return nullptr;
    return tokens[static_cast<size_t>(id)];
  };
  json cfg = {
      {"tokenizer_class", "PreTrainedTokenizerFast"},
      {"add_bos_token", add_bos},
      {"add_eos_token", add_eos},
      {"bos_token", token_name("tokenizer.ggml.bos_token_id")},
      {"eos_token", token_name("tokenizer.ggml.eos_token_id")},
      {"unk_token", token_name("tokenizer.ggml.unknown_token_id")},
      {"pad_token", token_name("tokenizer.ggml.padding_token_id")},
      {"added_tokens_decoder", added_decoder},
      {"clean_up_tokenization_spaces", false},
      {"model_max_length", 1000000000},
  };
  if (model == "llama") cfg["legacy"] = false;
  if (f.Has("tokenizer.chat_template")) {
    ANEC_ASSIGN_OR_RETURN(std::string tmpl, f.GetString("tokenizer.chat_template"));
    if (!IsValidUtf8(tmpl)) {
      return Corrupt(
          "{}: tokenizer.chat_template is not valid UTF-8, so it cannot go into "
          "tokenizer_config.json; re-convert the GGUF with a current llama.cpp",
          f.path());
    }
    cfg["chat_template"] = tmpl;
  }
  return HfTokenizerFiles{tok.dump(2), cfg.dump(2)};
}

}  // namespace anec::io
