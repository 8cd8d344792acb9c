#include "ane/mlp_channel_order.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

#include "ane/page_release.h"
#include "quant/fp16.h"

namespace anec::ane {
namespace {

constexpr int kGroupsPerRun = 4;  // up-range runs of 4 groups: 2-D bucketing (header)

bool IsMlpRole(model::TensorRole role) {
  return role == model::TensorRole::kGateProj || role == model::TensorRole::kUpProj ||
         role == model::TensorRole::kDownProj;
}

// Rows (or, for down_proj, columns) of a 2-D tensor, as a view of its shape and element size.
struct Matrix {
  int64_t rows = 0, cols = 0;
  size_t element = 0;
};

Result<Matrix> MatrixOf(const io::TensorData& t) {
  if (t.info.shape.size() != 2) {
    return Internal("MLP channel order: {} is not a matrix", t.info.name);
  }
  Matrix m{t.info.shape[0], t.info.shape[1], io::TensorDTypeSize(t.info.dtype)};
  if (m.element == 0 || t.data.size() != static_cast<size_t>(m.rows * m.cols) * m.element) {
    return Internal("MLP channel order: {} holds {} bytes, not {}x{} elements", t.info.name,
                    t.data.size(), m.rows, m.cols);
  }
  return m;
}

// The pipeline releases the mapped checkpoint pages it has read (page_release.h), but it sees
// this source's copies, not the mapping: release what was read here, or a 1B model's MLP
// weights would stay resident (peak RSS 1.7 GB instead of ~1 GB). Owned data (dequantized GGUF)
// is freed with `t`.
void ReleaseIfMapped(const io::TensorData& t) {
  if (t.owned.empty()) ReleasePages(t.data);
}

}  // namespace

std::vector<int32_t> MlpChannelOrder(std::span<const float> gate_range,
                                     std::span<const float> up_range, int group) {
  std::vector<int32_t> order(gate_range.size());
  std::iota(order.begin(), order.end(), 0);
  auto by = [](std::span<const float> key) {
    return [key](int32_t a, int32_t b) {
      const float ka = key[static_cast<size_t>(a)], kb = key[static_cast<size_t>(b)];
      return ka != kb ? ka < kb : a < b;
    };
  };
  std::sort(order.begin(), order.end(), by(gate_range));
  const size_t run = static_cast<size_t>(std::max(group, 1)) * kGroupsPerRun;
  for (size_t begin = 0; begin < order.size(); begin += run) {
    const size_t end = std::min(order.size(), begin + run);
    std::sort(order.begin() + static_cast<std::ptrdiff_t>(begin),
              order.begin() + static_cast<std::ptrdiff_t>(end), by(up_range));
  }
  return order;
}

Result<std::vector<float>> RowRanges(const io::TensorData& t) {
  ANEC_ASSIGN_OR_RETURN(Matrix m, MatrixOf(t));
  std::vector<float> out(static_cast<size_t>(m.rows), 0.0f);
  // IEEE magnitudes order like their bit patterns without the sign bit, so the largest |w| of a
  // row is found on the raw bits and converted once (no fp32 copy of the matrix: this runs on
  // every MLP matrix of the model).
  auto rows = [&](auto word, uint64_t mask, auto to_float) {
    using Word = decltype(word);
    for (int64_t r = 0; r < m.rows; ++r) {
      const uint8_t* row = t.data.data() + static_cast<size_t>(r * m.cols) * sizeof(Word);
      Word top = 0;
      for (int64_t c = 0; c < m.cols; ++c) {
        Word w;
        std::memcpy(&w, row + static_cast<size_t>(c) * sizeof(Word), sizeof(Word));
        top = std::max<Word>(top, static_cast<Word>(w & mask));
      }
      out[static_cast<size_t>(r)] = to_float(top);
    }
  };
  switch (t.info.dtype) {
    case io::TensorDType::kF32:
      rows(uint32_t{}, 0x7fffffffu, [](uint32_t b) { return std::bit_cast<float>(b); });
      return out;
    case io::TensorDType::kBF16:
      rows(uint16_t{}, 0x7fffu,
           [](uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); });
      return out;
    case io::TensorDType::kF16:
      rows(uint16_t{}, 0x7fffu, [](uint16_t b) { return quant::HalfToFloat(b); });
      return out;
    default:
      return InvalidArgument("MLP channel order: {} is {}, not a float tensor", t.info.name,
                             io::TensorDTypeName(t.info.dtype));
  }
}

