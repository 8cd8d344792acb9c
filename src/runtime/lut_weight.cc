#include "runtime/lut_weight.h"

#include <bit>
#include <cstring>

#include "runtime/half.h"
#include "runtime/row_kernels.h"

namespace anec::runtime {
namespace {

// Reads value i of a packed LSB-first stream of `bits`-bit values (bits <= 8).
inline uint32_t ReadPacked(const uint8_t* p, size_t n_bytes, int64_t i, int bits) {
  uint64_t bit = static_cast<uint64_t>(i) * static_cast<uint64_t>(bits);
  size_t byte = bit >> 3;
  uint32_t word = p[byte];
  if (byte + 1 < n_bytes) word |= static_cast<uint32_t>(p[byte + 1]) << 8;
  return (word >> (bit & 7)) & ((1u << bits) - 1);
}

// The run length R when `col_table` is constant on every [kR, (k+1)R) and R is a multiple of 16
// (so every block starts on a byte and the SIMD decoders take whole blocks), else 0.
int64_t ColumnBlock(const std::vector<int32_t>& col_table, int bits) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 6) return 0;
  const int64_t n = static_cast<int64_t>(col_table.size());
  int64_t r = 1;
  while (r < n && col_table[static_cast<size_t>(r)] == col_table[0]) ++r;
  if (r % 16 != 0 || n % r != 0) return 0;
  for (int64_t c = 0; c < n; ++c) {
    if (col_table[static_cast<size_t>(c)] != col_table[static_cast<size_t>(c - c % r)]) return 0;
  }
  return r;
}

}  // namespace

Result<std::shared_ptr<LutWeight>> LutWeight::Create(std::span<const uint8_t> packed,
                                                     std::shared_ptr<const void> keep_alive,
                                                     int bits, Shape indices_shape, Tensor lut,
                                                     std::optional<int64_t> vector_axis) {
  if (bits != 1 && bits != 2 && bits != 3 && bits != 4 && bits != 6 && bits != 8) {
    return InvalidArgument("constexpr_lut_to_dense: indices must be uint1/2/3/4/6/8, got {} bits",
                           bits);
  }
  if (lut.dtype() != DType::kFloat16 && lut.dtype() != DType::kFloat32 &&
      lut.dtype() != DType::kInt8 && lut.dtype() != DType::kUInt8) {
    return InvalidArgument("constexpr_lut_to_dense: lut must be fp16, fp32, int8 or uint8, got {}",
                           DTypeName(lut.dtype()));
  }
  int64_t rank = static_cast<int64_t>(indices_shape.size());
  if (lut.rank() != rank + 2) {
    return InvalidArgument("constexpr_lut_to_dense: lut {} must have 2 more dims than indices {}",
                           lut.TypeString(), ShapeString(indices_shape));
  }
  auto w = std::shared_ptr<LutWeight>(new LutWeight());
  w->palette_ = lut.dim(rank);
  w->vector_size_ = lut.dim(rank + 1);
  if (w->palette_ != (int64_t{1} << bits)) {
    return InvalidArgument(
        "constexpr_lut_to_dense: lut has {} entries per table, expected 2^{} = {}", w->palette_,
        bits, int64_t{1} << bits);
  }
  for (int64_t k = 0; k < rank; ++k) {
    int64_t g = lut.dim(k), d = indices_shape[static_cast<size_t>(k)];
    if (g <= 0 || d % g != 0) {
      return InvalidArgument(
          "constexpr_lut_to_dense: lut dim {} ({}) does not divide indices dim {} ({})", k, g, k,
          d);
    }
  }
  int64_t n = NumElements(indices_shape);
  uint64_t need = (static_cast<uint64_t>(n) * static_cast<uint64_t>(bits) + 7) / 8;
  if (packed.size() < need) {
    return InvalidArgument(
        "constexpr_lut_to_dense: indices hold {} bytes, {} needed for {} x {} bits", packed.size(),
        need, n, bits);
  }
  w->out_shape_ = indices_shape;
  if (w->vector_size_ > 1) {
    if (!vector_axis.has_value()) {
      return InvalidArgument("constexpr_lut_to_dense: VECTOR_SIZE {} > 1 needs vector_axis",
                             w->vector_size_);
    }
    ANEC_ASSIGN_OR_RETURN(w->vector_axis_, NormalizeAxis(*vector_axis, rank));
    w->out_shape_[static_cast<size_t>(w->vector_axis_)] *= w->vector_size_;
  }
  w->packed_ = packed.first(need);
  w->keep_alive_ = std::move(keep_alive);
  w->bits_ = bits;
  w->indices_shape_ = std::move(indices_shape);
  w->lut_ = std::move(lut);

  // Tables are laid out [g0, g1, ..., palette, vector]; table number of indices coords c is
  // sum_k (c_k / (d_k / g_k)) * gstride_k.
  w->gstride_.assign(static_cast<size_t>(rank), 1);
  for (int64_t k = rank - 2; k >= 0; --k) {
    w->gstride_[static_cast<size_t>(k)] =
        w->gstride_[static_cast<size_t>(k + 1)] * w->lut_.dim(k + 1);
  }
  bool float_table = IsFloat(w->lut_.dtype());
  if (w->vector_size_ == 1 && float_table && rank >= 1) {
    w->row_decodable_ = true;
    w->table_f32_ = w->lut_.ToFloats();
    const Shape& d = w->indices_shape_;
    int64_t rows = d[0];
    w->cols_ = rows == 0 ? 0 : n / rows;
    const std::vector<int64_t>& gstride = w->gstride_;
    w->row_table_.resize(static_cast<size_t>(rows));
    int64_t block0 = d[0] / w->lut_.dim(0);
    for (int64_t r = 0; r < rows; ++r) {
      w->row_table_[static_cast<size_t>(r)] = (r / block0) * gstride[0] * w->palette_;
    }
    bool varies = false;
    for (int64_t k = 1; k < rank; ++k) varies |= w->lut_.dim(k) != 1;
    if (varies) {
      w->col_table_.resize(static_cast<size_t>(w->cols_));
      std::vector<int64_t> coord(static_cast<size_t>(rank), 0);
      for (int64_t c = 0; c < w->cols_; ++c) {
        int64_t t = 0;
        for (int64_t k = 1; k < rank; ++k) {
          int64_t block = d[static_cast<size_t>(k)] / w->lut_.dim(k);
          t += (coord[static_cast<size_t>(k)] / block) * gstride[static_cast<size_t>(k)];
        }
        w->col_table_[static_cast<size_t>(c)] = static_cast<int32_t>(t * w->palette_);
        for (int64_t k = rank - 1; k >= 1; --k) {
          if (++coord[static_cast<size_t>(k)] < d[static_cast<size_t>(k)]) break;
          coord[static_cast<size_t>(k)] = 0;
        }
      }
      w->col_block_ = ColumnBlock(w->col_table_, bits);
    }
  }
  w->fast_dot_ = w->row_decodable_ && (bits == 4 || bits == 6) && (w->cols_ * bits) % 8 == 0 &&
                 w->col_table_.empty();
  if (w->row_decodable_ && w->col_block_ > 0 && bits <= 4) {
    // ColumnBlock: 2-4 bits, blocks of a multiple of 16 columns tiling the row, so every row
    // and block starts on a byte.
    for (int64_t c = 0; c < w->cols_; c += w->col_block_) {
      w->block_table_.push_back(w->col_table_[static_cast<size_t>(c)]);
    }
    w->fast_dot_ = true;
  }
  if (w->fast_dot_ && bits == 6 && w->lut_.dtype() == DType::kFloat16 && HasLutByteLookup()) {
    // 6-bit fp16 tables (what the converter writes) go to the byte-lookup kernel (4 bits
    // stay on DotLut4's 16-entry permute: both ran at 20-23 G weights/s per core here).
    const int64_t tables = w->lut_.size() / w->palette_;
    w->split_tables_.resize(static_cast<size_t>(tables) * 128);
    const Half* h = w->lut_.data<Half>();
    for (int64_t t = 0; t < tables; ++t) {
      SplitHalfTable(h + t * w->palette_, static_cast<int>(w->palette_),
                     w->split_tables_.data() + t * 128);
    }
  }
  return w;
}

