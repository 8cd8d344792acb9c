#include "io/gguf_checkpoint.h"

#include <cmath>
#include <cstring>
#include <span>

#include "io/gguf_dequant.h"

namespace anec::io {
namespace {

// GGUF tensor name -> Hugging Face name; "{}" is the layer index. `rotary` marks the rows that
// llama.cpp permutes for the "llama" architecture (q by head count, k by KV head count).
enum class Rotary { kNone, kQ, kK };
struct NameRow {
  const char* gguf;
  const char* hf;
  Rotary rotary;
};
constexpr NameRow kGgufNameTable[] = {
    {"token_embd.weight", "model.embed_tokens.weight", Rotary::kNone},
    {"output_norm.weight", "model.norm.weight", Rotary::kNone},
    {"output.weight", "lm_head.weight", Rotary::kNone},
    {"blk.{}.attn_norm.weight", "model.layers.{}.input_layernorm.weight", Rotary::kNone},
    {"blk.{}.ffn_norm.weight", "model.layers.{}.post_attention_layernorm.weight", Rotary::kNone},
    {"blk.{}.attn_q.weight", "model.layers.{}.self_attn.q_proj.weight", Rotary::kQ},
    {"blk.{}.attn_k.weight", "model.layers.{}.self_attn.k_proj.weight", Rotary::kK},
    {"blk.{}.attn_v.weight", "model.layers.{}.self_attn.v_proj.weight", Rotary::kNone},
    {"blk.{}.attn_output.weight", "model.layers.{}.self_attn.o_proj.weight", Rotary::kNone},
    {"blk.{}.attn_q.bias", "model.layers.{}.self_attn.q_proj.bias", Rotary::kNone},
    {"blk.{}.attn_k.bias", "model.layers.{}.self_attn.k_proj.bias", Rotary::kNone},
    {"blk.{}.attn_v.bias", "model.layers.{}.self_attn.v_proj.bias", Rotary::kNone},
    {"blk.{}.attn_q_norm.weight", "model.layers.{}.self_attn.q_norm.weight", Rotary::kNone},
    {"blk.{}.attn_k_norm.weight", "model.layers.{}.self_attn.k_norm.weight", Rotary::kNone},
    {"blk.{}.ffn_gate.weight", "model.layers.{}.mlp.gate_proj.weight", Rotary::kNone},
    {"blk.{}.ffn_up.weight", "model.layers.{}.mlp.up_proj.weight", Rotary::kNone},
    {"blk.{}.ffn_down.weight", "model.layers.{}.mlp.down_proj.weight", Rotary::kNone},
};

// Phi-3: llama.cpp keeps the projections fused as transformers stores them (attn_qkv; ffn_up
// holds the gate rows, then the up rows). model/ slices them (ArchitectureTable::fused).
constexpr NameRow kPhi3NameTable[] = {
    {"token_embd.weight", "model.embed_tokens.weight", Rotary::kNone},
    {"output_norm.weight", "model.norm.weight", Rotary::kNone},
    {"output.weight", "lm_head.weight", Rotary::kNone},
    {"blk.{}.attn_norm.weight", "model.layers.{}.input_layernorm.weight", Rotary::kNone},
    {"blk.{}.ffn_norm.weight", "model.layers.{}.post_attention_layernorm.weight", Rotary::kNone},
    {"blk.{}.attn_qkv.weight", "model.layers.{}.self_attn.qkv_proj.weight", Rotary::kNone},
    {"blk.{}.attn_output.weight", "model.layers.{}.self_attn.o_proj.weight", Rotary::kNone},
    {"blk.{}.ffn_up.weight", "model.layers.{}.mlp.gate_up_proj.weight", Rotary::kNone},
    {"blk.{}.ffn_down.weight", "model.layers.{}.mlp.down_proj.weight", Rotary::kNone},
};

// Gemma 3 (llama.cpp's gemma3 tensors): four norms per layer; ffn_norm is the MLP's input norm
// (pre_feedforward_layernorm), post_attention_norm and post_ffw_norm the output norms.
constexpr NameRow kGemma3NameTable[] = {
    {"token_embd.weight", "model.embed_tokens.weight", Rotary::kNone},
    {"output_norm.weight", "model.norm.weight", Rotary::kNone},
    {"output.weight", "lm_head.weight", Rotary::kNone},
    {"blk.{}.attn_norm.weight", "model.layers.{}.input_layernorm.weight", Rotary::kNone},
    {"blk.{}.post_attention_norm.weight", "model.layers.{}.post_attention_layernorm.weight",
     Rotary::kNone},
    {"blk.{}.ffn_norm.weight", "model.layers.{}.pre_feedforward_layernorm.weight", Rotary::kNone},
    {"blk.{}.post_ffw_norm.weight", "model.layers.{}.post_feedforward_layernorm.weight",
     Rotary::kNone},
    {"blk.{}.attn_q.weight", "model.layers.{}.self_attn.q_proj.weight", Rotary::kNone},
    {"blk.{}.attn_k.weight", "model.layers.{}.self_attn.k_proj.weight", Rotary::kNone},
    {"blk.{}.attn_v.weight", "model.layers.{}.self_attn.v_proj.weight", Rotary::kNone},
    {"blk.{}.attn_output.weight", "model.layers.{}.self_attn.o_proj.weight", Rotary::kNone},
    {"blk.{}.attn_q_norm.weight", "model.layers.{}.self_attn.q_norm.weight", Rotary::kNone},
    {"blk.{}.attn_k_norm.weight", "model.layers.{}.self_attn.k_norm.weight", Rotary::kNone},
    {"blk.{}.ffn_gate.weight", "model.layers.{}.mlp.gate_proj.weight", Rotary::kNone},
    {"blk.{}.ffn_up.weight", "model.layers.{}.mlp.up_proj.weight", Rotary::kNone},
    {"blk.{}.ffn_down.weight", "model.layers.{}.mlp.down_proj.weight", Rotary::kNone},
};

// GGUF general.architecture -> Hugging Face class, whether Q/K rows were permuted, and the
// tensor name table.
struct ArchRow {
  const char* gguf_arch;
  const char* hf_class;
  const char* model_type;
  bool rotary_permuted;
  std::span<const NameRow> names;
  // llama.cpp's converter stores Gemma's norm weights as 1 + w (the gain itself).
  bool norms_hold_unit_offset;
};
constexpr ArchRow kArchTable[] = {
    {"llama", "LlamaForCausalLM", "llama", true, kGgufNameTable, false},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false, kGgufNameTable, false},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", false, kGgufNameTable, false},
    {"phi3", "Phi3ForCausalLM", "phi3", false, kPhi3NameTable, false},
    {"gemma3", "Gemma3ForCausalLM", "gemma3_text", false, kGemma3NameTable, true},
};

std::string Subst(const char* pattern, int64_t layer) {
  std::string s(pattern);
  size_t p = s.find("{}");
  if (p != std::string::npos) s.replace(p, 2, std::to_string(layer));
  return s;
}

}  // namespace

