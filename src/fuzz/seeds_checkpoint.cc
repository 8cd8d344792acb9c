// Seeds of the checkpoint readers: gguf, safetensors, hf_config, prequant_config.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/file_system.h"
#include "base/half.h"
#include "fuzz/fuzz_files.h"
#include "fuzz/make_fuzz_seeds.h"
#include "io/gguf_checkpoint.h"
#include "io/gguf_tokenizer.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/gguf_model.h"
#include "model/hf_checkpoint.h"

namespace anec::fuzz {
namespace {

using io::GgmlType;
using nlohmann::json;

// GGUF version 3 bytes (docs/GGUF_FORMAT.md), written independently of the reader.
class GgufBuilder {
 public:
  GgufBuilder& Str(const std::string& key, const std::string& v) { return Key(key, 8).PutStr(v); }
  GgufBuilder& U32(const std::string& key, uint32_t v) { return Key(key, 4).Put(v); }
  GgufBuilder& F32(const std::string& key, float v) { return Key(key, 6).Put(v); }
  GgufBuilder& Bool(const std::string& key, bool v) { return Key(key, 7).Put<uint8_t>(v); }
  GgufBuilder& Strings(const std::string& key, const std::vector<std::string>& v) {
    Key(key, 9).Put<uint32_t>(8).Put<uint64_t>(v.size());
    for (const auto& s : v) PutStr(s);
    return *this;
  }
  GgufBuilder& Floats(const std::string& key, const std::vector<float>& v) {
    Key(key, 9).Put<uint32_t>(6).Put<uint64_t>(v.size());
    for (float x : v) Put(x);
    return *this;
  }
  GgufBuilder& Ints(const std::string& key, const std::vector<int32_t>& v) {
    Key(key, 9).Put<uint32_t>(5).Put<uint64_t>(v.size());
    for (int32_t x : v) Put(x);
    return *this;
  }
  // `dims` innermost first, as GGUF stores them. The data is made up: small floats for float
  // types, blocks with a small f16 scale first for the block types.
  GgufBuilder& Tensor(const std::string& name, std::vector<uint64_t> dims, GgmlType type) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    const uint64_t block = static_cast<uint64_t>(io::GgmlBlockSize(type));
    const uint64_t bytes = n / block * static_cast<uint64_t>(io::GgmlBlockBytes(type));
    std::string data(bytes, '\0');
    for (uint64_t i = 0; i < bytes; ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
    if (type == GgmlType::kF32) {
      for (uint64_t i = 0; i < n; ++i) {
        // Positive for rope_freqs.weight (divisors), small and signed for the rest.
        float v = name == "rope_freqs.weight" ? 1.0f + static_cast<float>(i)
                                              : 0.02f * static_cast<float>(i % 17) - 0.1f;
        std::memcpy(&data[i * 4], &v, 4);
      }
    } else if (type == GgmlType::kF16 || block > 1) {
      const uint64_t step = block > 1 ? static_cast<uint64_t>(io::GgmlBlockBytes(type)) : 2;
      for (uint64_t off = 0; off + 2 <= bytes; off += step) {
        uint16_t h = FloatToHalf(0.01f * static_cast<float>(off % 7 + 1));
        std::memcpy(&data[off], &h, 2);
      }
    }
    infos_.Put<uint64_t>(name.size());
    infos_.bytes_ += name;
    infos_.Put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) infos_.Put(d);
    infos_.Put(static_cast<uint32_t>(type)).Put<uint64_t>(data_.size());
    data_ += data;
    while (data_.size() % 32) data_ += '\0';
    ++tensors_;
    return *this;
  }
  std::string Finish() const {
    GgufBuilder head;
    head.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(tensors_).Put<uint64_t>(kvs_);
    std::string out = head.bytes_ + bytes_ + infos_.bytes_;
    while (out.size() % 32) out += '\0';
    return out + data_;
  }

