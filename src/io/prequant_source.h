// PrequantizedSource: a GPTQ / AWQ int4 checkpoint seen as an ordinary one.
//
// Wraps the checkpoint's TensorSource. Every quantized linear `<prefix>` (found by its
// `<prefix>.qweight`) is presented as `<prefix>.weight`, float32 [out, in], dequantized exactly
// (prequant_linear.h); its qweight / qzeros / scales / g_idx are hidden. Every other tensor
// (embeddings, norms, biases, an unquantized lm_head) passes through unchanged. So a GPTQ or AWQ
// folder flows through the same path as an fp16 one.
//
// For carrying the int4 groups into Core ML without re-quantization, ReadInt4() / ReadBlockwise()
// return the codes, scales and zeros of one weight (by its presented `.weight` name).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "io/prequant_config.h"
#include "io/prequant_linear.h"
#include "io/tensor_source.h"

namespace anec::io {

class PrequantizedSource : public TensorSource {
 public:
  // Checks every quantized linear's tensors (names, dtypes, shapes; no data is read) and that no
  // `<prefix>.weight` also exists. Errors name the tensor and the config file.
  static Result<std::unique_ptr<PrequantizedSource>> Wrap(std::unique_ptr<TensorSource> inner,
                                                          PrequantConfig config);

  const PrequantConfig& config() const { return config_; }
  const TensorSource& inner() const { return *inner_; }

  // Presented `.weight` names of the quantized linears, sorted.
  std::vector<std::string> QuantizedWeights() const;
  bool IsQuantized(const std::string& weight_name) const {
    return prefixes_.count(weight_name) > 0;
  }

  // TensorSource.
  std::vector<TensorInfo> List() const override;
  bool Has(const std::string& name) const override;
  Result<TensorInfo> Info(const std::string& name) const override;
  Result<TensorData> Read(const std::string& name) const override;

  // The unpacked int4 linear behind `weight_name` ("<prefix>.weight"). NotFound if that weight
  // is not a quantized one.
  Result<Int4Linear> ReadInt4(const std::string& weight_name) const;
  // Its constexpr_blockwise_shift_scale form (see ToBlockwise for when this is Unsupported).
  Result<Int4Blockwise> ReadBlockwise(const std::string& weight_name) const;

 private:
  PrequantizedSource(std::unique_ptr<TensorSource> inner, PrequantConfig config)
      : inner_(std::move(inner)), config_(std::move(config)) {}
  bool IsHidden(const std::string& name) const;

  std::unique_ptr<TensorSource> inner_;
  PrequantConfig config_;
  std::map<std::string, std::string> prefixes_;  // presented weight name -> prefix
  std::map<std::string, TensorInfo> infos_;      // presented weight name -> F32 [out, in]
};

// Opens the checkpoint in `dir` (OpenCheckpoint) and, when it is pre-quantized
// (ReadPrequantConfig), wraps it in a PrequantizedSource; otherwise returns it unchanged.
Result<std::unique_ptr<TensorSource>> OpenCheckpointDequantized(FileSystem* fs,
                                                                const std::string& dir);

}  // namespace anec::io
