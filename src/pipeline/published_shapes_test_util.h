// The shapes of published models, as ModelSpecs for the chunk-plan and size tests (test-only;
// values from each model's config.json).
#pragma once

#include "model/model_spec.h"

namespace anec::pipeline {

// meta-llama/Llama-3.2-1B: 16 layers of 2048, GQA 32/8 heads of 64, tied embeddings.
inline model::ModelSpec Llama32_1B() {
  model::ModelSpec s;
  s.hidden_size = 2048;
  s.num_layers = 16;
  s.num_heads = 32;
  s.num_kv_heads = 8;
  s.head_dim = 64;
  s.intermediate_size = 8192;
  s.vocab_size = 128256;
  s.tie_word_embeddings = true;
  return s;
}

// Phi-3-mini-4k-instruct's config: 32 layers of 3072, MHA (32 heads of 96), intermediate 8192,
// vocab 32064, untied. Issue 14 asks for its chunk plan (docs/PIPELINE.md shows it).
inline model::ModelSpec Phi3Mini() {
  model::ModelSpec s;
  s.architecture = model::Architecture::kPhi3;
  s.hidden_size = 3072;
  s.num_layers = 32;
  s.num_heads = 32;
  s.num_kv_heads = 32;
  s.head_dim = 96;
  s.intermediate_size = 8192;
  s.vocab_size = 32064;
  s.tie_word_embeddings = false;
  return s;
}

// google/gemma-3-4b-it's text model (its config.json text_config): tied embeddings of a 262,208
// vocabulary, head_dim 256 (8 heads x 256 = 2048 != hidden 2560), 34 layers.
inline model::ModelSpec Gemma3_4B() {
  model::ModelSpec s;
  s.architecture = model::Architecture::kGemma3;
  s.hidden_size = 2560;
  s.num_layers = 34;
  s.num_heads = 8;
  s.num_kv_heads = 4;
  s.head_dim = 256;
  s.intermediate_size = 10240;
  s.vocab_size = 262208;
  s.tie_word_embeddings = true;
  s.qk_norm = true;
  s.sandwich_norms = true;
  s.norm_weight_offset = 1.0;
  model::LocalAttention local;
  local.window = 1024;
  for (int64_t l = 0; l < s.num_layers; ++l) local.is_local.push_back((l + 1) % 6 != 0);
  s.local_attention = local;
  return s;
}

// Llama-3.x-70B: 80 layers of 8192, GQA 64/8 heads of 128, untied.
inline model::ModelSpec Llama70B() {
  model::ModelSpec s;
  s.hidden_size = 8192;
  s.num_layers = 80;
  s.num_heads = 64;
  s.num_kv_heads = 8;
  s.head_dim = 128;
  s.intermediate_size = 28672;
  s.vocab_size = 128256;
  return s;
}

// Qwen/QwQ-32B: 64 layers of 5120, GQA 40/8, q/k/v biases, untied.
inline model::ModelSpec QwQ32B() {
  model::ModelSpec s;
  s.architecture = model::Architecture::kQwQ;
  s.hidden_size = 5120;
  s.num_layers = 64;
  s.num_heads = 40;
  s.num_kv_heads = 8;
  s.head_dim = 128;
  s.intermediate_size = 27648;
  s.vocab_size = 152064;
  s.tie_word_embeddings = false;
  s.attention_bias = true;
  return s;
}

}  // namespace anec::pipeline
