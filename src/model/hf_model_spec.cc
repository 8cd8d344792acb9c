#include "model/hf_model_spec.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>

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

// Gemma 3's interleaved local and global layers.
Status ReadLocalAttention(const io::HfConfig& c, ModelSpec* s) {
  LocalAttention local;
  if (!c.layer_types.empty()) {
    if (static_cast<int64_t>(c.layer_types.size()) != s->num_layers) {
      return InvalidArgument(
          "{}: layer_types has {} entries for num_hidden_layers {}; expected one "
          "per layer",
          c.path, c.layer_types.size(), s->num_layers);
    }
    for (size_t i = 0; i < c.layer_types.size(); ++i) {
      const std::string& t = c.layer_types[i];
      if (t != "sliding_attention" && t != "full_attention") {
        return Unsupported(
            "{}: layer_types[{}] is \"{}\"; anec supports sliding_attention and "
            "full_attention",
            c.path, i, t);
      }
      local.is_local.push_back(t == "sliding_attention");
    }
  } else {
    // transformers' default: every sliding_window_pattern-th layer (1-based) is global.
    const int64_t pattern = c.sliding_window_pattern.value_or(6);
    if (pattern <= 0) {
      return InvalidArgument("{}: sliding_window_pattern is {}, expected a positive integer",
                             c.path, pattern);
    }
    for (int64_t i = 0; i < s->num_layers; ++i) local.is_local.push_back((i + 1) % pattern != 0);
  }
  const bool any_local =
      std::find(local.is_local.begin(), local.is_local.end(), true) != local.is_local.end();
  if (!any_local) return Status::Ok();
  if (!c.sliding_window || *c.sliding_window <= 0) {
    return InvalidArgument(
        "{}: layer_types has sliding_attention layers but sliding_window is {}; expected the "
        "window (a positive integer)",
        c.path, c.sliding_window ? std::to_string(*c.sliding_window) : std::string("missing"));
  }
  local.window = *c.sliding_window;
  if (c.rope_local_base_freq) {
    if (!(*c.rope_local_base_freq > 0)) {
      return InvalidArgument("{}: rope_local_base_freq is {}, expected a positive number", c.path,
                             *c.rope_local_base_freq);
    }
    local.rope_theta = *c.rope_local_base_freq;
  }
  s->local_attention = std::move(local);
  return Status::Ok();
}

// Norm offset, embedding scale, sandwich norms, activation, attention scale, soft-capping.
Status ReadBlockStyle(const io::HfConfig& c, const ArchitectureTable& table, ModelSpec* s) {
  const BlockStyle& st = table.style;
  s->norm_weight_offset = st.norm_weight_offset;
  s->sandwich_norms = st.sandwich_norms;
  // transformers multiplies by the normalizer cast to the model's dtype; the converted model
  // computes in fp16, where the constant is rounded the same way (embeddings_function.cc).
  if (st.embedding_scale_sqrt_hidden) {
    s->embedding_scale = std::sqrt(static_cast<double>(s->hidden_size));
  }
  s->mlp_activation = st.default_activation;
  const std::string act = Lower(c.hidden_activation);
  if (act == "silu" || act == "swish") {
    s->mlp_activation = MlpActivation::kSilu;
  } else if (act == "gelu_pytorch_tanh" || act == "gelu_tanh" || act == "gelu_new") {
    s->mlp_activation = MlpActivation::kGeluTanh;
  } else if (!act.empty()) {
    return Unsupported(
        "{}: hidden activation \"{}\" is not supported; anec supports silu and "
        "gelu_pytorch_tanh",
        c.path, c.hidden_activation);
  }
  if (st.query_pre_attn_scalar && c.query_pre_attn_scalar) {
    if (!(*c.query_pre_attn_scalar > 0)) {
      return InvalidArgument("{}: query_pre_attn_scalar is {}, expected a positive number", c.path,
                             *c.query_pre_attn_scalar);
    }
    s->attention_scale = 1.0 / std::sqrt(*c.query_pre_attn_scalar);
  }
  if (c.attn_logit_softcapping) {
    return Unsupported(
        "{}: attn_logit_softcapping is {}; anec does not soft-cap attention scores "
        "(Gemma 3 configs set it to null; Gemma 2 is not supported)",
        c.path, *c.attn_logit_softcapping);
  }
  if (c.final_logit_softcapping) {
    return Unsupported(
        "{}: final_logit_softcapping is {}; anec does not soft-cap logits (Gemma 3 "
        "configs set it to null; Gemma 2 is not supported)",
        c.path, *c.final_logit_softcapping);
  }
  return Status::Ok();
}

// The text model's config of a wrapper checkpoint: text_config over the wrapper's defaults, with
// the outer file's token ids (generation_config.json is merged there) and name.
io::HfConfig TextModelConfig(const io::HfConfig& outer, const WrapperClass& w) {
  io::HfConfig t = *outer.text_config;
  auto dflt = [](auto& field, auto value) {
    if (!field) field = value;
  };
  dflt(t.hidden_size, w.hidden_size);
  dflt(t.num_hidden_layers, w.num_hidden_layers);
  dflt(t.num_attention_heads, w.num_attention_heads);
  dflt(t.num_key_value_heads, w.num_key_value_heads);
  dflt(t.head_dim, w.head_dim);
  dflt(t.intermediate_size, w.intermediate_size);
  dflt(t.vocab_size, w.vocab_size);
  dflt(t.max_position_embeddings, w.max_position_embeddings);
  dflt(t.sliding_window, w.sliding_window);
  dflt(t.rms_norm_eps, w.rms_norm_eps);
  dflt(t.rope_theta, w.rope_theta);
  dflt(t.rope_local_base_freq, w.rope_local_base_freq);
  dflt(t.query_pre_attn_scalar, w.query_pre_attn_scalar);
  t.architectures.clear();
  if (!outer.bos_token_ids.empty()) t.bos_token_ids = outer.bos_token_ids;
  if (!outer.eos_token_ids.empty()) t.eos_token_ids = outer.eos_token_ids;
  if (t.torch_dtype.empty()) t.torch_dtype = outer.torch_dtype;
  if (t.name_or_path.empty()) t.name_or_path = outer.name_or_path;
  if (!t.tie_word_embeddings) t.tie_word_embeddings = outer.tie_word_embeddings;
  return t;
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
    for (const std::string& cls : config.architectures) {
      if (const WrapperClass* w = FindWrapperClass(cls)) return w->text_architecture;
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
  // A vision + text checkpoint (gemma-3-4b-it): the text model, from text_config.
  for (const std::string& cls : c.architectures) {
    const WrapperClass* w = FindWrapperClass(cls);
    if (w == nullptr) continue;
    if (!c.text_config) {
      return InvalidArgument(
          "{}: {} keeps its text model's settings under text_config, which is missing; anec "
          "converts the text model only",
          c.path, cls);
    }
    return SpecFromHfConfig(
        TextModelConfig(c, *w), name,
        override_name ? override_name : std::optional(ArchitectureName(w->text_architecture)));
  }
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
    case SlidingWindowPolicy::kLayerTypes:
      ANEC_RETURN_IF_ERROR(ReadLocalAttention(c, &s));
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
  ANEC_RETURN_IF_ERROR(ReadBlockStyle(c, table, &s));
  s.bos_token_ids = c.bos_token_ids;
  s.eos_token_ids = c.eos_token_ids;
  s.torch_dtype = c.torch_dtype;
  s.default_prefix = std::string(table.default_prefix);
  s.lm_head_pieces = table.lm_head_pieces;
  return s;
}

}  // namespace anec::model
