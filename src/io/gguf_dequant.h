// Dequantization of GGUF tensor data to float32, exactly as the ggml block formats define it
// (docs/GGUF_FORMAT.md lists the block layouts). Each function is pure and bounds-safe given
// sizes validated by GgufFile.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "io/gguf_file.h"

namespace anec::io {

// Dequantizes `n` elements of type `t` from `bytes` into `out`.
// REQUIRES: n is a multiple of GgmlBlockSize(t); bytes.size() >= n / block size * block bytes;
// out.size() >= n.
void DequantizeGgml(GgmlType t, std::span<const uint8_t> bytes, int64_t n, std::span<float> out);

// The whole tensor as float32, in GGUF element order (row-major over shape()).
Result<std::vector<float>> DequantizeTensor(const GgufFile& file, const GgufTensorInfo& t);

}  // namespace anec::io
