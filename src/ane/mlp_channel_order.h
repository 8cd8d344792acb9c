// MLP channel order: a LUT conversion may store a gated MLP's intermediate channels in any order,
// as long as gate_proj's and up_proj's rows and down_proj's columns move together:
//   down(act(gate x) * (up x)) is the same function for every permutation P of the channels
//   applied as P gate, P up, down P^T.
// LUT tables are shared by `group` consecutive rows (--lut-group), so an order that puts rows of
// similar range next to each other lets each 2^b-entry table fit its rows better: on SmolLM2 the
// 4-bit k-means error of gate + up fell by 5-17% per layer (docs/QUANTIZATION.md).
//
// The order (MlpChannelOrder): channels sorted by the largest |w| of their gate row, then, in
// runs of 4 groups, by the largest |w| of their up row (a 2-D bucketing: both matrices' groups
// get rows of similar range). Ties keep channel order, so the order is a pure function of the
// weights.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "ane/weight_source.h"
#include "base/status.h"

namespace anec::ane {

// The order for one layer: order[i] is the checkpoint channel stored at position i.
// REQUIRES: gate_range.size() == up_range.size(); group >= 1.
std::vector<int32_t> MlpChannelOrder(std::span<const float> gate_range,
                                     std::span<const float> up_range, int group);

// The largest |w| of each row of a [rows, cols] float tensor (F32/F16/BF16).
Result<std::vector<float>> RowRanges(const io::TensorData& t);

// A WeightSource that reads `base` with every layer's MLP channels in MlpChannelOrder: gate and
// up rows and down columns permuted, everything else as `base` has it. The order of a layer is
// computed on first use from its gate and up rows and kept (one int per channel). Carried
// weights (ReadRaw / ReadInt4) cannot be permuted: for an MLP role they are an error, so use this
// only over a source that carries nothing (not with --preserve-quant or GPTQ/AWQ int4).
// Thread-safe. REQUIRES: `base` outlives this; group >= 1.
class MlpReorderedWeights : public WeightSource {
 public:
  MlpReorderedWeights(const WeightSource* base, int group) : base_(base), group_(group) {}
  Result<io::TensorData> Read(model::TensorRole role, int64_t layer) const override;
  Result<std::optional<io::GgufRawTensor>> ReadRaw(model::TensorRole role,
                                                   int64_t layer) const override;
  Result<std::optional<io::Int4Blockwise>> ReadInt4(model::TensorRole role,
                                                    int64_t layer) const override;

  // The order used for `layer` (computed if needed).
  Result<std::vector<int32_t>> Order(int64_t layer) const;

 private:
  const WeightSource* base_;
  int group_;
  mutable std::mutex mu_;
  mutable std::map<int64_t, std::vector<int32_t>> orders_;
};

// Permutes the entries of a per-channel vector (e.g. down_proj's column importance) into the
// stored order: out[i] = v[order[i]]. REQUIRES: v.size() == order.size().
template <typename T>
std::vector<T> InStoredOrder(std::span<const T> v, std::span<const int32_t> order) {
  std::vector<T> out(order.size());
  for (size_t i = 0; i < order.size(); ++i) out[i] = v[static_cast<size_t>(order[i])];
  return out;
}

}  // namespace anec::ane
