// HfConfig: the fields of a Hugging Face config.json (and generation_config.json) that anec
// reads, parsed and type-checked but not yet interpreted.
//
// This layer only reads JSON; model/hf_model_spec.h turns an HfConfig into a ModelSpec using the
// architecture tables (defaults, per-architecture rules). Absent and null fields are nullopt.
// Errors name the file and the field, what type was expected and what was found.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::io {

struct HfRopeScaling {
  std::string type;  // `rope_type` or else `type`: "llama3", "linear", "yarn", "default", ...
  std::optional<double> factor;
  std::optional<double> low_freq_factor;
  std::optional<double> high_freq_factor;
  std::optional<int64_t> original_max_position_embeddings;
};

struct HfConfig {
  std::string path;  // where it was read from, for messages

  std::vector<std::string> architectures;  // e.g. {"LlamaForCausalLM"}
  std::string model_type;                  // e.g. "llama"
  std::string name_or_path;                // `_name_or_path`, if any

  std::optional<int64_t> hidden_size;
  std::optional<int64_t> num_hidden_layers;
  std::optional<int64_t> num_attention_heads;
  std::optional<int64_t> num_key_value_heads;
  std::optional<int64_t> head_dim;
  std::optional<int64_t> intermediate_size;
  std::optional<int64_t> vocab_size;
  std::optional<int64_t> max_position_embeddings;
  std::optional<double> rms_norm_eps;
  std::optional<double> rope_theta;  // `rope_theta`, or `rope_parameters.rope_theta`
  // `rope_scaling` (or `rope_parameters`) object; nullopt when absent or null.
  std::optional<HfRopeScaling> rope_scaling;
  // Share of each head's dims that rotary embeddings touch (Phi-4-mini: 0.75); absent = 1.
  std::optional<double> partial_rotary_factor;

  std::optional<bool> tie_word_embeddings;
  std::optional<bool> attention_bias;
  std::optional<bool> use_sliding_window;
  std::optional<int64_t> sliding_window;  // null -> nullopt
  // Interleaved local/global layers (Gemma 3): `layer_types` entries ("sliding_attention",
  // "full_attention"); older configs give `sliding_window_pattern` (every n-th layer global).
  std::vector<std::string> layer_types;
  std::optional<int64_t> sliding_window_pattern;
  // The local layers' rope base: `rope_local_base_freq`, or
  // `rope_parameters.sliding_attention.rope_theta` (transformers 5).
  std::optional<double> rope_local_base_freq;
  std::optional<double> query_pre_attn_scalar;
  std::string hidden_activation;  // `hidden_activation`, or else `hidden_act`
  std::optional<double> attn_logit_softcapping;
  std::optional<double> final_logit_softcapping;
  // A multimodal checkpoint's nested text model (Gemma3ForConditionalGeneration's
  // `text_config`), parsed like a config of its own (path "<file> text_config"); null when absent.
  std::shared_ptr<const HfConfig> text_config;

  // Ints or lists of ints; generation_config.json values replace config.json ones.
  std::vector<int64_t> bos_token_ids;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype;  // `torch_dtype`, or `dtype`
};

// Parses config.json text. `path` is used in messages only.
Result<HfConfig> ParseHfConfig(std::string_view json_text, std::string_view path);

// The same from an already parsed JSON value (e.g. a config synthesized from GGUF metadata).
Result<HfConfig> HfConfigFromJson(const nlohmann::json& j, std::string_view path);

// Applies generation_config.json text: its bos_token_id / eos_token_id (int or list), when
// present, replace those of `config`.
Status MergeGenerationConfig(std::string_view json_text, std::string_view path, HfConfig* config);

// Reads `dir`/config.json and, if present, `dir`/generation_config.json.
Result<HfConfig> ReadHfConfig(FileSystem* fs, const std::string& dir);

}  // namespace anec::io
