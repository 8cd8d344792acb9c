// Architecture tables: per-architecture facts as data.
//
// Each supported architecture has one ArchitectureTable: how Hugging Face names it
// (`architectures` / `model_type` in config.json), which checkpoint tensor fills each TensorRole
// (a name pattern where "{}" is the layer index), and the short list of ways it differs from
// Llama (bias, q/k norm, sliding window, tied-embedding default, ANEMLL file prefix).
// Code that needs an architecture difference reads it from the table (or from the ModelSpec
// built from it); nothing switches on Architecture elsewhere.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/model_spec.h"

namespace anec::model {

// A role and the checkpoint name that fills it. "{}" in `pattern` stands for the layer index.
struct RoleName {
  TensorRole role;
  std::string_view pattern;
};

// Which attention projections carry a bias.
enum class AttentionBiasPolicy {
  kNone,        // never (Mistral); config's attention_bias is ignored
  kAlwaysQkv,   // q/k/v always have a bias, o does not, whatever config.json says (Qwen2)
  kConfigQkvo,  // config's attention_bias (default false) adds a bias to q/k/v/o; anec has
                // no o_proj bias role, so true is rejected as unsupported (Llama, Qwen3)
};

// How the config's sliding_window field is read.
enum class SlidingWindowPolicy {
  kNever,         // the architecture has no sliding window; the field is ignored
  kFromConfig,    // `sliding_window` (an int, or null for none) applies to every layer
  kIfUseSliding,  // only when `use_sliding_window` is true (Qwen2/Qwen3); anec rejects that
                  // case because those models apply it to a subset of layers only
  kLayerTypes,    // interleaved local and global layers (Gemma 3): `layer_types`
                  // ("sliding_attention" / "full_attention"), else `sliding_window_pattern`
                  // (every n-th layer global), the window `sliding_window` and the local rope
                  // base `rope_local_base_freq` (ModelSpec::local_attention)
};

// Ways a Gemma-style block differs from Llama's (all false / 0 / 1 for Llama).
struct BlockStyle {
  double norm_weight_offset;         // RMSNorm gain = offset + weight (Gemma: 1)
  bool embedding_scale_sqrt_hidden;  // embeddings times sqrt(hidden_size)
  bool sandwich_norms;               // norms on the attention and MLP outputs (kAttnOutNorm, ...)
  bool query_pre_attn_scalar;        // q scaled by config's query_pre_attn_scalar^-0.5
  MlpActivation default_activation;  // when config.json names none (hidden_activation / _act)
};

// A checkpoint tensor that stacks several roles' rows (Phi-3's qkv_proj and gate_up_proj): each
// part's rows follow the previous part's, as many as ExpectedShape(spec, part)[0]. A role is read
// from its slice only when the checkpoint lacks the role's own tensor.
struct FusedTensor {
  std::string_view pattern;  // "{}" is the layer index
  std::span<const TensorRole> parts;
};

struct ArchitectureTable {
  Architecture architecture;
  std::string_view name;                          // "llama", the --architecture override value
  std::span<const std::string_view> hf_classes;   // config.json `architectures` entries
  std::span<const std::string_view> model_types;  // config.json `model_type` values
  std::span<const RoleName> tensors;              // every role (with `renamed` below)

  // Differences from Llama:
  AttentionBiasPolicy attention_bias;
  bool qk_norm;  // per-head RMSNorm on q and k (Qwen3)
  SlidingWindowPolicy sliding_window;
  bool tie_word_embeddings_default;    // when config.json has no tie_word_embeddings
  std::string_view default_prefix;     // ANEMLL file prefix
  int64_t lm_head_pieces;              // ANEMLL's split_lm_head (ane/lm_head_function.h)
  std::span<const FusedTensor> fused;  // stacked projections, if the checkpoint stores them so
  BlockStyle style;
  // Roles whose names differ from `tensors` (looked up first; empty for most architectures).
  std::span<const RoleName> renamed = {};
};

// The fused tensor in `table` that has `role` as one of its parts, or null.
const FusedTensor* FindFusedTensor(const ArchitectureTable& table, TensorRole role);

// A vision + text checkpoint class whose text model anec converts (Gemma3ForConditionalGeneration):
// config.json nests the text model's settings under `text_config`, written by transformers as a
// diff against its defaults, and the text tensors carry a prefix.
struct WrapperClass {
  std::string_view hf_class;  // config.json `architectures` entry
  Architecture text_architecture;
  // The text model's config defaults for the fields text_config leaves out
  // (transformers' Gemma3TextConfig).
  int64_t hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
      intermediate_size, vocab_size, max_position_embeddings, sliding_window;
  double rms_norm_eps, rope_theta, rope_local_base_freq, query_pre_attn_scalar;
  // How the text tensors are named: each pair replaces the table's leading "model." by
  // `prefix` (older files "language_model.model.", transformers 5 "model.language_model.").
  std::span<const std::string_view> tensor_prefixes;
};

// The wrapper class named `hf_class`, or null.
const WrapperClass* FindWrapperClass(std::string_view hf_class);

// The checkpoint names to try for the table name `name`, in order: itself, then, when `table`'s
// architecture is the text model of a wrapper class, `name` with its leading "model." replaced by
// each of the wrapper's prefixes. Used by Bind().
std::vector<std::string> NameCandidates(const ArchitectureTable& table, const std::string& name);

// The table of one architecture (always exists).
const ArchitectureTable& GetArchitectureTable(Architecture a);

// All supported architectures, in a stable order (llama, qwen2, qwen3, qwq, mistral, phi3,
// gemma3).
std::span<const ArchitectureTable> AllArchitectureTables();

// "llama, qwen2, qwen3, qwq, mistral, phi3, gemma3": for error messages.
std::string SupportedArchitectureNames();

// Parses an override string ("llama", "qwen2", "qwen3", "qwq", "mistral", "phi3", "gemma3";
// case-insensitive).
// Error names the value and lists what is supported.
Result<Architecture> ParseArchitectureName(std::string_view name);

// "q_proj", "input_norm", ...: a short role name for messages and logs.
std::string_view TensorRoleName(TensorRole role);

// All roles, in declaration order.
std::span<const TensorRole> AllTensorRoles();

// True for roles that exist once per layer (name pattern contains "{}").
bool IsLayerRole(TensorRole role);

// Whether a model described by `spec` has a tensor for `role`: kLmHead only when not tied,
// biases only with attention_bias, q/k norms only with qk_norm, the output norms only with
// sandwich_norms; every other role always.
bool RoleUsed(const ModelSpec& spec, TensorRole role);

// The name pattern of `role` ("{}" for the layer): `renamed`'s entry, else `tensors`'s, else "".
std::string_view TensorPattern(const ArchitectureTable& table, TensorRole role);

// The checkpoint name of `role` (at `layer` for layer roles; `layer` is ignored otherwise).
// For kLmHead of a tied model this is still the lm_head pattern; Bind() redirects it.
std::string TensorNameFor(const ArchitectureTable& table, TensorRole role, int64_t layer);

// `pattern` with its "{}" replaced by `layer` (unchanged if it has none).
std::string FillLayerPattern(std::string_view pattern, int64_t layer);

// The shape `role` must have in a model described by `spec` (PyTorch order, see TensorRole).
std::vector<int64_t> ExpectedShape(const ModelSpec& spec, TensorRole role);

}  // namespace anec::model
