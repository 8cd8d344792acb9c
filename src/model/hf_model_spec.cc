#include "model/hf_model_spec.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "model/architecture.h"

namespace anec::model {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string SupportedClasses() {
  std::vector<std::string> parts;
  for (const ArchitectureTable& t : AllArchitectureTables()) {
    for (std::string_view c : t.hf_classes) parts.push_back(fmt::format("{} ({})", c, t.name));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

// Field `value` must be present and > 0.
Status RequirePositive(const io::HfConfig& c, std::string_view field,
                       const std::optional<int64_t>& value, int64_t* out) {
  if (!value) {
    return InvalidArgument("{}: required field {} is missing; add it to config.json", c.path,
                           field);
  }
  if (*value <= 0) {
    return InvalidArgument("{}: field {} is {}, expected a positive integer", c.path, field,
                           *value);
  }
  *out = *value;
  return Status::Ok();
}

Status ReadRopeScaling(const io::HfConfig& c, RopeScaling* out) {
  *out = RopeScaling();
  if (!c.rope_scaling) return Status::Ok();
  const io::HfRopeScaling& rs = *c.rope_scaling;
  const std::string type = Lower(rs.type);
  if (type.empty() || type == "default") return Status::Ok();
  auto positive = [&](std::string_view field, const std::optional<double>& v, double* dst) {
    if (!v) return Status::Ok();  // keep the default
    if (!(*v > 0)) {
      return InvalidArgument("{}: rope_scaling.{} is {}, expected a positive number", c.path, field,
                             *v);
    }
    *dst = *v;
    return Status::Ok();
  };
  if (type == "linear" || type == "llama3") {
    if (!rs.factor) {
      return InvalidArgument("{}: rope_scaling of type {} needs a factor", c.path, type);
    }
    ANEC_RETURN_IF_ERROR(positive("factor", rs.factor, &out->factor));
  }
  if (type == "linear") {
    out->type = RopeScalingType::kLinear;
    return Status::Ok();
  }
  if (type == "llama3") {
    out->type = RopeScalingType::kLlama3;
    ANEC_RETURN_IF_ERROR(positive("low_freq_factor", rs.low_freq_factor, &out->low_freq_factor));
    ANEC_RETURN_IF_ERROR(positive("high_freq_factor", rs.high_freq_factor, &out->high_freq_factor));
    if (rs.original_max_position_embeddings) {
      if (*rs.original_max_position_embeddings <= 0) {
        return InvalidArgument(
            "{}: rope_scaling.original_max_position_embeddings is {}, expected a positive integer",
            c.path, *rs.original_max_position_embeddings);
      }
      out->original_max_position_embeddings = *rs.original_max_position_embeddings;
    }
    if (out->high_freq_factor <= out->low_freq_factor) {
      return InvalidArgument(
          "{}: rope_scaling high_freq_factor ({}) must be greater than low_freq_factor ({})",
          c.path, out->high_freq_factor, out->low_freq_factor);
    }
    return Status::Ok();
  }
  return Unsupported(
      "{}: rope_scaling type \"{}\" is not supported; anec supports llama3 and "
      "linear (or none)",
      c.path, rs.type);
}

}  // namespace

Result<Architecture> DetectArchitecture(const io::HfConfig& config, std::string_view name,
                                        std::optional<std::string_view> override_name) {
  if (override_name) return ParseArchitectureName(*override_name);
  const ArchitectureTable* found = nullptr;
  for (const std::string& cls : config.architectures) {
    for (const ArchitectureTable& t : AllArchitectureTables()) {
      if (std::find(t.hf_classes.begin(), t.hf_classes.end(), cls) != t.hf_classes.end()) {
        found = &t;
        break;
      }
    }
    if (found) break;
  }
  if (!found && !config.model_type.empty()) {
    for (const ArchitectureTable& t : AllArchitectureTables()) {
      if (std::find(t.model_types.begin(), t.model_types.end(), config.model_type) !=
          t.model_types.end()) {
        found = &t;
        break;
      }
    }
  }
  if (!found) {
    return Unsupported(
        "{}: architectures [{}] (model_type \"{}\") is not supported; supported: {}. If the "
        "model is one of these under another name, pass the architecture override ({})",
        config.path, fmt::join(config.architectures, ", "), config.model_type, SupportedClasses(),
        SupportedArchitectureNames());
  }
  // QwQ is a Qwen2 model; only its name tells it apart.
  if (found->architecture == Architecture::kQwen2 &&
      (Lower(name).find("qwq") != std::string::npos ||
       Lower(config.name_or_path).find("qwq") != std::string::npos)) {
    return Architecture::kQwQ;
  }
  return found->architecture;
}

Result<ModelSpec> SpecFromHfConfig(const io::HfConfig& c, std::string_view name,
                                   std::optional<std::string_view> override_name) {
  ModelSpec s;
  ANEC_ASSIGN_OR_RETURN(s.architecture, DetectArchitecture(c, name, override_name));
  const ArchitectureTable& table = GetArchitectureTable(s.architecture);
  s.model_type = c.model_type;
  s.name = name.empty() ? c.name_or_path : std::string(name);

  ANEC_RETURN_IF_ERROR(RequirePositive(c, "hidden_size", c.hidden_size, &s.hidden_size));
  ANEC_RETURN_IF_ERROR(RequirePositive(c, "num_hidden_layers", c.num_hidden_layers, &s.num_layers));
  ANEC_RETURN_IF_ERROR(
      RequirePositive(c, "num_attention_heads", c.num_attention_heads, &s.num_heads));
  s.num_kv_heads = s.num_heads;
  if (c.num_key_value_heads) {
    ANEC_RETURN_IF_ERROR(
        RequirePositive(c, "num_key_value_heads", c.num_key_value_heads, &s.num_kv_heads));
  }
  if (s.num_heads % s.num_kv_heads != 0) {
    return InvalidArgument(
        "{}: num_attention_heads ({}) is not a multiple of num_key_value_heads "
        "({})",
        c.path, s.num_heads, s.num_kv_heads);
  }
  if (c.head_dim) {
    ANEC_RETURN_IF_ERROR(RequirePositive(c, "head_dim", c.head_dim, &s.head_dim));
  } else {
    if (s.hidden_size % s.num_heads != 0) {
      return InvalidArgument(
          "{}: hidden_size ({}) is not a multiple of num_attention_heads ({}) "
          "and there is no head_dim field",
          c.path, s.hidden_size, s.num_heads);
    }
    s.head_dim = s.hidden_size / s.num_heads;
  }
  ANEC_RETURN_IF_ERROR(
      RequirePositive(c, "intermediate_size", c.intermediate_size, &s.intermediate_size));
  ANEC_RETURN_IF_ERROR(RequirePositive(c, "vocab_size", c.vocab_size, &s.vocab_size));
  if (c.max_position_embeddings) {
    ANEC_RETURN_IF_ERROR(RequirePositive(c, "max_position_embeddings", c.max_position_embeddings,
                                         &s.max_position_embeddings));
  }
  if (c.rms_norm_eps) {
    if (!(*c.rms_norm_eps > 0)) {
      return InvalidArgument("{}: rms_norm_eps is {}, expected a positive number", c.path,
                             *c.rms_norm_eps);
    }
    s.rms_norm_eps = *c.rms_norm_eps;
  }
  if (c.rope_theta) {
    if (!(*c.rope_theta > 0)) {
      return InvalidArgument("{}: rope_theta is {}, expected a positive number", c.path,
                             *c.rope_theta);
    }
    s.rope_theta = *c.rope_theta;
  }
  ANEC_RETURN_IF_ERROR(ReadRopeScaling(c, &s.rope_scaling));
  if (c.partial_rotary_factor && *c.partial_rotary_factor != 1.0) {
    return Unsupported(
        "{}: partial_rotary_factor is {}; anec rotates whole heads only (1.0; Phi-4-mini's partial "
        "rotary is not supported yet)",
        c.path, *c.partial_rotary_factor);
  }

  s.tie_word_embeddings = c.tie_word_embeddings.value_or(table.tie_word_embeddings_default);
  switch (table.attention_bias) {
    case AttentionBiasPolicy::kNone:
      s.attention_bias = false;
      break;
    case AttentionBiasPolicy::kAlwaysQkv:
      s.attention_bias = true;
      break;
    case AttentionBiasPolicy::kConfigQkvo:
      if (c.attention_bias.value_or(false)) {
        return Unsupported(
            "{}: attention_bias: true gives this {} model q/k/v/o projection "
            "biases; anec supports q/k/v biases only (as in Qwen2)",
            c.path, table.name);
      }
      s.attention_bias = false;
      break;
  }
  s.qk_norm = table.qk_norm;
  switch (table.sliding_window) {
    case SlidingWindowPolicy::kNever:
      break;
    case SlidingWindowPolicy::kFromConfig:
      if (c.use_sliding_window.value_or(true) && c.sliding_window) {
        if (*c.sliding_window <= 0) {
          return InvalidArgument("{}: sliding_window is {}, expected a positive integer or null",
                                 c.path, *c.sliding_window);
        }
        s.sliding_window = *c.sliding_window;
      }
      break;
    case SlidingWindowPolicy::kIfUseSliding:
      if (c.use_sliding_window.value_or(false) && c.sliding_window) {
        return Unsupported(
            "{}: use_sliding_window: true applies a sliding window to only some "
            "layers of this {} model, which anec does not support",
            c.path, table.name);
      }
      break;
  }
  s.bos_token_ids = c.bos_token_ids;
  s.eos_token_ids = c.eos_token_ids;
  s.torch_dtype = c.torch_dtype;
  s.default_prefix = std::string(table.default_prefix);
  s.lm_head_pieces = table.lm_head_pieces;
  return s;
}

}  // namespace anec::model