 private:
  template <typename T>
  GgufBuilder& Put(T v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  GgufBuilder& PutStr(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes_ += s;
    return *this;
  }
  GgufBuilder& Key(const std::string& key, uint32_t type) {
    ++kvs_;
    return PutStr(key).Put(type);
  }
  std::string bytes_, data_;
  uint64_t kvs_ = 0, tensors_ = 0;
  // Tensor descriptors go after all metadata; kept in a second builder's bytes.
  struct Infos {
    template <typename T>
    Infos& Put(T v) {
      bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T));
      return *this;
    }
    std::string bytes_;
  } infos_;
};

// A byte-level BPE ("gpt2") vocabulary: specials, letters and digits in the GPT-2 byte alphabet
// ("Ġ" is the space), a few merges, one user-defined token.
void Gpt2Tokenizer(GgufBuilder* b, const std::string& pre) {
  std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "Ġ"};
  std::vector<int32_t> types = {3, 3, 3, 1};
  for (char c = 'a'; c <= 'z'; ++c) tokens.push_back(std::string(1, c));
  for (char c = '0'; c <= '9'; ++c) tokens.push_back(std::string(1, c));
  for (const char* t : {",", ".", "!", "Ċ", "Ġt", "he", "Ġthe", "in", "er", "Ġw", "or", "<tool>"}) {
    tokens.push_back(t);
  }
  types.resize(tokens.size(), 1);
  types.back() = 4;
  b->Str("tokenizer.ggml.model", "gpt2")
      .Str("tokenizer.ggml.pre", pre)
      .Strings("tokenizer.ggml.tokens", tokens)
      .Ints("tokenizer.ggml.token_type", types)
      .Strings("tokenizer.ggml.merges", {"Ġ t", "h e", "Ġt he", "i n", "e r", "Ġ w", "o r"})
      .U32("tokenizer.ggml.bos_token_id", 1)
      .U32("tokenizer.ggml.eos_token_id", 2)
      .U32("tokenizer.ggml.padding_token_id", 0)
      .Bool("tokenizer.ggml.add_bos_token", false)
      .Str("tokenizer.chat_template",
           "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
           "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
}

// A SentencePiece ("llama") vocabulary: <unk> <s> </s>, byte tokens, scored pieces.
int64_t SpmTokenizer(GgufBuilder* b) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int byte : {0x0A, 0x20, 0x21, 0x2C, 0xC3, 0xA9, 0xE2, 0x96, 0x81}) {
    tokens.push_back(fmt::format("<0x{:02X}>", byte));
    types.push_back(6);
  }
  std::vector<float> scores(tokens.size(), 0.0f);
  const char* pieces[] = {"▁",  "t",    "h",      "e",   "a",    "l",     "o",  "w",
                          "r",  "d",    "▁t",     "he",  "▁the", "ll",    "▁w", "or",
                          "ld", "▁wor", "▁world", "▁he", "llo",  "▁hello"};
  float score = -1;
  for (const char* piece : pieces) {
    tokens.push_back(piece);
    types.push_back(1);
    scores.push_back(score -= 0.5f);
  }
  tokens.push_back("<tool>");
  types.push_back(4);
  scores.push_back(0);
  b->Str("tokenizer.ggml.model", "llama")
      .Strings("tokenizer.ggml.tokens", tokens)
      .Floats("tokenizer.ggml.scores", scores)
      .Ints("tokenizer.ggml.token_type", types)
      .U32("tokenizer.ggml.unknown_token_id", 0)
      .U32("tokenizer.ggml.bos_token_id", 1)
      .U32("tokenizer.ggml.eos_token_id", 2)
      .Bool("tokenizer.ggml.add_bos_token", true)
      .Bool("tokenizer.ggml.add_space_prefix", true);
  return static_cast<int64_t>(tokens.size());
}

