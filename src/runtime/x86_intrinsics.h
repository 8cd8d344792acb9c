// <immintrin.h> for the SIMD kernel files (row_kernels*.cc), with the one warning they need off.
// GCC 12 reports its own _mm512_undefined_* placeholders inside the AVX-512 intrinsics as
// uninitialized (a known false positive). The pragmas stay in effect for the rest of the
// including file, so include this only from .cc files whose code reads no uninitialized value.
#pragma once

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif
