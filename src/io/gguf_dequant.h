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

// The integer code of each of `n` elements (the q of the block formulas in docs/GGUF_FORMAT.md,
// before any shift), for the types --preserve-quant carries: Q4_0, Q4_1, Q4_K 0..15; Q5_0 0..31;
// Q8_0 the int8 as its byte; Q2_K 0..3; Q3_K low two bits | high bit << 2, 0..7 (the value is
// d*(s-32)*(code - 4)). Returns false (and writes nothing) for any other type.
// REQUIRES: as DequantizeGgml, with out.size() >= n.
bool GgmlCodes(GgmlType t, std::span<const uint8_t> bytes, int64_t n, std::span<uint8_t> out);

// The whole tensor as float32, in GGUF element order (row-major over shape()).
Result<std::vector<float>> DequantizeTensor(const GgufFile& file, const GgufTensorInfo& t);

}  // namespace anec::io
