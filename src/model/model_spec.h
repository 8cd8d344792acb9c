// ModelSpec: one normalized description of a decoder-only transformer, whatever its
// architecture or file format. Every later stage (ane/, pipeline/) reads only this, never
// config.json or GGUF metadata.
//
// Per-architecture differences are data: an ArchitectureTable (architecture.h) says which
// checkpoint tensor names fill each role and which optional features apply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace anec::model {

enum class Architecture { kLlama, kQwen2, kQwen3, kQwQ, kMistral, kPhi3, kGemma3 };

// "llama", "qwen2", "qwen3", "qwq", "mistral", "phi3", "gemma3".
std::string_view ArchitectureName(Architecture a);

// kFrequencyFactors: a GGUF's rope_freqs.weight (llama.cpp's converter stores the llama3 rule
// as one divisor per frequency); inv_freq[i] is divided by frequency_factors[i], as llama.cpp does.
enum class RopeScalingType { kNone, kLinear, kLlama3, kFrequencyFactors };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  // llama3 only:
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  // kFrequencyFactors only: head_dim/2 finite positive divisors.
  std::vector<double> frequency_factors;
};

// The MLP's gate activation: act(gate(n)) * up(n).
enum class MlpActivation {
  kSilu,      // SwiGLU (Llama, Qwen, Mistral, Phi-3)
  kGeluTanh,  // GeGLU with the tanh approximation (Gemma 3's gelu_pytorch_tanh)
};

// Interleaved local (sliding-window) and global layers (Gemma 3): the layers where
// `is_local[l]` attend only to the last `window` positions and rotate with their own
// inv_freq base `rope_theta` (no rope scaling); the other layers see the whole context and use
// ModelSpec's rope_theta and rope_scaling.
struct LocalAttention {
  int64_t window = 0;
  double rope_theta = 10000.0;
  std::vector<bool> is_local;  // one per layer
};

struct ModelSpec {
  Architecture architecture = Architecture::kLlama;
  std::string model_type;  // as in config.json, e.g. "llama"
  std::string name;        // a human-friendly name, e.g. the folder or repo name

  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // explicit in config.json or hidden_size / num_heads
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 0;

  bool tie_word_embeddings = false;
  bool attention_bias = false;   // q/k/v projections have bias (Qwen2)
  bool qk_norm = false;          // per-head RMSNorm on q and k before RoPE (Qwen3)
  std::optional<int64_t> sliding_window;  // Mistral; absent = full attention
  std::optional<LocalAttention> local_attention;  // Gemma 3; absent = every layer alike

  // Gemma-style differences (defaults are Llama's):
  // RMSNorm gains are (norm_weight_offset + weight): 1 for Gemma, whose checkpoints store w - 1.
  double norm_weight_offset = 0.0;
  // The embedding rows are multiplied by this (Gemma: sqrt(hidden_size), in the model's dtype).
  double embedding_scale = 1.0;
  // RMSNorms on the attention output and the MLP output before each residual add (Gemma's
  // post_attention_layernorm and post_feedforward_layernorm; roles kAttnOutNorm, kMlpOutNorm).
  bool sandwich_norms = false;
  MlpActivation mlp_activation = MlpActivation::kSilu;
  // The residual stream is carried multiplied by this (--residual-scale; fp16 range, Gemma 3):
  // the embedding scale and the sandwich-norm gains take the factor, which every later RMSNorm
  // cancels (its eps aside). Needs sandwich_norms: the only branch outputs that are normalized.
  double residual_scale = 1.0;
  // q is multiplied by this before q k^T; absent = 1/sqrt(head_dim) (Gemma 3:
  // query_pre_attn_scalar^-0.5).
  std::optional<double> attention_scale;

  std::vector<int64_t> bos_token_ids;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype;  // stored dtype named in config ("bfloat16", ...)

  // ANEMLL file prefix: "llama", "qwen25", "qwen", ...
  std::string default_prefix;
  // ANEMLL's LM-head piece count for the architecture (meta.yaml split_lm_head): 8, 16 for Qwen.
  int64_t lm_head_pieces = 8;
};

// The checkpoint tensor that fills a role. Layer roles are per-layer and the name contains the
// layer index.
enum class TensorRole {
  kEmbedding,      // [vocab, hidden]
  kFinalNorm,      // [hidden]
  kLmHead,         // [vocab, hidden]; absent when tie_word_embeddings
  kInputNorm,      // [hidden]
  kPostAttnNorm,   // [hidden]  the MLP's input norm (Gemma: pre_feedforward_layernorm)
  kQProj,          // [heads*head_dim, hidden]
  kKProj,          // [kv_heads*head_dim, hidden]
  kVProj,          // [kv_heads*head_dim, hidden]
  kOProj,          // [hidden, heads*head_dim]
  kQBias,          // [heads*head_dim]      (attention_bias)
  kKBias,          // [kv_heads*head_dim]   (attention_bias)
  kVBias,          // [kv_heads*head_dim]   (attention_bias)
  kQNorm,          // [head_dim]            (qk_norm)
  kKNorm,          // [head_dim]            (qk_norm)
  kGateProj,       // [intermediate, hidden]
  kUpProj,         // [intermediate, hidden]
  kDownProj,       // [hidden, intermediate]
  kAttnOutNorm,    // [hidden]              (sandwich_norms: on the attention output)
  kMlpOutNorm,     // [hidden]              (sandwich_norms: on the MLP output)
};

}  // namespace anec::model
