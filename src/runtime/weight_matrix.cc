#include "runtime/weight_matrix.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string_view>
#include <vector>

#include "runtime/half.h"
#include "runtime/lut_weight.h"
#include "runtime/packed_gemm.h"
#include "runtime/row_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace anec::runtime {
namespace {

#if defined(__x86_64__)
// Four dot products of x with rows w0..w3 (shares the loads of x).
__attribute__((target("avx2,fma"))) void Dot4Avx2(const float* x, const float* const* w, int64_t n,
                                                  float* out) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv = _mm256_loadu_ps(x + i);
    s0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w[0] + i), s0);
    s1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w[1] + i), s1);
    s2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w[2] + i), s2);
    s3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w[3] + i), s3);
  }
  __m256 sums[4] = {s0, s1, s2, s3};
  for (int r = 0; r < 4; ++r) {
    __m128 lo = _mm256_castps256_ps128(sums[r]), hi = _mm256_extractf128_ps(sums[r], 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_hadd_ps(lo, lo);
    lo = _mm_hadd_ps(lo, lo);
    float t = _mm_cvtss_f32(lo);
    for (int64_t j = i; j < n; ++j) t += x[j] * w[r][j];
    out[r] = t;
  }
}
bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

// How many rows ahead of the one being dotted a one-row product prefetches: about 2 KB of stored
// bytes, 2 to 4 rows. Decode streams every weight once per token, and the hardware prefetcher
// alone left SmolLM2's LUT6 decode at 51 tok/s; with 4 rows (1.7 KB) ahead it ran at 70-74 on
// this machine (LUT4 55 -> 83 at 2-4 rows, fp16 41 -> 48 at 2; docs/PERFORMANCE.md).
int64_t RowsAhead(int64_t row_bytes) {
  return std::clamp<int64_t>(2048 / std::max<int64_t>(row_bytes, 1), 2, 4);
}

void PrefetchBytes(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b);
}

std::atomic<bool> g_force_dot_tiles{false};

bool UsePacked(int64_t m) {
  return m >= kPackedGemmMinRows && PackedGemmAvailable() &&
         !g_force_dot_tiles.load(std::memory_order_relaxed);
}

DecodeRowFn RowsOf(const WeightMatrix& w) {
  return [&w](int64_t j, float* row) { w.DecodeRow(j, row); };
}

}  // namespace

float Dot(const float* a, const float* b, int64_t n) { return DotF32(a, b, n); }

void ForceDotTileGemm(bool force) { g_force_dot_tiles.store(force, std::memory_order_relaxed); }

Result<WeightMatrix> WeightMatrix::Create(const Tensor& w, int64_t rows, int64_t cols) {
  if (rows * cols != w.size()) {
    return Internal("weight {} viewed as [{}, {}]: element counts differ", w.TypeString(), rows,
                    cols);
  }
  if (w.is_lut()) {
    if (!w.lut()->RowDecodable() || w.rank() == 0 || w.dim(0) != rows) {
      return Unsupported("weight {} with this LUT layout cannot be used as a [{}, {}] matrix",
                         w.TypeString(), rows, cols);
    }
  } else if (w.dtype() != DType::kFloat16 && w.dtype() != DType::kFloat32) {
    return InvalidArgument("weight {} must be fp16 or fp32", w.TypeString());
  }
  WeightMatrix m;
  m.t_ = w;
  m.rows_ = rows;
  m.cols_ = cols;
  return m;
}

const LutWeight* WeightMatrix::fast_lut() const {
  return t_.is_lut() && t_.lut()->FastDot() ? t_.lut().get() : nullptr;
}

void WeightMatrix::DecodeRow(int64_t r, float* out) const {
  if (t_.is_lut()) {
    t_.lut()->DecodeRow(r, out);
  } else if (t_.dtype() == DType::kFloat16) {
    HalfToFloatN(t_.data<Half>() + r * cols_, out, cols_);
  } else {
    std::memcpy(out, t_.data<float>() + r * cols_, static_cast<size_t>(cols_) * 4);
  }
}

