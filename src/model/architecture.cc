#include "model/architecture.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace anec::model {
namespace {

// The Hugging Face transformers naming shared by all supported architectures. A future
// architecture with other names gets its own array.
constexpr RoleName kHfDecoderNames[] = {
    {TensorRole::kEmbedding, "model.embed_tokens.weight"},
    {TensorRole::kFinalNorm, "model.norm.weight"},
    {TensorRole::kLmHead, "lm_head.weight"},
    {TensorRole::kInputNorm, "model.layers.{}.input_layernorm.weight"},
    {TensorRole::kPostAttnNorm, "model.layers.{}.post_attention_layernorm.weight"},
    {TensorRole::kQProj, "model.layers.{}.self_attn.q_proj.weight"},
    {TensorRole::kKProj, "model.layers.{}.self_attn.k_proj.weight"},
    {TensorRole::kVProj, "model.layers.{}.self_attn.v_proj.weight"},
    {TensorRole::kOProj, "model.layers.{}.self_attn.o_proj.weight"},
    {TensorRole::kQBias, "model.layers.{}.self_attn.q_proj.bias"},
    {TensorRole::kKBias, "model.layers.{}.self_attn.k_proj.bias"},
    {TensorRole::kVBias, "model.layers.{}.self_attn.v_proj.bias"},
    {TensorRole::kQNorm, "model.layers.{}.self_attn.q_norm.weight"},
    {TensorRole::kKNorm, "model.layers.{}.self_attn.k_norm.weight"},
    {TensorRole::kGateProj, "model.layers.{}.mlp.gate_proj.weight"},
    {TensorRole::kUpProj, "model.layers.{}.mlp.up_proj.weight"},
    {TensorRole::kDownProj, "model.layers.{}.mlp.down_proj.weight"},
};

// Gemma 3 renames three roles of the shared table: the MLP's input norm is
// pre_feedforward_layernorm; post_attention_layernorm and post_feedforward_layernorm normalize
// the attention and MLP outputs (sandwich norms).
constexpr RoleName kGemma3Renamed[] = {
    {TensorRole::kPostAttnNorm, "model.layers.{}.pre_feedforward_layernorm.weight"},
    {TensorRole::kAttnOutNorm, "model.layers.{}.post_attention_layernorm.weight"},
    {TensorRole::kMlpOutNorm, "model.layers.{}.post_feedforward_layernorm.weight"},
};

constexpr BlockStyle kLlamaStyle = {0.0, false, false, false, MlpActivation::kSilu};
constexpr BlockStyle kGemmaStyle = {1.0, true, true, true, MlpActivation::kGeluTanh};

constexpr std::string_view kLlamaClasses[] = {"LlamaForCausalLM"};
constexpr std::string_view kLlamaTypes[] = {"llama"};
constexpr std::string_view kQwen2Classes[] = {"Qwen2ForCausalLM"};
constexpr std::string_view kQwen2Types[] = {"qwen2"};
constexpr std::string_view kQwen3Classes[] = {"Qwen3ForCausalLM"};
constexpr std::string_view kQwen3Types[] = {"qwen3"};
constexpr std::string_view kMistralClasses[] = {"MistralForCausalLM"};
constexpr std::string_view kMistralTypes[] = {"mistral"};
constexpr std::string_view kPhi3Classes[] = {"Phi3ForCausalLM"};
constexpr std::string_view kPhi3Types[] = {"phi3"};
constexpr std::string_view kGemma3Classes[] = {"Gemma3ForCausalLM"};
constexpr std::string_view kGemma3Types[] = {"gemma3_text"};

// Phi-3 stores q, k, v as one qkv_proj and gate, up as one gate_up_proj (gate rows first, as
// transformers' Phi3MLP chunks it); its other names are the shared ones.
constexpr TensorRole kQkvParts[] = {TensorRole::kQProj, TensorRole::kKProj, TensorRole::kVProj};
constexpr TensorRole kGateUpParts[] = {TensorRole::kGateProj, TensorRole::kUpProj};
constexpr FusedTensor kPhi3Fused[] = {
    {"model.layers.{}.self_attn.qkv_proj.weight", kQkvParts},
    {"model.layers.{}.mlp.gate_up_proj.weight", kGateUpParts},
};

// QwQ ships as Qwen2ForCausalLM; it is told apart by name (hf_model_spec.cc), so it claims no
// class or model_type of its own.
const ArchitectureTable kTables[] = {
    {Architecture::kLlama,
     "llama",
     kLlamaClasses,
     kLlamaTypes,
     kHfDecoderNames,
     AttentionBiasPolicy::kConfigQkvo,
     /*qk_norm=*/false,
     SlidingWindowPolicy::kNever,
     /*tie_word_embeddings_default=*/false,
     "llama",
     8,
     {},
     kLlamaStyle},
    {Architecture::kQwen2,
     "qwen2",
     kQwen2Classes,
     kQwen2Types,
     kHfDecoderNames,
     AttentionBiasPolicy::kAlwaysQkv,
     /*qk_norm=*/false,
     SlidingWindowPolicy::kIfUseSliding,
     /*tie_word_embeddings_default=*/false,
     "qwen25",
     16,
     {},
     kLlamaStyle},
    {Architecture::kQwen3,
     "qwen3",
     kQwen3Classes,
     kQwen3Types,
     kHfDecoderNames,
     AttentionBiasPolicy::kConfigQkvo,
     /*qk_norm=*/true,
     SlidingWindowPolicy::kIfUseSliding,
     /*tie_word_embeddings_default=*/false,
     "qwen",
     16,
     {},
     kLlamaStyle},
    {Architecture::kQwQ,
     "qwq",
     {},
     {},
     kHfDecoderNames,
     AttentionBiasPolicy::kAlwaysQkv,
     /*qk_norm=*/false,
     SlidingWindowPolicy::kIfUseSliding,
     /*tie_word_embeddings_default=*/false,
     "qwen25",
     16,
     {},
     kLlamaStyle},
    {Architecture::kMistral,
     "mistral",
     kMistralClasses,
     kMistralTypes,
     kHfDecoderNames,
     AttentionBiasPolicy::kNone,
     /*qk_norm=*/false,
     SlidingWindowPolicy::kFromConfig,
     /*tie_word_embeddings_default=*/false,
     "mistral",
     8,
     {},
     kLlamaStyle},
    // Phi-3 / Phi-3.5-mini: Llama's block with fused projections; its config's sliding_window
    // (2047 in Phi-3-mini-4k) applies to every layer, as in transformers. ANEMLL has no Phi-3
    // prefix of its own; "phi3" follows its naming.
    {Architecture::kPhi3, "phi3", kPhi3Classes, kPhi3Types, kHfDecoderNames,
     AttentionBiasPolicy::kNone, /*qk_norm=*/false, SlidingWindowPolicy::kFromConfig,
     /*tie_word_embeddings_default=*/false, "phi3", 8, kPhi3Fused, kLlamaStyle},
    // Gemma 3 text models (Gemma3ForCausalLM: 1B, 270M; the text part of the 4B/12B/27B). ANEMLL
    // names its files "gemma3" and splits the 262k-token head in 16.
    {Architecture::kGemma3,
     "gemma3",
     kGemma3Classes,
     kGemma3Types,
     kHfDecoderNames,
     AttentionBiasPolicy::kConfigQkvo,
     /*qk_norm=*/true,
     SlidingWindowPolicy::kLayerTypes,
     /*tie_word_embeddings_default=*/true,
     "gemma3",
     16,
     {},
     kGemmaStyle,
     kGemma3Renamed},
};

struct RoleInfo {
  TensorRole role;
  std::string_view name;
  bool per_layer;
};
constexpr RoleInfo kRoles[] = {
    {TensorRole::kEmbedding, "embedding", false},
    {TensorRole::kFinalNorm, "final_norm", false},
    {TensorRole::kLmHead, "lm_head", false},
    {TensorRole::kInputNorm, "input_norm", true},
    {TensorRole::kPostAttnNorm, "post_attention_norm", true},
    {TensorRole::kQProj, "q_proj", true},
    {TensorRole::kKProj, "k_proj", true},
    {TensorRole::kVProj, "v_proj", true},
    {TensorRole::kOProj, "o_proj", true},
    {TensorRole::kQBias, "q_bias", true},
    {TensorRole::kKBias, "k_bias", true},
    {TensorRole::kVBias, "v_bias", true},
    {TensorRole::kQNorm, "q_norm", true},
    {TensorRole::kKNorm, "k_norm", true},
    {TensorRole::kGateProj, "gate_proj", true},
    {TensorRole::kUpProj, "up_proj", true},
    {TensorRole::kDownProj, "down_proj", true},
    {TensorRole::kAttnOutNorm, "attention_output_norm", true},
    {TensorRole::kMlpOutNorm, "mlp_output_norm", true},
};
constexpr std::array<TensorRole, std::size(kRoles)> kAllRoles = [] {
  std::array<TensorRole, std::size(kRoles)> out{};
  for (size_t i = 0; i < std::size(kRoles); ++i) out[i] = kRoles[i].role;
  return out;
}();

const RoleInfo* FindRole(TensorRole role) {
  for (const RoleInfo& r : kRoles) {
    if (r.role == role) return &r;
  }
  return nullptr;
}

constexpr std::string_view kGemma3TextPrefixes[] = {"language_model.model.",
                                                    "model.language_model."};
constexpr WrapperClass kWrappers[] = {
    // gemma-3-4b/12b/27b-it. Defaults: transformers' Gemma3TextConfig.
    {"Gemma3ForConditionalGeneration", Architecture::kGemma3, 2304, 26, 8, 4, 256, 9216, 262208,
     131072, 4096, 1e-6, 1000000.0, 10000.0, 256.0, kGemma3TextPrefixes},
};

}  // namespace

