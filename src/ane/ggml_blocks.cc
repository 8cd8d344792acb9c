#include "ane/ggml_blocks.h"

#include <fmt/ranges.h>

#include <array>
#include <cstring>

#include "ane/half.h"
#include "io/gguf_dequant.h"

namespace anec::ane {

namespace {

constexpr int64_t kBlock = 32;

uint16_t ReadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Element j of a 4-bit block: low nibble of byte j for j < 16, high nibble of byte j - 16 after.
uint8_t Nibble(const uint8_t* qs, int64_t j) {
  return j < 16 ? (qs[j] & 0x0F) : static_cast<uint8_t>(qs[j - 16] >> 4);
}

// The 16 table entries of a Q4_1 block: the block's own d and m with nibbles 0..15 in elements
// 0..15, dequantized by the reference decoder, then rounded to fp16 like the fp16 path.
std::array<uint16_t, 16> Q41Table(const uint8_t* block) {
  std::array<uint8_t, 20> probe{};
  std::memcpy(probe.data(), block, 4);  // d, m
  for (int j = 0; j < 16; ++j) probe[static_cast<size_t>(4 + j)] = static_cast<uint8_t>(j);
  std::array<float, kBlock> values{};
  io::DequantizeGgml(io::GgmlType::kQ4_1, probe, kBlock, values);
  std::array<uint16_t, 16> table{};
  for (size_t q = 0; q < 16; ++q) table[q] = FloatToHalf(values[q]);
  return table;
}

}  // namespace

Result<PreservedBlocks> EncodeGgmlBlocks(io::GgmlType type, std::span<const uint8_t> bytes,
                                         int64_t rows, int64_t cols, int64_t row_begin,
                                         int64_t row_end, const std::vector<int64_t>& shape) {
  if (type != io::GgmlType::kQ4_0 && type != io::GgmlType::kQ4_1 && type != io::GgmlType::kQ8_0) {
    return InvalidArgument("GGUF type {} cannot be carried as is; only Q4_0, Q4_1 and Q8_0 can",
                           io::GgmlTypeName(type));
  }
  const int64_t block_bytes = io::GgmlBlockBytes(type);
  if (rows <= 0 || cols <= 0 || cols % kBlock != 0 || row_begin < 0 || row_end > rows ||
      row_begin >= row_end) {
    return InvalidArgument(
        "GGUF {} tensor [{}, {}]: rows [{}, {}) or a row length not a multiple "
        "of {} cannot be carried",
        io::GgmlTypeName(type), rows, cols, row_begin, row_end, kBlock);
  }
  const int64_t blocks_per_row = cols / kBlock;
  const int64_t row_bytes = blocks_per_row * block_bytes;
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
  // Per-block tensors: [n_rows, cols/32, 1, ...] (same rank as the output).
  std::vector<int64_t> block_shape(shape.size(), 1);
  block_shape[0] = n_rows;
  block_shape[1] = blocks_per_row;
  const size_t n = static_cast<size_t>(n_rows * cols);
  const size_t n_blocks = static_cast<size_t>(n_rows * blocks_per_row);

  PreservedBlocks out;
  std::vector<uint16_t> second;  // scales or tables, fp16 bits
  std::vector<int64_t> values(n);
  std::vector<uint8_t> indices;
  if (type == io::GgmlType::kQ4_1) indices.resize(n);
  second.reserve(type == io::GgmlType::kQ4_1 ? n_blocks * 16 : n_blocks);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = bytes.data() + (row_begin + r) * row_bytes;
    for (int64_t b = 0; b < blocks_per_row; ++b) {
      const uint8_t* block = row + b * block_bytes;
      const size_t base = static_cast<size_t>(r * cols + b * kBlock);
      switch (type) {
        case io::GgmlType::kQ8_0:
          second.push_back(ReadU16(block));
          for (int64_t j = 0; j < kBlock; ++j) {
            values[base + static_cast<size_t>(j)] = static_cast<int8_t>(block[2 + j]);
          }
          break;
        case io::GgmlType::kQ4_0:
          second.push_back(ReadU16(block));
          for (int64_t j = 0; j < kBlock; ++j) {
            values[base + static_cast<size_t>(j)] = int64_t{Nibble(block + 2, j)} - 8;
          }
          break;
        default: {  // Q4_1
          std::array<uint16_t, 16> table = Q41Table(block);
          second.insert(second.end(), table.begin(), table.end());
          for (int64_t j = 0; j < kBlock; ++j) {
            indices[base + static_cast<size_t>(j)] = Nibble(block + 4, j);
          }
          break;
        }
      }
    }
  }
  if (type == io::GgmlType::kQ4_1) {
    out.op = "constexpr_lut_to_dense";
    out.first_param = "indices";
    out.second_param = "lut";
    out.first = mil::Tensor::UInt(mil::DType::kUInt4, shape, indices);
    std::vector<int64_t> lut_shape = block_shape;
    lut_shape.push_back(16);
    lut_shape.push_back(1);
    out.second = mil::Tensor::F16Bits(std::move(lut_shape), second);
  } else {
    out.op = "constexpr_blockwise_shift_scale";
    out.first_param = "data";
    out.second_param = "scale";
    out.first = mil::Tensor::Ints(
        type == io::GgmlType::kQ8_0 ? mil::DType::kInt8 : mil::DType::kInt4, shape, values);
    out.second = mil::Tensor::F16Bits(std::move(block_shape), second);
  }
  return out;
}

double CarriedBitsPerWeight(io::GgmlType type) {
  switch (type) {
    case io::GgmlType::kQ4_0:
      return (32 * 4 + 16) / 32.0;  // int4 codes, one fp16 scale per 32
    case io::GgmlType::kQ4_1:
      return (32 * 4 + 16 * 16) / 32.0;  // uint4 indices, one 16-entry fp16 table per 32
    case io::GgmlType::kQ8_0:
      return (32 * 8 + 16) / 32.0;  // int8 codes, one fp16 scale per 32
    default:
      return 0;
  }
}

}  // namespace anec::ane