std::vector<uint8_t> UnpermuteRotaryRows(std::span<const uint8_t> data, int64_t rows, int64_t heads,
                                         size_t row_bytes) {
  std::vector<uint8_t> out(data.size());
  int64_t hd = rows / heads, half = hd / 2;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        int64_t src = h * hd + 2 * i + j, dst = h * hd + j * half + i;
        std::memcpy(out.data() + dst * row_bytes, data.data() + src * row_bytes, row_bytes);
      }
    }
  }
  return out;
}

Result<std::unique_ptr<GgufCheckpoint>> GgufCheckpoint::Open(FileSystem* fs,
                                                             const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(GgufFile f, GgufFile::Open(fs, path));
  auto c = std::unique_ptr<GgufCheckpoint>(new GgufCheckpoint());
  c->file_ = std::make_unique<GgufFile>(std::move(f));
  ANEC_RETURN_IF_ERROR(c->Build());
  return c;
}

Status GgufCheckpoint::Build() {
  const GgufFile& f = *file_;
  ANEC_ASSIGN_OR_RETURN(arch_, f.GetString("general.architecture"));
  const ArchRow* arch = nullptr;
  for (const ArchRow& a : kArchTable)
    if (arch_ == a.gguf_arch) arch = &a;
  if (arch == nullptr) {
    return Unsupported(
        "{}: GGUF architecture '{}' is not supported (anec reads llama, qwen2, qwen3, "
        "phi3 and gemma3 GGUF files; Mistral GGUFs use 'llama')",
        f.path(), arch_);
  }
  auto key = [&](const char* k) { return arch_ + "." + k; };
  ANEC_ASSIGN_OR_RETURN(int64_t layers, f.GetInt(key("block_count")));
  ANEC_ASSIGN_OR_RETURN(int64_t hidden, f.GetInt(key("embedding_length")));
  ANEC_ASSIGN_OR_RETURN(int64_t ffn, f.GetInt(key("feed_forward_length")));
  ANEC_ASSIGN_OR_RETURN(int64_t heads, f.GetInt(key("attention.head_count")));
  int64_t kv_heads = heads;
  if (f.Has(key("attention.head_count_kv"))) {
    ANEC_ASSIGN_OR_RETURN(kv_heads, f.GetInt(key("attention.head_count_kv")));
  }
  if (layers <= 0 || layers > 1024 || hidden <= 0 || heads <= 0 || kv_heads <= 0 ||
      heads % kv_heads) {
    return Corrupt(
        "{}: inconsistent model sizes in metadata (layers {}, hidden {}, heads {}, kv heads {})",
        f.path(), layers, hidden, heads, kv_heads);
  }
  int64_t head_dim = hidden / heads;
  if (f.Has(key("attention.key_length"))) {
    ANEC_ASSIGN_OR_RETURN(head_dim, f.GetInt(key("attention.key_length")));
  } else if (f.Has(key("rope.dimension_count"))) {
    ANEC_ASSIGN_OR_RETURN(head_dim, f.GetInt(key("rope.dimension_count")));
  }
  if (f.FindTensor("rope_factors_long.weight") != nullptr) {
    // Phi-3 128k's "longrope": per-frequency factors that switch with the sequence length.
    return Unsupported(
        "{}: the file has rope_factors_long.weight (longrope scaling, e.g. "
        "Phi-3-128k), which anec does not support; use a 4k-context model",
        f.path());
  }
  if (const GgufTensorInfo* freqs = f.FindTensor("rope_freqs.weight")) {
    ANEC_RETURN_IF_ERROR(ReadRopeFrequencyFactors(*freqs, head_dim));
  }
  nlohmann::json cfg;
  cfg["architectures"] = {arch->hf_class};
  cfg["model_type"] = arch->model_type;
  cfg["hidden_size"] = hidden;
  cfg["intermediate_size"] = ffn;
  cfg["num_hidden_layers"] = layers;
  cfg["num_attention_heads"] = heads;
  cfg["num_key_value_heads"] = kv_heads;
  cfg["head_dim"] = head_dim;
  double eps = 1e-6;
  if (f.Has(key("attention.layer_norm_rms_epsilon"))) {
    ANEC_ASSIGN_OR_RETURN(eps, f.GetFloat(key("attention.layer_norm_rms_epsilon")));
  }
  // GGUF stores eps as float32; print the shortest decimal that rounds back to that float.
  cfg["rms_norm_eps"] = std::stod(fmt::format("{}", static_cast<float>(eps)));
  double theta = 10000.0;
  if (f.Has(key("rope.freq_base"))) {
    ANEC_ASSIGN_OR_RETURN(theta, f.GetFloat(key("rope.freq_base")));
  }
  cfg["rope_theta"] = theta;
  if (f.Has(key("rope.scaling.type"))) {
    ANEC_ASSIGN_OR_RETURN(std::string type, f.GetString(key("rope.scaling.type")));
    if (type == "linear" && !rope_frequency_factors_.empty()) {
      return Unsupported(
          "{}: the file has both linear rope scaling ({}) and rope_freqs.weight; "
          "llama.cpp applies both, anec only one: convert the Hugging Face "
          "checkpoint instead",
          f.path(), key("rope.scaling.type"));
    }
    if (type == "linear") {
      ANEC_ASSIGN_OR_RETURN(double factor, f.GetFloat(key("rope.scaling.factor")));
      cfg["rope_scaling"] = {{"rope_type", "linear"}, {"factor", factor}};
    } else if (type != "none") {
      return Unsupported("{}: rope scaling '{}' is not supported (anec handles linear and llama3)",
                         f.path(), type);
    }
  }
  int64_t context = 2048;
  if (f.Has(key("context_length"))) {
    ANEC_ASSIGN_OR_RETURN(context, f.GetInt(key("context_length")));
  }
  cfg["max_position_embeddings"] = context;
  const GgufTensorInfo* embd = f.FindTensor("token_embd.weight");
  if (embd == nullptr) return NotFound("{}: tensor token_embd.weight is missing", f.path());
  cfg["vocab_size"] = embd->shape()[0];
  cfg["tie_word_embeddings"] = f.FindTensor("output.weight") == nullptr;
  if (f.Has("tokenizer.ggml.bos_token_id")) {
    ANEC_ASSIGN_OR_RETURN(int64_t bos, f.GetInt("tokenizer.ggml.bos_token_id"));
    cfg["bos_token_id"] = bos;
  }
  if (f.Has("tokenizer.ggml.eos_token_id")) {
    ANEC_ASSIGN_OR_RETURN(int64_t eos, f.GetInt("tokenizer.ggml.eos_token_id"));
    cfg["eos_token_id"] = eos;
  }
  cfg["torch_dtype"] = "float16";
  if (arch_ == "qwen2") cfg["use_sliding_window"] = false;
  if (f.Has(key("attention.sliding_window"))) {  // phi3 writes it; every layer uses it
    ANEC_ASSIGN_OR_RETURN(int64_t window, f.GetInt(key("attention.sliding_window")));
    cfg["sliding_window"] = window;
  }
  norms_hold_unit_offset_ = arch->norms_hold_unit_offset;
  if (arch_ == "gemma3") {
    // What llama.cpp assumes for every gemma3 file (it reads none of these from the metadata):
    // every 6th layer global, the local layers' rope base 10000 unscaled, and the attention
    // scale 1/sqrt(head_dim), but 1/sqrt(hidden / heads) for the 62-layer 27B.
    cfg["sliding_window_pattern"] = 6;
    cfg["rope_local_base_freq"] = 10000.0;
    cfg["query_pre_attn_scalar"] = layers == 62 ? hidden / heads : head_dim;
    cfg["hidden_activation"] = "gelu_pytorch_tanh";
  }
  if (f.Has("general.name")) {
    ANEC_ASSIGN_OR_RETURN(std::string name, f.GetString("general.name"));
    // Only a label: a name that is not UTF-8 (which config.json cannot hold) is left out.
    if (IsValidUtf8(name)) cfg["_name_or_path"] = name;
  }
  config_ = std::move(cfg);

  // Map every tensor through the name table.
  for (int64_t layer = -1; layer < layers; ++layer) {
    for (const NameRow& row : arch->names) {
      bool per_layer = std::strstr(row.gguf, "{}") != nullptr;
      if (per_layer != (layer >= 0)) continue;
      const GgufTensorInfo* t = f.FindTensor(Subst(row.gguf, layer));
      if (t == nullptr) continue;
      int64_t unpermute = 0;
      if (arch->rotary_permuted && row.rotary != Rotary::kNone) {
        unpermute = row.rotary == Rotary::kQ ? heads : kv_heads;
        if (t->dims.size() != 2 || t->shape()[0] % unpermute || (t->shape()[0] / unpermute) % 2) {
          return Corrupt("{}: tensor {} has shape [{}] which cannot hold {} rotary heads", f.path(),
                         t->name, fmt::join(t->shape(), ", "), unpermute);
        }
      }
      std::string hf = Subst(row.hf, layer);
      entries_[hf] = Entry{hf, t, unpermute};
    }
  }
  return Status::Ok();
}

