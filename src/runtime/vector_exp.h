// exp over arrays of fp32, several values per instruction, for the `exp`, `silu` and `sigmoid`
// kernels (the softmax of attention runs `exp` over every score of a prefill: a call per value
// of the C library's expf was 5.5% of SmolLM2's prefill).
//
// Exactness: each value is computed in double precision (relative error about 1e-15, far below
// fp32's 6e-8 spacing) and rounded once to fp32, so the result is the correctly rounded exp in
// all but vanishingly rare cases, and equal to glibc's expf (whose error bound is 0.502 ulp)
// wherever that one rounds correctly. Tests compare all 65,536 fp16 inputs and random fp32 inputs
// with std::exp. Every code path performs the same IEEE operations, so paths agree bit for bit.
#pragma once

#include <cstdint>

namespace anec::runtime {

// out[i] = exp(in[i]) rounded to fp32, for i < n. Overflow gives +inf, underflow +0 (or an fp32
// subnormal, correctly rounded), NaN stays NaN. `out` may equal `in`.
void ExpN(const float* in, float* out, int64_t n);

namespace vector_exp_internal {
// The same without the SIMD paths (tests compare the two).
void ExpNPortable(const float* in, float* out, int64_t n);
#if defined(__x86_64__)
// The same on the AVX2 path whatever the CPU's best (tests). REQUIRES: AVX2 and FMA.
void ExpNAvx2(const float* in, float* out, int64_t n);
#endif
}  // namespace vector_exp_internal

}  // namespace anec::runtime
