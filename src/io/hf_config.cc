#include "io/hf_config.h"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "io/json_message.h"

namespace anec::io {
namespace {

using nlohmann::json;

// Reads optional typed fields of a JSON object; absent and null are nullopt. A present value of
// the wrong type is an error naming the file and field.
class FieldReader {
 public:
  FieldReader(const json& obj, std::string_view path, std::string prefix = "")
      : obj_(obj), path_(path), prefix_(std::move(prefix)) {}

  const json* Find(std::string_view key) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status Int(std::string_view key, std::optional<int64_t>* out) const {
    const json* v = Find(key);
    if (v == nullptr) return Status::Ok();
    if (v->is_number_integer()) {
      if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX})
        return Bad(key, *v, "an integer");
      *out = v->get<int64_t>();
      return Status::Ok();
    }
    // Some exporters write integers as floats (e.g. 4096.0); accept exact ones.
    if (v->is_number_float()) {
      double d = v->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
        *out = static_cast<int64_t>(d);
        return Status::Ok();
      }
    }
    return Bad(key, *v, "an integer");
  }

  Status Double(std::string_view key, std::optional<double>* out) const {
    const json* v = Find(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_number()) return Bad(key, *v, "a number");
    *out = v->get<double>();
    return Status::Ok();
  }

  Status Bool(std::string_view key, std::optional<bool>* out) const {
    const json* v = Find(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_boolean()) return Bad(key, *v, "true or false");
    *out = v->get<bool>();
    return Status::Ok();
  }

  Status String(std::string_view key, std::string* out) const {
    const json* v = Find(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_string()) return Bad(key, *v, "a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }

  // An int or a list of ints; leaves `out` unchanged when absent or null.
  Status IntOrList(std::string_view key, std::vector<int64_t>* out) const {
    const json* v = Find(key);
    if (v == nullptr) return Status::Ok();
    std::vector<int64_t> ids;
    auto add = [&](const json& e) {
      if (!e.is_number_integer()) return false;
      ids.push_back(e.get<int64_t>());
      return true;
    };
    if (v->is_array()) {
      for (const json& e : *v) {
        if (!add(e)) return Bad(key, *v, "an integer or a list of integers");
      }
    } else if (!add(*v)) {
      return Bad(key, *v, "an integer or a list of integers");
    }
    *out = std::move(ids);
    return Status::Ok();
  }

  Status Bad(std::string_view key, const json& v, std::string_view expected) const {
    const std::string shown = JsonForMessage(v, 60);
    return InvalidArgument("{}: field {}{} is {} ({}), expected {}", path_, prefix_, key, shown,
                           v.type_name(), expected);
  }

 private:
  const json& obj_;
  std::string_view path_;
  std::string prefix_;
};

Status ParseRopeScaling(const json& j, std::string_view key, std::string_view path,
                        HfRopeScaling* out) {
  FieldReader r(j, path, std::string(key) + ".");
  // Newer configs say `rope_type`, older ones `type`.
  ANEC_RETURN_IF_ERROR(r.String("rope_type", &out->type));
  if (out->type.empty()) ANEC_RETURN_IF_ERROR(r.String("type", &out->type));
  ANEC_RETURN_IF_ERROR(r.Double("factor", &out->factor));
  ANEC_RETURN_IF_ERROR(r.Double("low_freq_factor", &out->low_freq_factor));
  ANEC_RETURN_IF_ERROR(r.Double("high_freq_factor", &out->high_freq_factor));
  ANEC_RETURN_IF_ERROR(
      r.Int("original_max_position_embeddings", &out->original_max_position_embeddings));
  return Status::Ok();
}

}  // namespace

Result<HfConfig> ParseHfConfig(std::string_view json_text, std::string_view path) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return InvalidArgument("{}: not valid JSON; expected a Hugging Face config.json", path);
  }
  return HfConfigFromJson(j, path);
}

