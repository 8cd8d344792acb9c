#include "text/tokenizer.h"

#include "text/bpe_model.h"
#include "text/decoder.h"
#include "text/json_util.h"
#include "text/normalizer.h"
#include "text/post_processor.h"
#include "text/pre_tokenizer.h"
#include "text/utf8.h"

namespace anec::text {

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::FromJson(std::string_view json_text) {
  ANEC_ASSIGN_OR_RETURN(Json j, ParseJson(json_text, "tokenizer.json"));
  if (!j.is_object()) return Corrupt("tokenizer.json is not a JSON object");
  // Sequence normalizers, pre-tokenizers, decoders and post-processors are built recursively.
  if (NestsDeeperThan(j, kMaxJsonDepth)) {
    return Corrupt("tokenizer.json nests objects and arrays more than {} levels deep (real ones "
                   "nest a few); the file is damaged, re-download it", kMaxJsonDepth);
  }
  const Json* model = JsonMember(j, "model");
  if (!model) return InvalidArgument("tokenizer.json has no 'model'");
  Tokenizer t;
  ANEC_ASSIGN_OR_RETURN(t.model_, BpeModel::FromJson(*model));
  static const Json kNull;
  auto field = [&](const char* name) -> const Json& {
    const Json* m = JsonMember(j, name);
    return m ? *m : kNull;
  };
  ANEC_ASSIGN_OR_RETURN(t.normalizer_, NormalizerFromJson(field("normalizer")));
  ANEC_ASSIGN_OR_RETURN(t.pre_tokenizer_, PreTokenizerFromJson(field("pre_tokenizer")));
  ANEC_ASSIGN_OR_RETURN(t.decoder_, DecoderFromJson(field("decoder")));
  ANEC_ASSIGN_OR_RETURN(PostProcessor post, PostProcessor::FromJson(field("post_processor")));
  t.post_processor_ = std::make_unique<PostProcessor>(std::move(post));
  ANEC_ASSIGN_OR_RETURN(std::vector<AddedToken> added, AddedTokensFromJson(field("added_tokens")));
  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& a : added) {
    (a.normalized && t.normalizer_ ? normalized : raw).push_back(a);
    t.added_by_id_[a.id] = a;
    t.added_by_content_[a.content] = a.id;
  }
  t.raw_matcher_ = AddedTokenMatcher(std::move(raw));
  t.normalized_matcher_ = AddedTokenMatcher(std::move(normalized));
  return t;
}

Result<Tokenizer> Tokenizer::FromJsonFile(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  Result<Tokenizer> t = FromJson(text);
  if (!t.ok()) return t.status().WithContext(path);
  return t;
}

Status Tokenizer::ApplyConfig(const TokenizerConfig& config) {
  auto resolve = [&](const std::string& name, const char* field, std::optional<int32_t>* id,
                     std::string* token) -> Status {
    if (name.empty()) return Status::Ok();
    std::optional<int32_t> found = TokenToId(name);
    if (!found) {
      return InvalidArgument("tokenizer_config.json {} '{}' is not a token of tokenizer.json",
                             field, name);
    }
    *id = found;
    *token = name;
    return Status::Ok();
  };
  ANEC_RETURN_IF_ERROR(resolve(config.bos_token, "bos_token", &bos_id_, &bos_token_));
  ANEC_RETURN_IF_ERROR(resolve(config.eos_token, "eos_token", &eos_id_, &eos_token_));
  chat_template_ = config.chat_template;
  return Status::Ok();
}

void Tokenizer::EncodePlain(std::string_view text, bool at_text_start,
                            std::vector<int32_t>* ids) const {
  if (text.empty()) return;
  std::vector<PreToken> words{{std::string(text), at_text_start}};
  if (pre_tokenizer_) pre_tokenizer_->Apply(&words);
  for (const PreToken& w : words) model_->EncodeWord(w.text, ids);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  std::string valid = IsValidUtf8(text) ? std::string(text) : ToValidUtf8(text);
  std::vector<int32_t> ids;
  std::vector<Segment> segments = raw_matcher_.Split(valid);
  for (const Segment& seg : segments) {
    if (seg.token_id >= 0) {
      ids.push_back(seg.token_id);
      continue;
    }
    std::string norm = normalizer_ ? normalizer_->Normalize(seg.text) : seg.text;
    bool at_start = seg.offset == 0;
    if (normalized_matcher_.empty()) {
      EncodePlain(norm, at_start, &ids);
      continue;
    }
    for (const Segment& sub : normalized_matcher_.Split(norm)) {
      if (sub.token_id >= 0) {
        ids.push_back(sub.token_id);
      } else {
        EncodePlain(sub.text, at_start && sub.offset == 0, &ids);
      }
    }
  }
  if (add_special_tokens) ids = post_processor_->Apply(std::move(ids));
  return ids;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    auto it = added_by_id_.find(id);
    if (it != added_by_id_.end()) {
      if (!(skip_special && it->second.special)) tokens.push_back(it->second.content);
      continue;
    }
    std::string_view t = model_->IdToToken(id);
    if (!t.empty()) tokens.emplace_back(t);
  }
  return DecodeTokens(decoder_.get(), std::move(tokens));
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  auto it = added_by_content_.find(std::string(token));
  if (it != added_by_content_.end()) return it->second;
  return model_->TokenToId(token);
}

std::string Tokenizer::IdToToken(int32_t id) const {
  auto it = added_by_id_.find(id);
  if (it != added_by_id_.end()) return it->second.content;
  return std::string(model_->IdToToken(id));
}

size_t Tokenizer::vocab_size() const {
  size_t n = model_->size();
  for (const auto& [id, token] : added_by_id_) n = std::max(n, static_cast<size_t>(id) + 1);
  return n;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() && it->second.special;
}

}  // namespace anec::text