const WrapperClass* FindWrapperClass(std::string_view hf_class) {
  for (const WrapperClass& w : kWrappers) {
    if (w.hf_class == hf_class) return &w;
  }
  return nullptr;
}

std::vector<std::string> NameCandidates(const ArchitectureTable& table, const std::string& name) {
  std::vector<std::string> out = {name};
  constexpr std::string_view kModel = "model.";
  if (!name.starts_with(kModel)) return out;
  for (const WrapperClass& w : kWrappers) {
    if (w.text_architecture != table.architecture) continue;
    for (std::string_view prefix : w.tensor_prefixes) {
      out.push_back(std::string(prefix) + name.substr(kModel.size()));
    }
  }
  return out;
}

std::string_view ArchitectureName(Architecture a) { return GetArchitectureTable(a).name; }

const ArchitectureTable& GetArchitectureTable(Architecture a) {
  for (const ArchitectureTable& t : kTables) {
    if (t.architecture == a) return t;
  }
  return kTables[0];  // unreachable: every enum value has a table (architecture_test checks)
}

std::span<const ArchitectureTable> AllArchitectureTables() { return kTables; }

const FusedTensor* FindFusedTensor(const ArchitectureTable& table, TensorRole role) {
  for (const FusedTensor& f : table.fused) {
    if (std::find(f.parts.begin(), f.parts.end(), role) != f.parts.end()) return &f;
  }
  return nullptr;
}