Result<HfConfig> HfConfigFromJson(const json& j, std::string_view path) {
  if (!j.is_object()) {
    return InvalidArgument("{}: JSON {} at the top level, expected an object", path, j.type_name());
  }
  HfConfig c;
  c.path = std::string(path);
  FieldReader r(j, path);

  if (const json* a = r.Find("architectures")) {
    if (!a->is_array()) return r.Bad("architectures", *a, "a list of class names");
    for (const json& e : *a) {
      if (!e.is_string()) return r.Bad("architectures", *a, "a list of class names");
      c.architectures.push_back(e.get<std::string>());
    }
  }
  ANEC_RETURN_IF_ERROR(r.String("model_type", &c.model_type));
  ANEC_RETURN_IF_ERROR(r.String("_name_or_path", &c.name_or_path));

  ANEC_RETURN_IF_ERROR(r.Int("hidden_size", &c.hidden_size));
  ANEC_RETURN_IF_ERROR(r.Int("num_hidden_layers", &c.num_hidden_layers));
  ANEC_RETURN_IF_ERROR(r.Int("num_attention_heads", &c.num_attention_heads));
  ANEC_RETURN_IF_ERROR(r.Int("num_key_value_heads", &c.num_key_value_heads));
  ANEC_RETURN_IF_ERROR(r.Int("head_dim", &c.head_dim));
  ANEC_RETURN_IF_ERROR(r.Int("intermediate_size", &c.intermediate_size));
  ANEC_RETURN_IF_ERROR(r.Int("vocab_size", &c.vocab_size));
  ANEC_RETURN_IF_ERROR(r.Int("max_position_embeddings", &c.max_position_embeddings));
  ANEC_RETURN_IF_ERROR(r.Double("rms_norm_eps", &c.rms_norm_eps));
  ANEC_RETURN_IF_ERROR(r.Double("rope_theta", &c.rope_theta));

  // `rope_scaling` (transformers 4.x) or `rope_parameters` (newer, also holds rope_theta).
  // Models with per-layer-type rope (Gemma 3) nest rope_parameters by layer type: the global
  // ("full_attention") entry is the model's rope, the "sliding_attention" one its local base.
  for (std::string_view key : {"rope_scaling", "rope_parameters"}) {
    const json* rs = r.Find(key);
    if (rs == nullptr) continue;
    if (!rs->is_object()) return r.Bad(key, *rs, "an object");
    std::string nested_key(key);
    if (auto full = rs->find("full_attention"); key == "rope_parameters" && full != rs->end()) {
      if (auto local = rs->find("sliding_attention"); local != rs->end() && local->is_object()) {
        ANEC_RETURN_IF_ERROR(FieldReader(*local, path, "rope_parameters.sliding_attention.")
                                 .Double("rope_theta", &c.rope_local_base_freq));
      }
      if (!full->is_object()) return r.Bad("rope_parameters.full_attention", *full, "an object");
      rs = &*full;
      nested_key = "rope_parameters.full_attention";
    }
    if (key == "rope_parameters" && !c.rope_theta) {
      ANEC_RETURN_IF_ERROR(
          FieldReader(*rs, path, nested_key + ".").Double("rope_theta", &c.rope_theta));
    }
    if (c.rope_scaling) continue;  // rope_scaling wins over rope_parameters
    HfRopeScaling scaling;
    ANEC_RETURN_IF_ERROR(ParseRopeScaling(*rs, nested_key, path, &scaling));
    c.rope_scaling = std::move(scaling);
  }

  ANEC_RETURN_IF_ERROR(r.Double("partial_rotary_factor", &c.partial_rotary_factor));
  ANEC_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
  ANEC_RETURN_IF_ERROR(r.Bool("attention_bias", &c.attention_bias));
  ANEC_RETURN_IF_ERROR(r.Bool("use_sliding_window", &c.use_sliding_window));
  ANEC_RETURN_IF_ERROR(r.Int("sliding_window", &c.sliding_window));
  if (const json* lt = r.Find("layer_types")) {
    if (!lt->is_array()) return r.Bad("layer_types", *lt, "a list of layer type names");
    for (const json& e : *lt) {
      if (!e.is_string()) return r.Bad("layer_types", *lt, "a list of layer type names");
      c.layer_types.push_back(e.get<std::string>());
    }
  }
  ANEC_RETURN_IF_ERROR(r.Int("sliding_window_pattern", &c.sliding_window_pattern));
  if (!c.rope_local_base_freq) {
    ANEC_RETURN_IF_ERROR(r.Double("rope_local_base_freq", &c.rope_local_base_freq));
  }
  ANEC_RETURN_IF_ERROR(r.Double("query_pre_attn_scalar", &c.query_pre_attn_scalar));
  ANEC_RETURN_IF_ERROR(r.String("hidden_activation", &c.hidden_activation));
  if (c.hidden_activation.empty())
    ANEC_RETURN_IF_ERROR(r.String("hidden_act", &c.hidden_activation));
  ANEC_RETURN_IF_ERROR(r.Double("attn_logit_softcapping", &c.attn_logit_softcapping));
  ANEC_RETURN_IF_ERROR(r.Double("final_logit_softcapping", &c.final_logit_softcapping));
  if (const json* tc = r.Find("text_config")) {
    if (!tc->is_object()) return r.Bad("text_config", *tc, "an object");
    ANEC_ASSIGN_OR_RETURN(HfConfig text, HfConfigFromJson(*tc, c.path + " text_config"));
    c.text_config = std::make_shared<const HfConfig>(std::move(text));
  }
  ANEC_RETURN_IF_ERROR(r.IntOrList("bos_token_id", &c.bos_token_ids));
  ANEC_RETURN_IF_ERROR(r.IntOrList("eos_token_id", &c.eos_token_ids));
  ANEC_RETURN_IF_ERROR(r.String("torch_dtype", &c.torch_dtype));
  if (c.torch_dtype.empty()) ANEC_RETURN_IF_ERROR(r.String("dtype", &c.torch_dtype));
  return c;
}

Status MergeGenerationConfig(std::string_view json_text, std::string_view path, HfConfig* config) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("{}: not a JSON object; expected a generation_config.json", path);
  }
  FieldReader r(j, path);
  ANEC_RETURN_IF_ERROR(r.IntOrList("bos_token_id", &config->bos_token_ids));
  ANEC_RETURN_IF_ERROR(r.IntOrList("eos_token_id", &config->eos_token_ids));
  return Status::Ok();
}

Result<HfConfig> ReadHfConfig(FileSystem* fs, const std::string& dir) {
  const std::string path = JoinPath(dir, "config.json");
  if (!fs->Exists(path)) {
    return NotFound("{} not found; a Hugging Face model folder needs its config.json", path);
  }
  ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  ANEC_ASSIGN_OR_RETURN(HfConfig config, ParseHfConfig(text, path));
  const std::string gen_path = JoinPath(dir, "generation_config.json");
  if (fs->Exists(gen_path)) {
    ANEC_ASSIGN_OR_RETURN(std::string gen, fs->ReadFile(gen_path));
    ANEC_RETURN_IF_ERROR(MergeGenerationConfig(gen, gen_path, &config));
  }
  return config;
}

}  // namespace anec::io