std::vector<TensorInfo> GgufCheckpoint::List() const {
  std::vector<TensorInfo> out;
  for (const auto& [name, e] : entries_)
    out.push_back(TensorInfo{name, TensorDType::kF32, e.info->shape()});
  return out;
}

Status GgufCheckpoint::ReadRopeFrequencyFactors(const GgufTensorInfo& t, int64_t head_dim) {
  const GgufFile& f = *file_;
  if (t.dims.size() != 1 || t.shape()[0] * 2 != head_dim) {
    return Corrupt(
        "{}: tensor rope_freqs.weight has shape [{}]; a head_dim of {} needs [{}] "
        "(one factor per rotary frequency)",
        f.path(), fmt::join(t.shape(), ", "), head_dim, head_dim / 2);
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<float> values, DequantizeTensor(f, t));
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(values[i] > 0) || !std::isfinite(values[i])) {
      return Corrupt(
          "{}: rope_freqs.weight[{}] is {}; rope frequency factors must be finite and "
          "positive",
          f.path(), i, values[i]);
    }
  }
  rope_frequency_factors_.assign(values.begin(), values.end());
  return Status::Ok();
}

bool GgufCheckpoint::Has(const std::string& name) const { return entries_.count(name) > 0; }

Result<TensorInfo> GgufCheckpoint::Info(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound("{}: no tensor maps to '{}'", file_->path(), name);
  return TensorInfo{name, TensorDType::kF32, it->second.info->shape()};
}

