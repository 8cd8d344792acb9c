#include "text/post_processor.h"

namespace anec::text {

Result<PostProcessor> PostProcessor::FromJson(const Json& j) {
  PostProcessor p;
  ANEC_RETURN_IF_ERROR(p.Add(j));
  return p;
}

Status PostProcessor::Add(const Json& j) {
  if (j.is_null()) return Status::Ok();
  std::string type = JsonString(j, "type");
  if (type == "ByteLevel") return Status::Ok();
  if (type == "Sequence") {
    const Json* list = JsonMember(j, "processors");
    if (!list || !list->is_array()) {
      return InvalidArgument("tokenizer.json post_processor Sequence has no 'processors' array");
    }
    for (const Json& item : *list) ANEC_RETURN_IF_ERROR(Add(item));
    return Status::Ok();
  }
  if (type != "TemplateProcessing") {
    return Unsupported(
        "tokenizer.json post_processor type '{}' is not supported (supported: "
        "TemplateProcessing, ByteLevel, Sequence)",
        type);
  }
  if (!steps_.empty()) {
    return Unsupported("tokenizer.json post_processor has two TemplateProcessing entries");
  }
  const Json* single = JsonMember(j, "single");
  const Json* specials = JsonMember(j, "special_tokens");
  if (!single || !single->is_array()) {
    return InvalidArgument("tokenizer.json post_processor TemplateProcessing has no 'single' list");
  }
  for (const Json& piece : *single) {
    if (JsonMember(piece, "Sequence")) {
      steps_.push_back({true, {}});
      continue;
    }
    const Json* special = JsonMember(piece, "SpecialToken");
    if (!special) {
      return InvalidArgument(
          "tokenizer.json post_processor single template piece is neither "
          "Sequence nor SpecialToken");
    }
    std::string name = JsonString(*special, "id");
    const Json* entry = specials ? JsonMember(*specials, name) : nullptr;
    const Json* ids = entry ? JsonMember(*entry, "ids") : nullptr;
    if (!ids || !ids->is_array()) {
      return InvalidArgument(
          "tokenizer.json post_processor special_tokens has no ids for '{}' used in 'single'",
          name);
    }
    Step step;
    for (const Json& id : *ids) {
      if (!id.is_number_integer()) {
        return InvalidArgument("tokenizer.json post_processor special_tokens['{}'].ids is not int",
                               name);
      }
      step.ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    steps_.push_back(std::move(step));
  }
  return Status::Ok();
}

std::vector<int32_t> PostProcessor::Apply(std::vector<int32_t> ids) const {
  if (steps_.empty()) return ids;
  std::vector<int32_t> out;
  out.reserve(ids.size() + 4);
  for (const Step& s : steps_) {
    if (s.is_sequence) {
      out.insert(out.end(), ids.begin(), ids.end());
    } else {
      out.insert(out.end(), s.ids.begin(), s.ids.end());
    }
  }
  return out;
}

}  // namespace anec::text