void GemmXWt(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* out,
             ThreadPool* pool) {
  const int64_t n = w.rows(), k = w.cols();
  if (UsePacked(m)) {
    PackedGemm(x, m, n, k, RowsOf(w), bias, out, n * k * m < 65536 ? nullptr : pool);
    return;
  }
  const bool avx512 = std::string_view(RowKernelPath()) == "avx512";
  auto work = [&](int64_t begin, int64_t end) {
    // Decoded weight rows for the paths below that need them (not the one-token ones).
    std::vector<float> rows(m > 1 || (w.half_rows() == nullptr && w.fast_lut() == nullptr)
                                ? static_cast<size_t>(4 * k)
                                : 0);
    int64_t j = begin;
#if defined(__x86_64__)
    // Several activation rows (prefill): decode 4 weight rows, reuse each x load 4 times.
    if (m > 1 && HasAvx2()) {
      const float* w4[4] = {rows.data(), rows.data() + k, rows.data() + 2 * k, rows.data() + 3 * k};
      for (; j + 4 <= end; j += 4) {
        for (int r = 0; r < 4; ++r) w.DecodeRow(j + r, rows.data() + r * k);
        if (avx512) {  // 4 x 4 register tiles
          for (int64_t i = 0; i < m; i += 4) {
            DotTile(x + i * k, std::min<int64_t>(4, m - i), w4, k, out + i * n + j, n);
          }
          if (bias != nullptr) {
            for (int64_t i = 0; i < m; ++i) {
              for (int r = 0; r < 4; ++r) out[i * n + j + r] += bias[j + r];
            }
          }
          continue;
        }
        for (int64_t i = 0; i < m; ++i) {
          float d[4];
          Dot4Avx2(x + i * k, w4, k, d);
          for (int r = 0; r < 4; ++r) out[i * n + j + r] = d[r] + (bias ? bias[j + r] : 0.0f);
        }
      }
    }
#endif
    if (m == 1 && w.half_rows() != nullptr) {
      // Decode (one token): fp16 rows straight from the mapped file, converted in registers.
      const Half* base = w.half_rows();
      const int64_t ahead = RowsAhead(k * 2);
      for (; j < end; ++j) {
        if (j + ahead < end) PrefetchBytes(base + (j + ahead) * k, k * 2);
        out[j] = DotF16(x, base + j * k, k) + (bias ? bias[j] : 0.0f);
      }
      return;
    }
    if (m == 1 && w.fast_lut() != nullptr) {
      const LutWeight* lut = w.fast_lut();
      lut->DotRows(j, end, x, RowsAhead(lut->packed_row_bytes()), bias, out);
      return;
    }
    for (; j < end; ++j) {
      w.DecodeRow(j, rows.data());
      float b = bias ? bias[j] : 0.0f;
      for (int64_t i = 0; i < m; ++i) out[i * n + j] = Dot(x + i * k, rows.data(), k) + b;
    }
  };
  // Small problems are not worth waking the workers.
  if (pool == nullptr || n * k * m < 65536) {
    work(0, n);
  } else {
    pool->ParallelFor(n, 16, work);
  }
}

void GemmXWtChannelsFirst(const float* x, int64_t m, const WeightMatrix& w, const float* bias,
                          float* out, ThreadPool* pool) {
  const int64_t n = w.rows(), k = w.cols();
  if (UsePacked(m)) {
    PackedGemm(x, {1, m}, m, n, k, RowsOf(w), bias, out, {1, m},
               n * k * m < 65536 ? nullptr : pool);
    return;
  }
  std::vector<float> xt(static_cast<size_t>(m * k)), yt(static_cast<size_t>(m * n));
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t p = 0; p < m; ++p) xt[static_cast<size_t>(p * k + c)] = x[c * m + p];
  }
  GemmXWt(xt.data(), m, w, bias, yt.data(), pool);
  for (int64_t p = 0; p < m; ++p) {
    for (int64_t c = 0; c < n; ++c) out[c * m + p] = yt[static_cast<size_t>(p * n + c)];
  }
}

}  // namespace anec::runtime