// A one-layer model of `arch` (hidden 32, 4 heads of 8, 2 KV heads, FFN 64) whose matrices use
// the block types anec converts (Q4_0/Q4_1/Q5_0/Q5_1/Q8_0), with a gpt2 vocabulary.
std::string ModelGguf(const std::string& arch, bool rope_freqs) {
  GgufBuilder b;
  const uint64_t h = 32, kv = 16, ffn = 64, vocab = 52;
  b.Str("general.architecture", arch)
      .Str("general.name", "fuzz-" + arch)
      .U32("general.alignment", 32)
      .U32(arch + ".block_count", 1)
      .U32(arch + ".context_length", 256)
      .U32(arch + ".embedding_length", h)
      .U32(arch + ".feed_forward_length", ffn)
      .U32(arch + ".attention.head_count", 4)
      .U32(arch + ".attention.head_count_kv", 2)
      .F32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f)
      .F32(arch + ".rope.freq_base", 10000.0f)
      .U32(arch + ".rope.dimension_count", 8);
  if (arch == "llama" && !rope_freqs) {
    b.Str(arch + ".rope.scaling.type", "linear").F32(arch + ".rope.scaling.factor", 2.0f);
  }
  Gpt2Tokenizer(&b, arch == "llama" ? "smollm" : "qwen2");
  b.Tensor("token_embd.weight", {h, vocab}, GgmlType::kF16)
      .Tensor("output_norm.weight", {h}, GgmlType::kF32)
      .Tensor("blk.0.attn_norm.weight", {h}, GgmlType::kF32)
      .Tensor("blk.0.ffn_norm.weight", {h}, GgmlType::kF32)
      .Tensor("blk.0.attn_q.weight", {h, h}, GgmlType::kQ8_0)
      .Tensor("blk.0.attn_k.weight", {h, kv}, GgmlType::kQ4_0)
      .Tensor("blk.0.attn_v.weight", {h, kv}, GgmlType::kQ4_1)
      .Tensor("blk.0.attn_output.weight", {h, h}, GgmlType::kQ5_0)
      .Tensor("blk.0.ffn_gate.weight", {h, ffn}, GgmlType::kQ5_1)
      .Tensor("blk.0.ffn_up.weight", {h, ffn}, GgmlType::kBF16)
      .Tensor("blk.0.ffn_down.weight", {ffn, h}, GgmlType::kQ8_0);
  if (arch == "qwen2") {
    b.Tensor("blk.0.attn_q.bias", {h}, GgmlType::kF32)
        .Tensor("blk.0.attn_k.bias", {kv}, GgmlType::kF32)
        .Tensor("blk.0.attn_v.bias", {kv}, GgmlType::kF32)
        .Tensor("output.weight", {h, vocab}, GgmlType::kQ8_0);
  }
  if (arch == "qwen3") {
    b.Tensor("blk.0.attn_q_norm.weight", {8}, GgmlType::kF32)
        .Tensor("blk.0.attn_k_norm.weight", {8}, GgmlType::kF32);
  }
  if (rope_freqs) b.Tensor("rope_freqs.weight", {4}, GgmlType::kF32);
  return b.Finish();
}

void CheckGguf(const std::string& bytes, bool model, bool tokenizer) {
  MemoryFileSystem fs;
  fs.SetFile("/m/x.gguf", bytes);
  if (model) Check(model::LoadGgufModel(&fs, "/m/x.gguf").status(), "gguf model seed");
  auto f = io::GgufFile::Open(&fs, "/m/x.gguf");
  Check(f.status(), "gguf seed");
  if (tokenizer) Check(io::BuildHfTokenizerFiles(*f).status(), "gguf tokenizer seed");
}

// Tensors of a Hugging Face Llama (hidden 8, 2 heads of 4, 1 KV head, FFN 16, vocab 16, one
// layer, tied embeddings) in F16.
std::vector<io::SafetensorsEntry> TinyLlamaTensors() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"model.embed_tokens.weight", {16, 8}},
      {"model.norm.weight", {8}},
      {"model.layers.0.input_layernorm.weight", {8}},
      {"model.layers.0.post_attention_layernorm.weight", {8}},
      {"model.layers.0.self_attn.q_proj.weight", {8, 8}},
      {"model.layers.0.self_attn.k_proj.weight", {4, 8}},
      {"model.layers.0.self_attn.v_proj.weight", {4, 8}},
      {"model.layers.0.self_attn.o_proj.weight", {8, 8}},
      {"model.layers.0.mlp.gate_proj.weight", {16, 8}},
      {"model.layers.0.mlp.up_proj.weight", {16, 8}},
      {"model.layers.0.mlp.down_proj.weight", {8, 16}},
  };
  std::vector<io::SafetensorsEntry> out;
  for (const auto& [name, shape] : shapes) {
    io::SafetensorsEntry e;
    e.info = {name, io::TensorDType::kF16, shape};
    for (int64_t i = 0; i < e.info.num_elements(); ++i) {
      uint16_t h = FloatToHalf(0.05f * static_cast<float>(i % 9) - 0.2f);
      e.data.push_back(static_cast<uint8_t>(h));
      e.data.push_back(static_cast<uint8_t>(h >> 8));
    }
    out.push_back(std::move(e));
  }
  return out;
}

constexpr const char* kTinyLlamaConfig = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8,
  "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
  "intermediate_size": 16, "vocab_size": 16, "max_position_embeddings": 64,
  "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": true,
  "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
  "bos_token_id": 1, "eos_token_id": [2, 3], "torch_dtype": "bfloat16"
}
)";

}  // namespace

void GgufSeeds(const Paths& p) {
  for (const char* fixture : {"all_types.gguf", "rope_freqs_bad_shape.gguf"}) {
    WriteSeed(p, "gguf", fixture, ReadFixture(p, std::string("gguf/") + fixture));
  }
  for (const auto& [arch, freqs] : {std::pair<std::string, bool>{"llama", false},
                                    {"llama", true},
                                    {"qwen2", false},
                                    {"qwen3", false}}) {
    const std::string bytes = ModelGguf(arch, freqs);
    CheckGguf(bytes, /*model=*/true, /*tokenizer=*/true);
    WriteSeed(p, "gguf", arch + (freqs ? "_rope_freqs" : "") + ".gguf", bytes);
  }
  GgufBuilder spm;
  spm.Str("general.architecture", "llama");
  SpmTokenizer(&spm);
  CheckGguf(spm.Finish(), /*model=*/false, /*tokenizer=*/true);
  WriteSeed(p, "gguf", "spm_tokenizer.gguf", spm.Finish());
}

void SafetensorsSeeds(const Paths& p) {
  // Every dtype, a scalar, an empty tensor and string metadata.
  std::vector<io::SafetensorsEntry> all;
  const std::pair<io::TensorDType, std::vector<int64_t>> kinds[] = {
      {io::TensorDType::kF32, {2, 3}},  {io::TensorDType::kF16, {4}},
      {io::TensorDType::kBF16, {2, 2}}, {io::TensorDType::kI8, {5}},
      {io::TensorDType::kU8, {3, 1}},   {io::TensorDType::kI32, {2}},
      {io::TensorDType::kI64, {}},      {io::TensorDType::kF64, {0, 4}},
      {io::TensorDType::kBool, {3}}};
  for (const auto& [dtype, shape] : kinds) {
    io::SafetensorsEntry e;
    e.info = {"t_" + std::string(io::TensorDTypeName(dtype)), dtype, shape};
    const size_t n = static_cast<size_t>(e.info.num_elements()) * io::TensorDTypeSize(dtype);
    for (size_t i = 0; i < n; ++i) e.data.push_back(static_cast<uint8_t>(i * 37 % 61));
    all.push_back(std::move(e));
  }
  WriteSeed(p, "safetensors", "all_dtypes", io::EncodeSafetensors(all, {{"format", "pt"}}));
  WriteSeed(p, "safetensors", "tiny_llama", io::EncodeSafetensors(TinyLlamaTensors()));

  // A sharded checkpoint: index + two shards.
  std::vector<io::SafetensorsEntry> tensors = TinyLlamaTensors(), first, second;
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  for (size_t i = 0; i < tensors.size(); ++i) {
    const bool in_first = i < tensors.size() / 2;
    const std::string shard = fmt::format("model-0000{}-of-00002.safetensors", in_first ? 1 : 2);
    index["weight_map"][tensors[i].info.name] = shard;
    (in_first ? first : second).push_back(tensors[i]);
  }
  Files files = {{"model.safetensors.index.json", index.dump(2)},
                 {"model-00001-of-00002.safetensors", io::EncodeSafetensors(first)},
                 {"model-00002-of-00002.safetensors", io::EncodeSafetensors(second)}};
  WriteSeed(p, "safetensors", "sharded", PackFuzzFiles(files, "model.safetensors"));
}