float LutWeight::DotRow(int64_t row, const float* x) const {
  const float* table = table_f32_.data() + row_table_[static_cast<size_t>(row)];
  const uint8_t* q = packed_.data() + row * cols_ * bits_ / 8;
  if (!block_table_.empty()) {
    if (lut_.dtype() == DType::kFloat16) {
      const Half* half = lut_.data<Half>() + row_table_[static_cast<size_t>(row)];
      return DotLutBlockedHalf(x, q, half, table, block_table_.data(), col_block_, cols_, bits_);
    }
    return DotLutBlocked(x, q, table, block_table_.data(), col_block_, cols_, bits_);
  }
  if (!split_tables_.empty()) {
    const uint8_t* split =
        split_tables_.data() + row_table_[static_cast<size_t>(row)] / palette_ * 128;
    return DotLutSplit(x, q, split, table, cols_, bits_);
  }
  auto dot = bits_ == 4 ? DotLut4 : DotLut6;
  return dot(x, q, table, cols_);
}

inline __attribute__((always_inline)) void LutWeight::PrefetchRow(int64_t row) const {
  const int64_t bytes = packed_row_bytes();
  if (row < 0 || static_cast<size_t>((row + 1) * bytes) > packed_.size()) return;
  const uint8_t* q = packed_.data() + row * bytes;
  for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(q + b);
  if (!block_table_.empty()) {
    // Tables that change along the row (carried GGUF blocks) are a second stream: the row's
    // tables, in the form DotRow reads them.
    const int64_t first = row_table_[static_cast<size_t>(row)];
    const int64_t entries = block_table_.back() + palette_;
    const bool half = lut_.dtype() == DType::kFloat16;
    const char* t = half ? reinterpret_cast<const char*>(lut_.data<Half>() + first)
                         : reinterpret_cast<const char*>(table_f32_.data() + first);
    const int64_t table_bytes = entries * (half ? 2 : 4);
    for (int64_t b = 0; b < table_bytes; b += 64) __builtin_prefetch(t + b);
  }
}

