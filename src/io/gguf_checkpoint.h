// A GGUF file seen as a Hugging Face checkpoint: tensors under their Hugging Face names (with
// llama.cpp's rotary row permutation of Q/K undone), a synthesized config.json, and tokenizer
// files rebuilt from the metadata. After this, a GGUF model flows through the same path as a
// safetensors folder (config.json -> ModelSpec -> binding).
//
// The GGUF -> Hugging Face name tables are data (kGgufNameTable, kPhi3NameTable and
// kGemma3NameTable in the .cc), one row per tensor, picked by general.architecture.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/file_system.h"
#include "io/gguf_file.h"
#include "io/tensor_source.h"

namespace anec::io {

// A tensor's raw GGUF blocks, for carrying them into Core ML without re-quantizing
// (ane/ggml_blocks.h says which types).
struct GgufRawTensor {
  GgmlType type;
  std::vector<int64_t> shape;      // Hugging Face order [rows, cols]
  std::vector<uint8_t> bytes;      // rows in Hugging Face order (permutation undone)
};

class GgufCheckpoint : public TensorSource {
 public:
  static Result<std::unique_ptr<GgufCheckpoint>> Open(FileSystem* fs, const std::string& path);

  const GgufFile& file() const { return *file_; }
  std::string architecture() const { return arch_; }

  // config.json equivalent of the metadata (architectures, sizes, rope, eps, tied embeddings...).
  const nlohmann::json& hf_config() const { return config_; }

  // rope_freqs.weight (Llama 3.x files from llama.cpp's converter: the llama3 rope scaling as one
  // divisor per frequency, head_dim/2 values, each finite and > 0); empty when the file has none.
  // hf_config() then carries no rope_scaling: the factors replace it.
  const std::vector<double>& rope_frequency_factors() const { return rope_frequency_factors_; }

  // True when the norm weights are stored as the gain 1 + w (gemma3: llama.cpp's converter adds
  // the 1 that transformers' Gemma RMSNorm adds at run time); Read() returns them as stored.
  bool norms_hold_unit_offset() const { return norms_hold_unit_offset_; }

  // TensorSource: Hugging Face names, float32 data (dequantized).
  std::vector<TensorInfo> List() const override;
  bool Has(const std::string& name) const override;
  Result<TensorInfo> Info(const std::string& name) const override;
  Result<TensorData> Read(const std::string& name) const override;

  // Raw blocks of a 2-D tensor (Hugging Face name), rows reordered like Read().
  Result<GgufRawTensor> ReadRaw(const std::string& name) const;
  // The block type of the tensor `name` (Hugging Face name), without reading its data.
  Result<GgmlType> RawType(const std::string& name) const;

 private:
  struct Entry {
    std::string hf_name;
    const GgufTensorInfo* info;
    int64_t unpermute_heads;  // 0: no row permutation to undo
  };
  Status Build();
  Status ReadRopeFrequencyFactors(const GgufTensorInfo& t, int64_t head_dim);
  std::unique_ptr<GgufFile> file_;
  std::string arch_;
  nlohmann::json config_;
  std::vector<double> rope_frequency_factors_;
  bool norms_hold_unit_offset_ = false;
  std::map<std::string, Entry> entries_;  // by Hugging Face name
};

// Undoes llama.cpp's rotary permutation of the rows of a Q or K weight: GGUF row h*hd + 2i + j
// holds Hugging Face row h*hd + j*hd/2 + i. `row_bytes` is the size of one row.
// REQUIRES: rows % heads == 0 and (rows / heads) even.
std::vector<uint8_t> UnpermuteRotaryRows(std::span<const uint8_t> data, int64_t rows, int64_t heads,
                                         size_t row_bytes);

}  // namespace anec::io