std::string SupportedArchitectureNames() {
  std::vector<std::string_view> names;
  for (const ArchitectureTable& t : kTables) names.push_back(t.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

Result<Architecture> ParseArchitectureName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const ArchitectureTable& t : kTables) {
    if (t.name == lower) return t.architecture;
  }
  return InvalidArgument("unknown architecture \"{}\"; supported: {}", name,
                         SupportedArchitectureNames());
}

std::string_view TensorRoleName(TensorRole role) {
  const RoleInfo* r = FindRole(role);
  return r ? r->name : "unknown_role";
}

std::span<const TensorRole> AllTensorRoles() { return kAllRoles; }

bool IsLayerRole(TensorRole role) {
  const RoleInfo* r = FindRole(role);
  return r != nullptr && r->per_layer;
}

bool RoleUsed(const ModelSpec& spec, TensorRole role) {
  switch (role) {
    case TensorRole::kLmHead:
      return !spec.tie_word_embeddings;
    case TensorRole::kQBias:
    case TensorRole::kKBias:
    case TensorRole::kVBias:
      return spec.attention_bias;
    case TensorRole::kQNorm:
    case TensorRole::kKNorm:
      return spec.qk_norm;
    case TensorRole::kAttnOutNorm:
    case TensorRole::kMlpOutNorm:
      return spec.sandwich_norms;
    default:
      return true;
  }
}

std::string FillLayerPattern(std::string_view pattern, int64_t layer) {
  std::string out(pattern);
  const size_t at = out.find("{}");
  if (at != std::string::npos) out.replace(at, 2, std::to_string(layer));
  return out;
}

std::string_view TensorPattern(const ArchitectureTable& table, TensorRole role) {
  for (const RoleName& rn : table.renamed) {
    if (rn.role == role) return rn.pattern;
  }
  for (const RoleName& rn : table.tensors) {
    if (rn.role == role) return rn.pattern;
  }
  return {};
}

std::string TensorNameFor(const ArchitectureTable& table, TensorRole role, int64_t layer) {
  const std::string_view pattern = TensorPattern(table, role);
  return pattern.empty() ? std::string() : FillLayerPattern(pattern, layer);
}

std::vector<int64_t> ExpectedShape(const ModelSpec& spec, TensorRole role) {
  const int64_t h = spec.hidden_size;
  const int64_t q = spec.num_heads * spec.head_dim;
  const int64_t kv = spec.num_kv_heads * spec.head_dim;
  const int64_t ff = spec.intermediate_size;
  switch (role) {
    case TensorRole::kEmbedding:
    case TensorRole::kLmHead:
      return {spec.vocab_size, h};
    case TensorRole::kFinalNorm:
    case TensorRole::kInputNorm:
    case TensorRole::kPostAttnNorm:
    case TensorRole::kAttnOutNorm:
    case TensorRole::kMlpOutNorm:
      return {h};
    case TensorRole::kQProj:
      return {q, h};
    case TensorRole::kKProj:
    case TensorRole::kVProj:
      return {kv, h};
    case TensorRole::kOProj:
      return {h, q};
    case TensorRole::kQBias:
      return {q};
    case TensorRole::kKBias:
    case TensorRole::kVBias:
      return {kv};
    case TensorRole::kQNorm:
    case TensorRole::kKNorm:
      return {spec.head_dim};
    case TensorRole::kGateProj:
    case TensorRole::kUpProj:
      return {ff, h};
    case TensorRole::kDownProj:
      return {h, ff};
  }
  return {};
}

}  // namespace anec::model
