#include "ane/ggml_blocks.h"

#include <fmt/ranges.h>

#include <optional>

#include "ane/half.h"
#include "io/gguf_dequant.h"

namespace anec::ane {

namespace {

// How a carried type is laid out in Core ML.
struct CarryLayout {
  bool lut = false;     // constexpr_lut_to_dense, else constexpr_blockwise_shift_scale
  int64_t group = 32;   // columns per scale / table
  int bits = 4;         // bits per code (data or index)
  mil::DType dtype = mil::DType::kUInt4;
  int zero = 0;         // shift-scale: data = code - zero (Q8_0: the code is the int8 itself)
};

std::optional<CarryLayout> LayoutOf(io::GgmlType type) {
  using io::GgmlType;
  switch (type) {
    case GgmlType::kQ8_0: return CarryLayout{false, 32, 8, mil::DType::kInt8, 0};
    case GgmlType::kQ4_0: return CarryLayout{false, 32, 4, mil::DType::kInt4, 8};
    case GgmlType::kQ5_0: return CarryLayout{false, 32, 8, mil::DType::kInt8, 16};
    case GgmlType::kQ4_1:
    case GgmlType::kQ4_K: return CarryLayout{true, 32, 4, mil::DType::kUInt4, 0};
    case GgmlType::kQ2_K: return CarryLayout{true, 16, 2, mil::DType::kUInt2, 0};
    case GgmlType::kQ3_K: return CarryLayout{true, 16, 3, mil::DType::kUInt3, 0};
    default: return std::nullopt;
  }
}

uint16_t ReadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

Result<PreservedBlocks> EncodeGgmlBlocks(io::GgmlType type, std::span<const uint8_t> bytes,
                                         int64_t rows, int64_t cols, int64_t row_begin,
                                         int64_t row_end, const std::vector<int64_t>& shape) {
  const std::optional<CarryLayout> layout = LayoutOf(type);
  if (!layout) {
    return InvalidArgument(
        "GGUF type {} cannot be carried as is; only Q4_0, Q4_1, Q5_0, Q8_0, Q2_K, Q3_K and Q4_K "
        "can ({})",
        io::GgmlTypeName(type), NotCarriedReason(type));
  }
  const int64_t block = io::GgmlBlockSize(type), block_bytes = io::GgmlBlockBytes(type);
  const int64_t group = layout->group;
  if (rows <= 0 || cols <= 0 || cols % block != 0 || row_begin < 0 || row_end > rows ||
      row_begin >= row_end) {
    return InvalidArgument(
        "GGUF {} tensor [{}, {}]: rows [{}, {}) or a row length not a multiple "
        "of {} cannot be carried",
        io::GgmlTypeName(type), rows, cols, row_begin, row_end, block);
  }
  const int64_t row_bytes = cols / block * block_bytes;
  if (static_cast<int64_t>(bytes.size()) != rows * row_bytes) {
    return InvalidArgument("GGUF {} tensor [{}, {}]: {} bytes, expected {}", io::GgmlTypeName(type),
                           rows, cols, bytes.size(), rows * row_bytes);
  }
  const int64_t n_rows = row_end - row_begin;
  bool shape_ok = shape.size() >= 2 && shape[0] == n_rows && shape[1] == cols;
  for (size_t i = 2; shape_ok && i < shape.size(); ++i) shape_ok = shape[i] == 1;
  if (!shape_ok) {
    return InvalidArgument("GGUF {} rows [{}, {}) of [{}, {}] cannot take the shape [{}]",
                           io::GgmlTypeName(type), row_begin, row_end, rows, cols,
                           fmt::join(shape, ","));
  }
  // Per-group tensors: [n_rows, cols/group, 1, ...] (same rank as the output).
  std::vector<int64_t> group_shape(shape.size(), 1);
  group_shape[0] = n_rows;
  group_shape[1] = cols / group;
  const int64_t entries = int64_t{1} << layout->bits;
  const size_t n = static_cast<size_t>(n_rows * cols);
  const size_t n_groups = static_cast<size_t>(n_rows * (cols / group));

  std::vector<uint8_t> codes(n);
  std::vector<float> values(static_cast<size_t>(cols));
  std::vector<uint16_t> second(layout->lut ? n_groups * static_cast<size_t>(entries) : n_groups);
  std::vector<int64_t> data(layout->lut ? 0 : n);
  for (int64_t r = 0; r < n_rows; ++r) {
    std::span<const uint8_t> row = bytes.subspan(static_cast<size_t>((row_begin + r) * row_bytes),
                                                 static_cast<size_t>(row_bytes));
    std::span<uint8_t> row_codes(codes.data() + r * cols, static_cast<size_t>(cols));
    io::DequantizeGgml(type, row, cols, values);
    if (!io::GgmlCodes(type, row, cols, row_codes)) {
      return Internal("GGUF {}: no element codes", io::GgmlTypeName(type));
    }
    for (int64_t c = 0; c < cols; ++c) {
      const uint16_t want = FloatToHalf(values[static_cast<size_t>(c)]);  // the fp16 path's value
      const uint8_t code = row_codes[static_cast<size_t>(c)];
      const size_t g = static_cast<size_t>(r * (cols / group) + c / group);
      uint16_t got;
      if (layout->lut) {
        uint16_t& entry = second[g * static_cast<size_t>(entries) + code];
        // Two elements of one sub-block with one code have one value: the first sets the entry,
        // the others must agree (a wrong code reader would show here).
        bool first_use = true;
        for (int64_t k = c - c % group; k < c; ++k) first_use &= row_codes[static_cast<size_t>(k)] != code;
        if (first_use) entry = want;
        got = entry;
      } else {
        // d is the block's first fp16 field for Q4_0, Q5_0 and Q8_0.
        const uint16_t d = ReadU16(row.data() + c / block * block_bytes);
        second[g] = d;
        const int64_t q =
            layout->zero == 0 ? int64_t{static_cast<int8_t>(code)} : int64_t{code} - layout->zero;
        data[static_cast<size_t>(r * cols + c)] = q;
        got = FloatToHalf(HalfToFloat(d) * static_cast<float>(q));
      }
      if (got != want) {
        return Internal("GGUF {} row {} column {}: carried value {:#06x} differs from the fp16 "
                        "path's {:#06x}",
                        io::GgmlTypeName(type), row_begin + r, c, got, want);
      }
    }
  }
  PreservedBlocks out;
  if (layout->lut) {
    out.op = "constexpr_lut_to_dense";
    out.first_param = "indices";
    out.second_param = "lut";
    out.first = mil::Tensor::UInt(layout->dtype, shape, codes);
    std::vector<int64_t> lut_shape = group_shape;
    lut_shape.push_back(entries);
    lut_shape.push_back(1);
    out.second = mil::Tensor::F16Bits(std::move(lut_shape), second);
  } else {
    out.op = "constexpr_blockwise_shift_scale";
    out.first_param = "data";
    out.second_param = "scale";
    out.first = mil::Tensor::Ints(layout->dtype, shape, data);
    out.second = mil::Tensor::F16Bits(std::move(group_shape), second);
  }
  return out;
}

double CarriedBitsPerWeight(io::GgmlType type) {
  const std::optional<CarryLayout> layout = LayoutOf(type);
  if (!layout) return 0;
  // Codes, plus one fp16 scale or one fp16 table of 2^bits entries per group.
  const double per_group = layout->lut ? 16.0 * static_cast<double>(1 << layout->bits) : 16.0;
  return layout->bits + per_group / static_cast<double>(layout->group);
}

std::string NotCarriedReason(io::GgmlType type) {
  using io::GgmlType;
  switch (type) {
    case GgmlType::kQ5_1:
    case GgmlType::kQ5_K:
      return "d*q + m needs a 32-entry table per 32 weights, i.e. uint6 indices and 64 entries: "
             "38 bits per weight, more than fp16; offset -m/d is rarely an fp16 number";
    case GgmlType::kQ6_K:
      return "the per-16 scale d*s is rarely an fp16 number and a 64-entry table per 16 weights "
             "is 70 bits per weight";
    default:
      return LayoutOf(type) || type == GgmlType::kF16 || type == GgmlType::kF32 ||
                     type == GgmlType::kBF16
                 ? ""
                 : "no Core ML form for this block type";
  }
}

}  // namespace anec::ane