Result<TensorData> GgufCheckpoint::Read(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound("{}: no tensor maps to '{}'", file_->path(), name);
  const Entry& e = it->second;
  ANEC_ASSIGN_OR_RETURN(std::vector<float> values, DequantizeTensor(*file_, *e.info));
  TensorData out;
  out.info = TensorInfo{name, TensorDType::kF32, e.info->shape()};
  std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4);
  if (e.unpermute_heads) {
    int64_t rows = e.info->shape()[0];
    out.owned =
        UnpermuteRotaryRows(raw, rows, e.unpermute_heads, raw.size() / static_cast<size_t>(rows));
  } else {
    out.owned.assign(raw.begin(), raw.end());
  }
  out.data = out.owned;
  return out;
}

Result<GgmlType> GgufCheckpoint::RawType(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound("{}: no tensor maps to '{}'", file_->path(), name);
  return it->second.info->type;
}

Result<GgufRawTensor> GgufCheckpoint::ReadRaw(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound("{}: no tensor maps to '{}'", file_->path(), name);
  const Entry& e = it->second;
  if (e.info->dims.size() != 2) return InvalidArgument("{}: {} is not 2-D", file_->path(), name);
  GgufRawTensor out{e.info->type, e.info->shape(), {}};
  std::span<const uint8_t> raw = file_->TensorBytes(*e.info);
  int64_t rows = out.shape[0];
  if (e.unpermute_heads) {
    out.bytes =
        UnpermuteRotaryRows(raw, rows, e.unpermute_heads, raw.size() / static_cast<size_t>(rows));
  } else {
    out.bytes.assign(raw.begin(), raw.end());
  }
  return out;
}

}  // namespace anec::io
