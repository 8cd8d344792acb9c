// ModelSpec from a Hugging Face config: architecture detection and normalization.
//
// Detection order: an explicit override ("llama", "qwen2", "qwen3", "qwq", "mistral"), else the
// config's `architectures` entries, else its `model_type`. A Qwen2 model whose name (folder,
// repo or `_name_or_path`) contains "qwq" (any case) is QwQ. A vision + text wrapper class
// (Gemma3ForConditionalGeneration, architecture.h WrapperClass) is its text model, built from
// `text_config` over the wrapper's defaults. Anything else is an error listing what is supported.
#pragma once

#include <optional>
#include <string_view>

#include "base/status.h"
#include "io/hf_config.h"
#include "model/model_spec.h"

namespace anec::model {

// `name` is a folder or repo name, used for QwQ detection (may be empty).
Result<Architecture> DetectArchitecture(const io::HfConfig& config, std::string_view name,
                                        std::optional<std::string_view> override_name);

// Builds and validates a ModelSpec: required fields present and positive, heads divisible by
// KV heads, head_dim defaulted to hidden/heads, rope_scaling of a supported type (llama3,
// linear; anything else is Unsupported naming the type), per-architecture rules from the table
// (Qwen2 always has q/k/v bias, Qwen3 has q/k norm, sliding window policy, tied default,
// prefix). spec.name = `name` if not empty.
Result<ModelSpec> SpecFromHfConfig(const io::HfConfig& config, std::string_view name,
                                   std::optional<std::string_view> override_name = std::nullopt);

}  // namespace anec::model
