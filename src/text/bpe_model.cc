#include "text/bpe_model.h"

#include <queue>

#include "text/utf8.h"

namespace anec::text {
namespace {

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

}  // namespace

Result<std::unique_ptr<BpeModel>> BpeModel::FromJson(const Json& j) {
  std::string type = JsonString(j, "type", "BPE");
  if (type != "BPE") {
    return Unsupported("tokenizer.json model type '{}' is not supported (only BPE)", type);
  }
  for (const char* field : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json* m = JsonMember(j, field);
    if (m && m->is_string() && !m->get<std::string>().empty()) {
      return Unsupported("tokenizer.json model.{} is set; anec's BPE does not support it", field);
    }
  }
  const Json* dropout = JsonMember(j, "dropout");
  if (dropout && dropout->is_number() && dropout->get<double>() > 0) {
    return Unsupported("tokenizer.json model.dropout is set; BPE dropout is training-only");
  }
  std::unique_ptr<BpeModel> m(new BpeModel());
  const Json* vocab = JsonMember(j, "vocab");
  if (!vocab || !vocab->is_object()) {
    return InvalidArgument("tokenizer.json model.vocab is missing or not an object");
  }
  int64_t max_id = -1;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX) {
      return InvalidArgument("tokenizer.json model.vocab['{}'] is not a non-negative id", it.key());
    }
    max_id = std::max(max_id, it.value().get<int64_t>());
  }
  if (max_id >= (int64_t{1} << 24)) {
    return InvalidArgument(
        "tokenizer.json model.vocab has id {}; ids above 16M are not supported "
        "(is the file corrupt?)",
        max_id);
  }
  m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  m->vocab_.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    int32_t id = static_cast<int32_t>(it.value().get<int64_t>());
    m->vocab_.emplace(it.key(), id);
    m->id_to_token_[id] = it.key();
  }
  const Json* merges = JsonMember(j, "merges");
  if (merges && !merges->is_array()) {
    return InvalidArgument("tokenizer.json model.merges is not an array");
  }
  if (merges) {
    m->merges_.reserve(merges->size());
    int32_t rank = 0;
    for (const Json& merge : *merges) {
      std::string left, right;
      if (merge.is_string()) {
        std::string s = merge.get<std::string>();
        size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
          return InvalidArgument("tokenizer.json model.merges[{}] '{}' is not 'left right'", rank,
                                 s);
        }
        left = s.substr(0, space);
        right = s.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                 merge[1].is_string()) {
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      } else {
        return InvalidArgument("tokenizer.json model.merges[{}] is neither 'a b' nor [a, b]", rank);
      }
      auto l = m->TokenToId(left), r = m->TokenToId(right), n = m->TokenToId(left + right);
      if (!l || !r || !n) {
        return InvalidArgument(
            "tokenizer.json model.merges[{}] ('{}' '{}') uses a token missing from model.vocab",
            rank, left, right);
      }
      m->merges_.emplace(PairKey(*l, *r), MergeInfo{rank, *n});  // first (best) rank wins
      ++rank;
    }
  }
  const Json* unk = JsonMember(j, "unk_token");
  if (unk && unk->is_string()) {
    auto id = m->TokenToId(unk->get<std::string>());
    if (!id) {
      return InvalidArgument("tokenizer.json model.unk_token '{}' is not in model.vocab",
                             unk->get<std::string>());
    }
    m->unk_id_ = id;
  }
  m->fuse_unk_ = JsonBool(j, "fuse_unk", false);
  m->byte_fallback_ = JsonBool(j, "byte_fallback", false);
  m->ignore_merges_ = JsonBool(j, "ignore_merges", false);
  for (int b = 0; b < 256; ++b) {
    auto id = m->TokenToId(fmt::format("<0x{:02X}>", b));
    m->byte_ids_[b] = id ? *id : -1;
  }
  return m;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::string_view BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return {};
  return id_to_token_[id];
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>* ids) const {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> word_ids;
  EncodeUncached(word, &word_ids);
  ids->insert(ids->end(), word_ids.begin(), word_ids.end());
  // Long words (whole paragraphs when there is no pre-tokenizer) rarely repeat: not cached.
  if (word.size() > kMaxCachedWordBytes) return;
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::string(word), std::move(word_ids));
}

void BpeModel::EncodeUncached(std::string_view word, std::vector<int32_t>* ids) const {
  if (ignore_merges_) {
    if (auto id = TokenToId(word)) {
      ids->push_back(*id);
      return;
    }
  }
  // Initial symbols: one per character (or per byte with byte_fallback).
  std::vector<int32_t> syms;
  bool last_was_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    size_t n = DecodeUtf8At(word, pos, nullptr);
    if (n == 0) n = InvalidSubpartLength(word, pos);
    std::string_view ch = word.substr(pos, n);
    pos += n;
    if (auto id = TokenToId(ch)) {
      syms.push_back(*id);
      last_was_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : ch) all = all && byte_ids_[b] >= 0;
      if (all) {
        for (unsigned char b : ch) syms.push_back(byte_ids_[b]);
        last_was_unk = false;
        continue;
      }
    }
    if (unk_id_) {
      if (!(fuse_unk_ && last_was_unk)) syms.push_back(*unk_id_);
      last_was_unk = true;
    }
  }
  // Merge lowest rank first, leftmost on ties; stale queue entries are skipped on pop.
  const int n = static_cast<int>(syms.size());
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push_pair = [&](int left) {
    if (left < 0 || next[left] < 0) return;
    auto it = merges_.find(PairKey(syms[left], syms[next[left]]));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.new_id});
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    if (!alive[top.pos] || next[top.pos] < 0) continue;
    int right = next[top.pos];
    auto it = merges_.find(PairKey(syms[top.pos], syms[right]));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    syms[top.pos] = top.new_id;
    alive[right] = false;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    push_pair(prev[top.pos]);
    push_pair(top.pos);
  }
  for (int i = 0; i < n; ++i) {
    if (alive[i]) ids->push_back(syms[i]);
  }
}

}  // namespace anec::text
