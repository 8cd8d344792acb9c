#include "text/tokenizer_config.h"

#include "text/json_util.h"

namespace anec::text {
namespace {

std::string TokenString(const Json& j, std::string_view key) {
  const Json* m = JsonMember(j, key);
  if (!m) return "";
  if (m->is_string()) return m->get<std::string>();
  return JsonString(*m, "content");
}

int TriState(const Json& j, std::string_view key) {
  const Json* m = JsonMember(j, key);
  if (!m || !m->is_boolean()) return -1;
  return m->get<bool>() ? 1 : 0;
}

}  // namespace

Result<TokenizerConfig> TokenizerConfig::FromJson(std::string_view json_text) {
  ANEC_ASSIGN_OR_RETURN(Json j, ParseJson(json_text, "tokenizer_config.json"));
  if (!j.is_object()) return Corrupt("tokenizer_config.json is not a JSON object");
  TokenizerConfig c;
  c.bos_token = TokenString(j, "bos_token");
  c.eos_token = TokenString(j, "eos_token");
  c.pad_token = TokenString(j, "pad_token");
  c.unk_token = TokenString(j, "unk_token");
  c.add_bos_token = TriState(j, "add_bos_token");
  c.add_eos_token = TriState(j, "add_eos_token");
  const Json* tmpl = JsonMember(j, "chat_template");
  if (tmpl && tmpl->is_string()) {
    c.chat_template = tmpl->get<std::string>();
  } else if (tmpl && tmpl->is_array()) {
    for (const Json& entry : *tmpl) {
      if (JsonString(entry, "name") == "default") c.chat_template = JsonString(entry, "template");
    }
    if (c.chat_template.empty()) {
      return Unsupported(
          "tokenizer_config.json chat_template is a list without a 'default' entry; anec needs "
          "the default template");
    }
  }
  return c;
}

Result<TokenizerConfig> TokenizerConfig::FromFile(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  Result<TokenizerConfig> c = FromJson(text);
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

}  // namespace anec::text
