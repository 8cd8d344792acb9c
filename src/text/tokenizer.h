// Tokenizer: text <-> token ids from a Hugging Face tokenizer.json, matching the `tokenizers`
// library id for id (see docs/TEXT.md for the supported components).
//
// Encode pipeline: added tokens with normalized=false are cut out of the raw text; the rest is
// normalized, then added tokens with normalized=true are cut out; each remaining piece is
// pre-tokenized into words, and each word is BPE-encoded. With add_special_tokens the
// post-processor template (e.g. a leading BOS) is applied.
//
// Thread-safe for concurrent Encode/Decode after construction. Movable, not copyable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "text/added_vocabulary.h"
#include "text/tokenizer_config.h"

namespace anec::text {

class BpeModel;
class Normalizer;
class PreTokenizer;
class Decoder;
class PostProcessor;

class Tokenizer {
 public:
  static Result<Tokenizer> FromJson(std::string_view json_text);
  static Result<Tokenizer> FromJsonFile(FileSystem* fs, const std::string& path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Takes bos/eos names and the chat template from tokenizer_config.json. Errors if a named
  // token is not in the vocabulary.
  Status ApplyConfig(const TokenizerConfig& config);

  // Invalid UTF-8 in `text` is first replaced by U+FFFD (Python strings cannot hold it).
  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const;
  // Unknown ids are skipped. With skip_special, added tokens marked special are skipped.
  std::string Decode(std::span<const int32_t> ids, bool skip_special) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The raw vocabulary string (byte-level alphabet, ▁...), "" for an unknown id.
  std::string IdToToken(int32_t id) const;
  // One past the largest id (model vocabulary and added tokens).
  size_t vocab_size() const;
  bool IsSpecial(int32_t id) const;

  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }
  const std::string& chat_template() const { return chat_template_; }

 private:
  Tokenizer();
  void EncodePlain(std::string_view text, bool at_text_start, std::vector<int32_t>* ids) const;

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<PostProcessor> post_processor_;
  AddedTokenMatcher raw_matcher_;         // normalized=false tokens
  AddedTokenMatcher normalized_matcher_;  // normalized=true tokens
  std::unordered_map<int32_t, AddedToken> added_by_id_;
  std::unordered_map<std::string, int32_t> added_by_content_;
  std::optional<int32_t> bos_id_, eos_id_;
  std::string bos_token_, eos_token_, chat_template_;
};

}  // namespace anec::text
