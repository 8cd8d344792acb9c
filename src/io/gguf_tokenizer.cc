#include "io/gguf_tokenizer.h"

#include <nlohmann/json.hpp>

namespace anec::io {
namespace {

using nlohmann::json;

// Regexes of the Hugging Face tokenizers these GGUF pre-tokenizer names stand for.
constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json ByteLevel(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
          {"use_regex", use_regex}};
}
json SplitRegex(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"},
          {"invert", false}};
}

// tokenizer.ggml.pre -> Hugging Face pre_tokenizer.
struct PreRow {
  const char* names[4];
  json (*make)();
};
const PreRow kPreTable[] = {
    {{"gpt2", "default", "mpt", "olmo"}, [] { return ByteLevel(true); }},
    {{"smollm", "starcoder", "refact", "codeshell"},
     [] {
       return json{{"type", "Sequence"},
                   {"pretokenizers",
                    {json{{"type", "Digits"}, {"individual_digits", true}}, ByteLevel(true)}}};
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
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

}  // namespace

Result<HfTokenizerFiles> BuildHfTokenizerFiles(const GgufFile& f) {
  ANEC_ASSIGN_OR_RETURN(std::string model, f.GetString("tokenizer.ggml.model"));
  if (model != "gpt2") {
    return Unsupported("{}: tokenizer.ggml.model is '{}'; anec rebuilds tokenizer.json only for "
                       "byte-level BPE ('gpt2') vocabularies so far. Put the model's original "
                       "tokenizer.json next to the output instead", f.path(), model);
  }
  std::string pre = "default";
  if (f.Has("tokenizer.ggml.pre")) {
    ANEC_ASSIGN_OR_RETURN(pre, f.GetString("tokenizer.ggml.pre"));
  }
  const PreRow* pre_row = nullptr;
  for (const PreRow& r : kPreTable)
    for (const char* n : r.names)
      if (n != nullptr && pre == n) pre_row = &r;
  if (pre_row == nullptr) {
    return Unsupported("{}: tokenizer.ggml.pre '{}' is not in anec's pre-tokenizer table (known: "
                       "gpt2, smollm, starcoder, llama3/llama-bpe, qwen2)", f.path(), pre);
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<std::string> tokens, f.GetStringArray("tokenizer.ggml.tokens"));
  ANEC_ASSIGN_OR_RETURN(std::vector<std::string> merges, f.GetStringArray("tokenizer.ggml.merges"));
  std::vector<int64_t> types(tokens.size(), 1);
  if (f.Has("tokenizer.ggml.token_type")) {
    ANEC_ASSIGN_OR_RETURN(types, f.GetIntArray("tokenizer.ggml.token_type"));
    if (types.size() != tokens.size()) {
      return Corrupt("{}: tokenizer.ggml.token_type has {} entries but there are {} tokens",
                     f.path(), types.size(), tokens.size());
    }
  }
  json vocab = json::object();
  json added = json::array();
  json added_decoder = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) {
    vocab[tokens[i]] = i;
    if (types[i] == kTokenControl || types[i] == kTokenUserDefined) {
      bool special = types[i] == kTokenControl;
      json t = {{"id", i}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", !special}, {"special", special}};
      added.push_back(t);
      json d = t;
      d.erase("id");
      added_decoder[std::to_string(i)] = d;
    }
  }
  json tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_row->make()},
      {"post_processor", nullptr},
      {"decoder", ByteLevel(true)},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
        {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", merges}}},
  };
  auto token_name = [&](const char* key) -> json {
    auto id = f.GetInt(key);
    if (!id.ok() || *id < 0 || static_cast<size_t>(*id) >= tokens.size()) return nullptr;
    return tokens[static_cast<size_t>(*id)];
  };
  json cfg = {
      {"tokenizer_class", "PreTrainedTokenizerFast"},
      {"add_bos_token", false},
      {"add_eos_token", false},
      {"bos_token", token_name("tokenizer.ggml.bos_token_id")},
      {"eos_token", token_name("tokenizer.ggml.eos_token_id")},
      {"unk_token", token_name("tokenizer.ggml.unknown_token_id")},
      {"pad_token", token_name("tokenizer.ggml.padding_token_id")},
      {"added_tokens_decoder", added_decoder},
      {"clean_up_tokenization_spaces", false},
      {"model_max_length", 1000000000},
  };
  if (f.Has("tokenizer.ggml.add_bos_token")) {
    ANEC_ASSIGN_OR_RETURN(int64_t add_bos, f.GetInt("tokenizer.ggml.add_bos_token"));
    cfg["add_bos_token"] = add_bos != 0;
  }
  if (f.Has("tokenizer.chat_template")) {
    ANEC_ASSIGN_OR_RETURN(std::string tmpl, f.GetString("tokenizer.chat_template"));
    cfg["chat_template"] = tmpl;
  }
  return HfTokenizerFiles{tok.dump(2), cfg.dump(2)};
}

}  // namespace anec::io
