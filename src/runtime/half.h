// IEEE 754 binary16 ("fp16") conversion. The runtime stores fp16 tensors as raw uint16_t bits
// (what Core ML and the blob file store) and converts to fp32 for arithmetic.
#pragma once

#include <cstdint>
#include <cstring>

#include "base/half.h"

namespace anec::runtime {

using Half = uint16_t;

// Scalar conversions are the project-wide ones (base/half.h): exact fp16 -> fp32, and fp32 ->
// fp16 rounding to nearest even (overflow -> +-inf, NaN stays NaN).
using ::anec::FloatToHalf;
using ::anec::HalfToFloat;

// Table-driven HalfToFloat for hot loops (64K entries, built once).
const float* HalfToFloatTable();
inline float HalfToFloatFast(Half h) { return HalfToFloatTable()[h]; }

// Converts n values; uses the CPU's F16C instructions when available.
void HalfToFloatN(const Half* in, float* out, int64_t n);
void FloatToHalfN(const float* in, Half* out, int64_t n);
// x86-64: whether the CPU has the F16C conversions (false elsewhere). Read from CPUID because
// __builtin_cpu_supports("f16c") is GCC-only (clang 14 rejects the name).
bool CpuHasF16c();

// fp32 -> fp16 -> fp32: what storing a value in an fp16 tensor does to it.
inline float RoundToHalf(float f) { return HalfToFloat(FloatToHalf(f)); }

}  // namespace anec::runtime