void ConfigSeeds(const Paths& p) {
  for (const char* dir :
       {"checkpoints/llama_tied", "checkpoints/llama_untied", "checkpoints/mistral_sliding_sharded",
        "checkpoints/qwen2_bias_sharded", "checkpoints/qwen3_qk_norm", "checkpoints/qwq_tiny",
        "parity/llama3_tied", "parity/llama_linear_rope"}) {
    Files files = {{"config.json", ReadFixture(p, std::string(dir) + "/config.json")}};
    if (RealFileSystem()->Exists(p.fixtures + "/" + dir + "/generation_config.json")) {
      files.emplace_back("generation_config.json",
                         ReadFixture(p, std::string(dir) + "/generation_config.json"));
    }
    std::string name = dir;
    std::replace(name.begin(), name.end(), '/', '_');
    WriteSeed(p, "hf_config", name, PackFuzzFiles(files, "config.json"));
  }
  // A whole folder that LoadHfCheckpoint binds.
  Files folder = {{"config.json", kTinyLlamaConfig},
                  {"generation_config.json", R"({"bos_token_id": 1, "eos_token_id": 2})"},
                  {"model.safetensors", io::EncodeSafetensors(TinyLlamaTensors())}};
  {
    MemoryFileSystem fs;
    for (const auto& [name, bytes] : folder) fs.SetFile("/m/" + name, bytes);
    Check(model::LoadHfCheckpoint(&fs, "/m").status(), "hf_config tiny llama seed");
  }
  WriteSeed(p, "hf_config", "tiny_llama_folder", PackFuzzFiles(folder, "config.json"));

  // GPTQ / AWQ: the fixtures' configs with two quantized linears cut from their weights.
  for (const char* method : {"gptq", "awq"}) {
    const std::string dir = fmt::format("gptq/{}_llama", method);
    auto source = io::SafetensorsSource::OpenFile(RealFileSystem(),
                                                  p.fixtures + "/" + dir + "/model.safetensors");
    Check(source.status(), dir);
    std::vector<io::SafetensorsEntry> cut;
    for (const io::TensorInfo& info : (*source)->List()) {
      if (!info.name.starts_with("model.layers.0.self_attn.k_proj.") &&
          !info.name.starts_with("model.layers.0.self_attn.v_proj.") &&
          info.name != "model.norm.weight") {
        continue;
      }
      auto t = (*source)->Read(info.name);
      Check(t.status(), info.name);
      cut.push_back({info, std::vector<uint8_t>(t->data.begin(), t->data.end())});
    }
    Files files = {{"config.json", ReadFixture(p, dir + "/config.json")},
                   {"model.safetensors", io::EncodeSafetensors(cut)}};
    WriteSeed(p, "prequant_config", std::string(method) + "_two_linears",
              PackFuzzFiles(files, "config.json"));
  }
  // Legacy standalone files (AutoGPTQ quantize_config.json, AutoAWQ quant_config.json).
  const std::string plain = R"({"model_type": "llama", "hidden_size": 64})";
  WriteSeed(p, "prequant_config", "legacy_quantize_config",
            PackFuzzFiles({{"config.json", plain},
                           {"quantize_config.json",
                            R"({"bits": 4, "group_size": -1, "desc_act": false, "sym": true,
                                "checkpoint_format": "gptq_v2"})"}},
                          "config.json"));
  WriteSeed(p, "prequant_config", "legacy_quant_config",
            PackFuzzFiles({{"config.json", plain},
                           {"quant_config.json",
                            R"({"w_bit": 4, "q_group_size": 128, "zero_point": true,
                                "version": "GEMM", "modules_to_not_convert": ["lm_head"]})"}},
                          "config.json"));
}

}  // namespace anec::fuzz
