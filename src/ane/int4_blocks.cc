#include "ane/int4_blocks.h"

#include <fmt/ranges.h>

#include "ane/half.h"

namespace anec::ane {

Result<Int4Constants> EncodeInt4Blockwise(const io::Int4Blockwise& b, int64_t row_begin,
                                          int64_t row_end, const std::vector<int64_t>& shape) {
  const int64_t out = b.out_features, in = b.in_features, blocks = b.num_blocks;
  if (out <= 0 || in <= 0 || blocks <= 0 || b.block_size * blocks != in ||
      b.data.size() != static_cast<size_t>(out * in) ||
      b.scales.size() != static_cast<size_t>(out * blocks) ||
      b.offsets.size() != static_cast<size_t>(out * blocks) ||
      (!b.input_permutation.empty() && b.input_permutation.size() != static_cast<size_t>(in))) {
    return Internal("{}: inconsistent int4 blockwise form ([{}, {}], {} blocks of {})", b.name, out,
                    in, blocks, b.block_size);
  }
  if (row_begin < 0 || row_end > out || row_begin >= row_end) {
    return InvalidArgument("{}: rows [{}, {}) are outside its {} output features", b.name,
                           row_begin, row_end, out);
  }
  const int64_t rows = row_end - row_begin;
  bool shape_ok = shape.size() >= 2 && shape[0] == rows && shape[1] == in;
  for (size_t i = 2; shape_ok && i < shape.size(); ++i) shape_ok = shape[i] == 1;
  if (!shape_ok) {
    return InvalidArgument("{}: rows [{}, {}) of [{}, {}] cannot take the shape [{}]", b.name,
                           row_begin, row_end, out, in, fmt::join(shape, ","));
  }
  std::vector<int64_t> block_shape(shape.size(), 1);
  block_shape[0] = rows;
  block_shape[1] = blocks;

  const auto data_begin = b.data.begin() + row_begin * in;
  std::vector<uint8_t> data(data_begin, data_begin + rows * in);
  for (uint8_t q : data) {
    if (q > 15) return Internal("{}: int4 code {} above 15", b.name, q);
  }
  const size_t first = static_cast<size_t>(row_begin * blocks),
               n = static_cast<size_t>(rows * blocks);
  std::vector<uint16_t> scales(b.scales.begin() + first, b.scales.begin() + first + n);
  std::vector<uint8_t> offsets(b.offsets.begin() + first, b.offsets.begin() + first + n);
  bool fits_uint4 = true;
  for (uint8_t z : offsets) {
    if (z > 16) return Internal("{}: zero point {} above 16", b.name, z);
    fits_uint4 = fits_uint4 && z <= 15;
  }

  Int4Constants c;
  c.data = mil::Tensor::UInt(mil::DType::kUInt4, shape, data);
  c.scale = mil::Tensor::F16Bits(block_shape, scales);
  if (fits_uint4) {
    c.offset = mil::Tensor::UInt(mil::DType::kUInt4, block_shape, offsets);
  } else {
    // Integers 0..16 are exact in fp16, so the fp16 offset carries the same zero points.
    std::vector<uint16_t> half(offsets.size());
    for (size_t k = 0; k < offsets.size(); ++k)
      half[k] = FloatToHalf(static_cast<float>(offsets[k]));
    c.offset = mil::Tensor::F16Bits(block_shape, half);
  }
  if (!b.input_permutation.empty()) {
    c.input_order.assign(static_cast<size_t>(in), -1);
    for (int64_t j = 0; j < in; ++j) {
      const int32_t i = b.input_permutation[static_cast<size_t>(j)];
      if (i < 0 || i >= in || c.input_order[static_cast<size_t>(i)] != -1) {
        return Internal("{}: input permutation is not a permutation of [0, {})", b.name, in);
      }
      c.input_order[static_cast<size_t>(i)] = static_cast<int32_t>(j);
    }
  }
  return c;
}

}  // namespace anec::ane
