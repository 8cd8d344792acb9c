// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): vocabulary, ranked merges,
// byte_fallback, unk/fuse_unk and ignore_merges, as Hugging Face `tokenizers` applies them.
//
// A word is split into characters, each mapped to its id (unknown characters become <0xXX> byte
// tokens with byte_fallback, else the unk token, else are dropped), then the adjacent pair with
// the lowest merge rank (leftmost on ties) is merged until no ranked pair remains. Results are
// cached per word. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "text/json_util.h"

namespace anec::text {

class BpeModel {
 public:
  // `j` is the value of "model". Errors name the field (vocab, merges, unk_token...).
  static Result<std::unique_ptr<BpeModel>> FromJson(const Json& j);

  // Appends the ids of one pre-tokenized word.
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // Empty if `id` has no token in the model vocabulary.
  std::string_view IdToToken(int32_t id) const;
  // One past the largest id in the vocabulary.
  size_t size() const { return id_to_token_.size(); }
  bool byte_fallback() const { return byte_fallback_; }

 private:
  BpeModel() = default;
  void EncodeUncached(std::string_view word, std::vector<int32_t>* ids) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;
  struct MergeInfo {
    int32_t rank;
    int32_t new_id;
  };
  std::unordered_map<uint64_t, MergeInfo> merges_;  // key: (left id << 32) | right id
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int32_t byte_ids_[256];  // <0xXX> token ids, -1 if absent

  static constexpr size_t kMaxCacheEntries = 1 << 16;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace anec::text
