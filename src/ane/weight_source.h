// WeightSource: where the ANE builders read checkpoint tensors, by role and layer.
//
// The pipeline adapts a model::BoundCheckpoint (CheckpointWeights); tests use
// MemoryWeightSource filled with seeded random values, so the layer builders are testable
// without any file format. Tensors are 2-D [rows, cols] (PyTorch order) or 1-D.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/gguf_checkpoint.h"
#include "io/prequant_linear.h"
#include "io/tensor_source.h"
#include "model/model_spec.h"

namespace anec::io {
class PrequantizedSource;
}
namespace anec::model {
class BoundCheckpoint;
}

namespace anec::ane {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The tensor for `role` (at `layer` for per-layer roles). With tied embeddings kLmHead must
  // resolve to the embedding. The returned data stays valid while the source lives.
  virtual Result<io::TensorData> Read(model::TensorRole role, int64_t layer) const = 0;
  // The GGUF blocks of a 2-D weight that should be carried into Core ML as they are
  // (--preserve-quant: the types ggml_blocks.h carries), or nullopt to use Read(). Default: never.
  virtual Result<std::optional<io::GgufRawTensor>> ReadRaw(model::TensorRole /*role*/,
                                                           int64_t /*layer*/) const {
    return std::optional<io::GgufRawTensor>();
  }
  // The GPTQ / AWQ int4 groups of a 2-D weight that should be carried into Core ML as they are
  // (constexpr_blockwise_shift_scale, int4_blocks.h), or nullopt to use Read(). Default: never.
  virtual Result<std::optional<io::Int4Blockwise>> ReadInt4(model::TensorRole /*role*/,
                                                            int64_t /*layer*/) const {
    return std::optional<io::Int4Blockwise>();
  }
};

// Adapter over a bound checkpoint. REQUIRES: `ckpt` outlives this.
class CheckpointWeights : public WeightSource {
 public:
  explicit CheckpointWeights(const model::BoundCheckpoint* ckpt) : ckpt_(ckpt) {}
  Result<io::TensorData> Read(model::TensorRole role, int64_t layer) const override;

 private:
  const model::BoundCheckpoint* ckpt_;
};

// --preserve-quant over a GGUF checkpoint: Read() as CheckpointWeights; ReadRaw() returns the
// blocks of every matrix of a carried type (CarriedBitsPerWeight > 0) except the embedding (a gather, kept on the fp16/LUT
// path). REQUIRES: `ckpt` and `gguf` (the source `ckpt` was bound to) outlive this.
class GgufPreservingWeights : public WeightSource {
 public:
  GgufPreservingWeights(const model::BoundCheckpoint* ckpt, const io::GgufCheckpoint* gguf)
      : ckpt_(ckpt), gguf_(gguf) {}
  Result<io::TensorData> Read(model::TensorRole role, int64_t layer) const override;
  Result<std::optional<io::GgufRawTensor>> ReadRaw(model::TensorRole role,
                                                   int64_t layer) const override;
  // Stored bits per weight of the matrix ReadRaw() would hand over (CarriedBitsPerWeight of its
  // type), or 0 when it goes through Read(). Reads no tensor data; for size planning.
  Result<double> CarriedBits(model::TensorRole role, int64_t layer) const;
  // CarriedBits of every matrix the builders emit: q, k, v, o, gate, up, down of layers
  // [0, num_layers) and the LM head as (kLmHead, 0). For LutPlan::matrix_bits.
  Result<std::map<std::pair<model::TensorRole, int64_t>, double>> MatrixBits(
      int64_t num_layers) const;
  // The GGUF block type of `role` at `layer` (nullopt for an absent role or a row slice).
  Result<std::optional<io::GgmlType>> RawType(model::TensorRole role, int64_t layer) const;

 private:
  const model::BoundCheckpoint* ckpt_;
  const io::GgufCheckpoint* gguf_;
};

// A GPTQ / AWQ int4 checkpoint carried as int4 (the default for such input): Read() as
// CheckpointWeights (dequantized, for the unquantized weights); ReadInt4() returns the groups of
// every quantized linear except the embedding. A linear whose groups cannot be blockwise
// (io::ToBlockwise: unequal groups, scales not exact in fp16) is an error naming the tensor,
// never a silent re-quantization. REQUIRES: `ckpt` and `prequant` (the source `ckpt` was bound
// to) outlive this.
class PrequantPreservingWeights : public WeightSource {
 public:
  PrequantPreservingWeights(const model::BoundCheckpoint* ckpt,
                            const io::PrequantizedSource* prequant)
      : ckpt_(ckpt), prequant_(prequant) {}
  Result<io::TensorData> Read(model::TensorRole role, int64_t layer) const override;
  Result<std::optional<io::Int4Blockwise>> ReadInt4(model::TensorRole role,
                                                    int64_t layer) const override;

 private:
  const model::BoundCheckpoint* ckpt_;
  const io::PrequantizedSource* prequant_;
};

// Tensors held in memory as fp32 (tests and synthetic models).
class MemoryWeightSource : public WeightSource {
 public:
  void Set(model::TensorRole role, int64_t layer, std::vector<int64_t> shape,
           std::vector<float> values);
  Result<io::TensorData> Read(model::TensorRole role, int64_t layer) const override;
  // The stored floats (for reference computations in tests).
  const std::vector<float>* Values(model::TensorRole role, int64_t layer) const;

 private:
  struct Entry {
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  std::map<std::pair<int, int64_t>, Entry> tensors_;
};

// Every tensor `spec` needs, filled with values from a fixed-seed generator: matrices uniform in
// +-scale, norm weights near 1, biases small. Tied models get no kLmHead entry of their own:
// reading kLmHead returns the embedding.
MemoryWeightSource RandomWeights(const model::ModelSpec& spec, uint64_t seed, float scale = 0.05f);

}  // namespace anec::ane