Result<std::vector<int32_t>> MlpReorderedWeights::Order(int64_t layer) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = orders_.find(layer); it != orders_.end()) return it->second;
  }
  ANEC_ASSIGN_OR_RETURN(io::TensorData gate, base_->Read(model::TensorRole::kGateProj, layer));
  ANEC_ASSIGN_OR_RETURN(std::vector<float> gate_range, RowRanges(gate));
  ANEC_ASSIGN_OR_RETURN(io::TensorData up, base_->Read(model::TensorRole::kUpProj, layer));
  ANEC_ASSIGN_OR_RETURN(std::vector<float> up_range, RowRanges(up));
  // Their pages stay resident until Read() copies them (the builders read a layer's MLP right
  // after its order is made), so they are read from disk once.
  if (gate_range.size() != up_range.size()) {
    return InvalidArgument("{} has {} rows but {} has {}: not a gated MLP", gate.info.name,
                           gate_range.size(), up.info.name, up_range.size());
  }
  std::vector<int32_t> order = MlpChannelOrder(gate_range, up_range, group_);
  std::lock_guard<std::mutex> lock(mu_);
  return orders_.emplace(layer, std::move(order)).first->second;
}

Result<io::TensorData> MlpReorderedWeights::Read(model::TensorRole role, int64_t layer) const {
  ANEC_ASSIGN_OR_RETURN(io::TensorData t, base_->Read(role, layer));
  if (!IsMlpRole(role)) return t;
  ANEC_ASSIGN_OR_RETURN(const std::vector<int32_t> order, Order(layer));
  ANEC_ASSIGN_OR_RETURN(Matrix m, MatrixOf(t));
  const bool columns = role == model::TensorRole::kDownProj;
  if (static_cast<int64_t>(order.size()) != (columns ? m.cols : m.rows)) {
    return InvalidArgument("{} is {}x{}, but its layer's MLP has {} channels", t.info.name, m.rows,
                           m.cols, order.size());
  }
  io::TensorData out;
  out.info = t.info;
  out.owned.resize(t.data.size());
  const uint8_t* src = t.data.data();
  uint8_t* dst = out.owned.data();
  const size_t row_bytes = static_cast<size_t>(m.cols) * m.element;
  for (int64_t r = 0; r < m.rows; ++r) {
    if (!columns) {
      std::memcpy(dst + static_cast<size_t>(r) * row_bytes,
                  src + static_cast<size_t>(order[static_cast<size_t>(r)]) * row_bytes, row_bytes);
      continue;
    }
    const uint8_t* in = src + static_cast<size_t>(r) * row_bytes;
    uint8_t* o = dst + static_cast<size_t>(r) * row_bytes;
    for (int64_t c = 0; c < m.cols; ++c) {
      std::memcpy(o + static_cast<size_t>(c) * m.element,
                  in + static_cast<size_t>(order[static_cast<size_t>(c)]) * m.element, m.element);
    }
  }
  out.data = out.owned;
  ReleaseIfMapped(t);
  return out;
}

// Carried blocks cannot be reordered: an MLP weight that `base` carries is an error.
template <typename T>
Result<std::optional<T>> RefuseCarriedMlp(Result<std::optional<T>> carried, model::TensorRole role,
                                          int64_t layer, const char* form) {
  if (carried.ok() && *carried && IsMlpRole(role)) {
    return Internal("MLP channel order: layer {}'s MLP is carried as {}, which cannot be reordered",
                    layer, form);
  }
  return carried;
}

Result<std::optional<io::GgufRawTensor>> MlpReorderedWeights::ReadRaw(model::TensorRole role,
                                                                      int64_t layer) const {
  return RefuseCarriedMlp(base_->ReadRaw(role, layer), role, layer, "GGUF blocks");
}

Result<std::optional<io::Int4Blockwise>> MlpReorderedWeights::ReadInt4(model::TensorRole role,
                                                                       int64_t layer) const {
  return RefuseCarriedMlp(base_->ReadInt4(role, layer), role, layer, "int4 groups");
}

}  // namespace anec::ane
