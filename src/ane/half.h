// fp16 conversion for weights on their way into Core ML constants.
//
// Checkpoints store F32, F16 or BF16; the Neural Engine wants fp16. Conversion rounds to nearest
// even (as numpy's astype(float16)); values beyond the fp16 range become +-inf, which the caller
// reports (a weight that overflows fp16 is an error, not a silent inf).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/half.h"
#include "base/status.h"
#include "io/tensor_source.h"

namespace anec::ane {

// Scalar conversions are the project-wide ones (base/half.h), inline for the hot loops here.
using ::anec::FloatToHalf;
using ::anec::HalfToFloat;

// The elements [begin, end) of `t` (in row-major element order) as fp16 bits.
// Errors: a non-float dtype, a range outside the tensor, or a finite value that overflows fp16
// (the message names the tensor and the first offending element).
Result<std::vector<uint16_t>> ToHalfRange(const io::TensorData& t, int64_t begin, int64_t end);
// The same as little-endian bytes (what a blob constant stores), without an extra copy.
Result<std::vector<uint8_t>> ToHalfBytes(const io::TensorData& t, int64_t begin, int64_t end);
// Whole tensor.
Result<std::vector<uint16_t>> ToHalf(const io::TensorData& t);

}  // namespace anec::ane
