#include "runtime/vector_exp.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "runtime/half.h"
#include "runtime/row_kernels.h"

namespace anec::runtime {
namespace {

// Distance in fp32 ulps between two finite floats of the same sign (or both zero).
int64_t UlpDistance(float a, float b) {
  const int64_t ia = std::bit_cast<int32_t>(a), ib = std::bit_cast<int32_t>(b);
  return ia > ib ? ia - ib : ib - ia;
}

// What the runtime stores: exp of an fp16 input, rounded to fp16. Every fp16 value (finite,
// infinite, NaN), on every path, against the C library's expf.
TEST(VectorExpTest, EveryHalfInputRoundsLikeTheCLibrary) {
  std::vector<float> in(65536), out(65536);
  for (uint32_t h = 0; h < 65536; ++h) in[h] = HalfToFloat(static_cast<Half>(h));
  for (bool portable : {false, true}) {
    ForcePortableRowKernels(portable);
    ExpN(in.data(), out.data(), static_cast<int64_t>(in.size()));
    for (uint32_t h = 0; h < 65536; ++h) {
      const float want = std::exp(in[h]);
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(out[h])) << "input bits " << h;
        continue;
      }
      ASSERT_EQ(FloatToHalf(out[h]), FloatToHalf(want))
          << "input " << in[h] << " got " << out[h] << " want " << want << " portable " << portable;
      ASSERT_LE(UlpDistance(out[h], want), 1) << "input " << in[h];
    }
  }
  ForcePortableRowKernels(false);
}

// fp32 inputs over the whole range where exp is neither 0 nor inf (and past it): the correctly
// rounded exp (from long double), within one ulp of expf (which glibc rounds the other way on
// about 0.06% of these inputs, its documented 0.502-ulp bound), and the SIMD path equal to the
// portable one bit for bit, at every length around the vector widths (the tails take the
// portable loop).
TEST(VectorExpTest, FloatInputsRoundCorrectlyOnEveryPath) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> wide(-110.0f, 95.0f);
  std::normal_distribution<float> narrow(0.0f, 4.0f);
  std::vector<float> in;
  for (int i = 0; i < 200000; ++i) in.push_back(i % 2 ? wide(rng) : narrow(rng));
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), 88.72f, 88.73f,
                  -87.33f, -103.97f, -103.98f, -104.5f, 1e-30f, -1e-30f,
                  std::numeric_limits<float>::denorm_min(), 3.4e38f, -3.4e38f}) {
    in.push_back(v);
  }
  std::vector<float> fast(in.size()), portable(in.size());
  ForcePortableRowKernels(false);
  ExpN(in.data(), fast.data(), static_cast<int64_t>(in.size()));
  vector_exp_internal::ExpNPortable(in.data(), portable.data(), static_cast<int64_t>(in.size()));
#if defined(__x86_64__)
  // The AVX2 path, whichever path this CPU takes by default.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    std::vector<float> avx2(in.size());
    vector_exp_internal::ExpNAvx2(in.data(), avx2.data(), static_cast<int64_t>(in.size()));
    for (size_t i = 0; i < in.size(); ++i) {
      if (!std::isnan(in[i])) {
        ASSERT_EQ(std::bit_cast<uint32_t>(avx2[i]), std::bit_cast<uint32_t>(portable[i]))
            << "input " << in[i];
      } else {
        ASSERT_TRUE(std::isnan(avx2[i]));
      }
    }
  }
#endif
  for (size_t i = 0; i < in.size(); ++i) {
    if (std::isnan(in[i])) {
      EXPECT_TRUE(std::isnan(fast[i]) && std::isnan(portable[i]));
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(portable[i]))
        << "input " << in[i];
    const float rounded = static_cast<float>(std::exp(static_cast<long double>(in[i])));
    ASSERT_EQ(fast[i], rounded) << "input " << in[i];
    const float libc = std::exp(in[i]);
    if (!std::isinf(libc) && libc != 0) {
      ASSERT_LE(UlpDistance(fast[i], libc), 1) << "input " << in[i];
    }
  }
  for (int64_t n = 0; n <= 19; ++n) {
    std::vector<float> part(in.begin(), in.begin() + n), got(static_cast<size_t>(n));
    ExpN(part.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(std::bit_cast<uint32_t>(got[static_cast<size_t>(i)]),
                std::bit_cast<uint32_t>(portable[static_cast<size_t>(i)]))
          << "length " << n << " index " << i;
    }
  }
  // In place.
  std::vector<float> same = in;
  ExpN(same.data(), same.data(), static_cast<int64_t>(same.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    if (!std::isnan(in[i])) {
      ASSERT_EQ(same[i], fast[i]);
    }
  }
}

}  // namespace
}  // namespace anec::runtime
