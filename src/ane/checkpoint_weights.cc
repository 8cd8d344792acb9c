// CheckpointWeights (declared in weight_source.h) lives in its own file so that code using only
// MemoryWeightSource does not need the checkpoint binding library.
#include <fmt/format.h>

#include "ane/ggml_blocks.h"
#include "ane/weight_source.h"
#include "io/prequant_source.h"
#include "model/checkpoint_binding.h"

namespace anec::ane {

Result<io::TensorData> CheckpointWeights::Read(model::TensorRole role, int64_t layer) const {
  return ckpt_->Read(role, layer);
}

}  // namespace anec::ane

namespace anec::ane {

Result<io::TensorData> GgufPreservingWeights::Read(model::TensorRole role, int64_t layer) const {
  return ckpt_->Read(role, layer);
}

Result<std::optional<io::GgmlType>> GgufPreservingWeights::RawType(model::TensorRole role,
                                                                   int64_t layer) const {
  std::optional<io::GgmlType> none;
  // A slice of a fused tensor is carried through Read() (dequantized) instead.
  if (role == model::TensorRole::kEmbedding || !ckpt_->Has(role) || ckpt_->IsSlice(role, layer)) {
    return none;
  }
  const std::string& name = ckpt_->Name(role, layer);
  if (name.empty() || ckpt_->Info(role, layer).shape.size() != 2) return none;
  ANEC_ASSIGN_OR_RETURN(io::GgmlType type, gguf_->RawType(name));
  return std::optional<io::GgmlType>(type);
}

Result<double> GgufPreservingWeights::CarriedBits(model::TensorRole role, int64_t layer) const {
  ANEC_ASSIGN_OR_RETURN(std::optional<io::GgmlType> type, RawType(role, layer));
  return type ? CarriedBitsPerWeight(*type) : 0.0;
}

Result<std::map<std::pair<model::TensorRole, int64_t>, double>> GgufPreservingWeights::MatrixBits(
    int64_t num_layers) const {
  using model::TensorRole;
  std::map<std::pair<TensorRole, int64_t>, double> bits;
  for (int64_t l = 0; l < num_layers; ++l) {
    for (TensorRole r : {TensorRole::kQProj, TensorRole::kKProj, TensorRole::kVProj,
                         TensorRole::kOProj, TensorRole::kGateProj, TensorRole::kUpProj,
                         TensorRole::kDownProj}) {
      ANEC_ASSIGN_OR_RETURN(bits[std::make_pair(r, l)], CarriedBits(r, l));
    }
  }
  ANEC_ASSIGN_OR_RETURN(bits[std::make_pair(TensorRole::kLmHead, int64_t{0})],
                        CarriedBits(TensorRole::kLmHead, 0));
  return bits;
}

Result<std::optional<io::GgufRawTensor>> GgufPreservingWeights::ReadRaw(model::TensorRole role,
                                                                        int64_t layer) const {
  std::optional<io::GgufRawTensor> none;
  ANEC_ASSIGN_OR_RETURN(std::optional<io::GgmlType> type, RawType(role, layer));
  // A type that is not carried is dequantized (NotCarriedReason).
  if (!type || CarriedBitsPerWeight(*type) == 0) return none;
  ANEC_ASSIGN_OR_RETURN(io::GgufRawTensor raw, gguf_->ReadRaw(ckpt_->Name(role, layer)));
  return std::optional<io::GgufRawTensor>(std::move(raw));
}

}  // namespace anec::ane

namespace anec::ane {

Result<io::TensorData> PrequantPreservingWeights::Read(model::TensorRole role,
                                                       int64_t layer) const {
  return ckpt_->Read(role, layer);
}

Result<std::optional<io::Int4Blockwise>> PrequantPreservingWeights::ReadInt4(model::TensorRole role,
                                                                             int64_t layer) const {
  std::optional<io::Int4Blockwise> none;
  // The embedding is a gather, not a matmul: it stays on the fp16/LUT path (and is never
  // quantized by GPTQ/AWQ anyway).
  if (role == model::TensorRole::kEmbedding || !ckpt_->Has(role) || ckpt_->IsSlice(role, layer)) {
    return none;
  }
  const std::string& name = ckpt_->Name(role, layer);
  if (name.empty() || !prequant_->IsQuantized(name)) return none;
  auto blockwise = prequant_->ReadBlockwise(name);
  if (!blockwise.ok()) {
    const Status& s = blockwise.status();
    return Status(s.code(), fmt::format("{} (pre-quantized checkpoint): {}; convert with "
                                        "--no-preserve-quant to use the dequantized weights",
                                        prequant_->config().path, s.message()));
  }
  return std::optional<io::Int4Blockwise>(std::move(blockwise).value());
}

}  // namespace anec::ane