void LutWeight::DotRows(int64_t begin, int64_t end, const float* x, int64_t ahead,
                        const float* bias, float* out) const {
  if (!split_tables_.empty() && block_table_.empty() && palette_ > 0 &&
      (palette_ & (palette_ - 1)) == 0) {
    LutRows w;
    w.q = packed_.data();
    w.row_bytes = packed_row_bytes();
    w.split = split_tables_.data();
    w.tables = table_f32_.data();
    w.row_table = row_table_.data();
    w.palette_shift = std::countr_zero(static_cast<uint64_t>(palette_));
    w.cols = cols_;
    w.bits = bits_;
    DotLutSplitRows(w, x, begin, end, ahead, bias, out);
    return;
  }
  for (int64_t j = begin; j < end; ++j) {
    if (j + ahead < end) PrefetchRow(j + ahead);
    out[j] = DotRow(j, x) + (bias != nullptr ? bias[j] : 0.0f);
  }
}

uint32_t LutWeight::IndexAt(int64_t i) const {
  return ReadPacked(packed_.data(), packed_.size(), i, bits_);
}

void LutWeight::DecodeRow(int64_t row, float* out) const {
  const float* table = table_f32_.data() + row_table_[static_cast<size_t>(row)];
  const uint8_t* p = packed_.data();
  const size_t nb = packed_.size();
  int64_t first = row * cols_;
  if (!col_table_.empty() && col_block_ > 0) {
    // Tables change every col_block_ columns (e.g. carried GGUF blocks): decode block by block.
    for (int64_t c = 0; c < cols_; c += col_block_) {
      const float* t = table + col_table_[static_cast<size_t>(c)];
      uint64_t bit = static_cast<uint64_t>(first + c) * static_cast<uint64_t>(bits_);
      // col_block_ is a multiple of 16 columns: every block starts on a byte.
      DecodeAligned(p + bit / 8, t, col_block_, out + c);
    }
    return;
  }
  if (!col_table_.empty()) {
    for (int64_t c = 0; c < cols_; ++c) {
      out[c] = table[col_table_[static_cast<size_t>(c)] + ReadPacked(p, nb, first + c, bits_)];
    }
    return;
  }
  uint64_t first_bit = static_cast<uint64_t>(first) * static_cast<uint64_t>(bits_);
  if (bits_ == 8) {
    const uint8_t* q = p + first;
    for (int64_t c = 0; c < cols_; ++c) out[c] = table[q[c]];
  } else if (bits_ != 1 && first_bit % 8 == 0) {
    DecodeAligned(p + first_bit / 8, table, cols_, out);
  } else {
    for (int64_t c = 0; c < cols_; ++c) out[c] = table[ReadPacked(p, nb, first + c, bits_)];
  }
}

void LutWeight::DecodeAligned(const uint8_t* q, const float* table, int64_t n, float* out) const {
  switch (bits_) {
    case 2:
      return DecodeLut2Row(q, table, n, out);
    case 3:
      return DecodeLut3Row(q, table, n, out);
    case 4:
      return DecodeLut4Row(q, table, n, out);
    default:  // 6; 8 and 1 never get here
      return DecodeLut6Row(q, table, n, out);
  }
}

Tensor LutWeight::Expand() const {
  Tensor out = Tensor::Zeros(dtype(), out_shape_);
  const size_t es = ElementSize(dtype());
  const int64_t rank = static_cast<int64_t>(indices_shape_.size());
  const int64_t n = NumElements(indices_shape_);
  const std::vector<int64_t>& gstride = gstride_;
  std::vector<int64_t> ostride = Strides(out_shape_);
  std::vector<int64_t> coord(static_cast<size_t>(rank), 0);
  const uint8_t* table = lut_.bytes();
  uint8_t* dst = out.mutable_bytes();
  for (int64_t i = 0; i < n; ++i) {
    int64_t t = 0, o = 0;
    for (int64_t k = 0; k < rank; ++k) {
      size_t ku = static_cast<size_t>(k);
      t += (coord[ku] / (indices_shape_[ku] / lut_.dim(k))) * gstride[ku];
      o += (k == vector_axis_ ? coord[ku] * vector_size_ : coord[ku]) * ostride[ku];
    }
    int64_t entry = (t * palette_ + IndexAt(i)) * vector_size_;
    int64_t vstride = rank == 0 ? 0 : ostride[static_cast<size_t>(vector_axis_)];
    for (int64_t v = 0; v < vector_size_; ++v) {
      std::memcpy(dst + static_cast<size_t>(o + v * vstride) * es,
                  table + static_cast<size_t>(entry + v) * es, es);
    }
    for (int64_t k = rank - 1; k >= 0; --k) {
      if (++coord[static_cast<size_t>(k)] < indices_shape_[static_cast<size_t>(k)]) break;
      coord[static_cast<size_t>(k)] = 0;
    }
  }
  return out;
}

const Tensor& LutWeight::Dense() const {
  std::call_once(dense_once_, [this] { dense_ = Expand(); });
  return dense_;
}

}  // namespace anec::runtime
