// TensorSource: named tensors of a checkpoint, whatever the file format (safetensors, GGUF).
//
// Converters read weights only through this interface, one tensor at a time, so a checkpoint is
// never loaded whole. Data returned by Read() stays valid while the source lives (it usually
// points into a memory-mapped file).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace anec::io {

// Element types a checkpoint tensor can be stored in. Block-quantized GGUF types are exposed
// through GgufReader; a TensorSource presents them dequantized (kF32) unless asked otherwise.
enum class TensorDType { kF32, kF16, kBF16, kI8, kU8, kI32, kI64, kF64, kBool };

std::string_view TensorDTypeName(TensorDType t);
size_t TensorDTypeSize(TensorDType t);

struct TensorInfo {
  std::string name;
  TensorDType dtype = TensorDType::kF32;
  std::vector<int64_t> shape;  // row-major, outermost first (as in PyTorch)
  int64_t num_elements() const;
};

// A tensor's bytes. `data` either points into storage owned by the source (mmap) or into
// `owned` (for converted data, e.g. dequantized GGUF blocks).
struct TensorData {
  TensorInfo info;
  std::span<const uint8_t> data;
  std::vector<uint8_t> owned;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  // All tensors, sorted by name.
  virtual std::vector<TensorInfo> List() const = 0;
  virtual bool Has(const std::string& name) const = 0;
  virtual Result<TensorInfo> Info(const std::string& name) const = 0;
  // Error (NotFound) names the tensor and the file(s) searched.
  virtual Result<TensorData> Read(const std::string& name) const = 0;
};

// Converts a tensor of any float type (F32/F16/BF16) to float32 values.
// Integer types are rejected with an error naming the tensor.
Result<std::vector<float>> ToFloat32(const TensorData& t);

}  // namespace anec::io
