#include "runtime/packed_gemm.h"

#include <algorithm>
#include <array>
#include <memory>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/row_kernels.h"
#include "runtime/x86_intrinsics.h"  // nothing here reads an uninitialized value

namespace anec::runtime {

#if defined(__x86_64__)
namespace {

#define ANEC_GEMM __attribute__((target("avx512f")))

// Activation rows per register tile: 12 rows x 2 vectors of sums use 24 of the 32 zmm
// registers, leaving 2 for the panel's column and 1 for the broadcast.
constexpr int kTileRows = 12;

// One tile's arguments. xp: the tile's activations packed column by column (xp[c * rows + i]);
// panel: [k][kPanelRows]; bias: null or the panel's `valid` biases; out: element (i, r) of the
// tile at out[i * out_rows + r * out_cols], columns r < valid written.
struct Tile {
  const float* xp;
  int64_t k;
  const float* panel;
  const float* bias;
  int64_t valid;
  float* out;
  int64_t out_rows, out_cols;
};
using TileFn = void (*)(const Tile&);

template <int MR>
ANEC_GEMM void TileAvx512(const Tile& t) {
  const int64_t v0 = std::min<int64_t>(t.valid, 16), v1 = std::max<int64_t>(t.valid - 16, 0);
  const __mmask16 m0 = static_cast<__mmask16>((1u << v0) - 1);
  const __mmask16 m1 = static_cast<__mmask16>((1u << v1) - 1);
  const __m512 init0 = t.bias ? _mm512_maskz_loadu_ps(m0, t.bias) : _mm512_setzero_ps();
  const __m512 init1 = t.bias ? _mm512_maskz_loadu_ps(m1, t.bias + 16) : _mm512_setzero_ps();
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = init0;
    acc[i][1] = init1;
  }
  const float* p = t.panel;
  const float* xc = t.xp;
  for (int64_t c = 0; c < t.k; ++c, p += kPanelRows, xc += MR) {
    const __m512 b0 = _mm512_load_ps(p), b1 = _mm512_load_ps(p + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_set1_ps(xc[i]);
      acc[i][0] = _mm512_fmadd_ps(xv, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(xv, b1, acc[i][1]);
    }
  }
  if (t.out_cols == 1) {
    for (int i = 0; i < MR; ++i) {
      _mm512_mask_storeu_ps(t.out + i * t.out_rows, m0, acc[i][0]);
      _mm512_mask_storeu_ps(t.out + i * t.out_rows + 16, m1, acc[i][1]);
    }
    return;
  }
  // Channels-first output (conv): through a buffer, written column by column (rows contiguous).
  alignas(64) float tile[MR][kPanelRows];
  for (int i = 0; i < MR; ++i) {
    _mm512_store_ps(tile[i], acc[i][0]);
    _mm512_store_ps(tile[i] + 16, acc[i][1]);
  }
  for (int64_t r = 0; r < t.valid; ++r) {
    for (int i = 0; i < MR; ++i) t.out[i * t.out_rows + r * t.out_cols] = tile[i][r];
  }
}

template <int... MR>
constexpr std::array<TileFn, sizeof...(MR)> TileTable(std::integer_sequence<int, MR...>) {
  return {&TileAvx512<MR + 1>...};
}
// Indexed by the tile's rows - 1.
constexpr auto kTiles = TileTable(std::make_integer_sequence<int, kTileRows>());

// dst[c * ldd + r] = src[r * lds + c] for r, c < 16: three rounds of in-lane unpacks and 128-bit
// block shuffles (64 shuffles per 256 values, against 256 scalar loads and stores).
ANEC_GEMM void Transpose16x16(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  // Per 128-bit block b of t[2i] / t[2i+1]: rows 2i, 2i+1 at columns 4b, 4b+1 / 4b+2, 4b+3.
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // Block b of r[4j + q]: rows 4j..4j+3 at column 4b + q.
  for (int j = 0; j < 4; ++j) {
    const __m512d a = _mm512_castps_pd(t[4 * j]), b = _mm512_castps_pd(t[4 * j + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * j + 1]), d = _mm512_castps_pd(t[4 * j + 3]);
    r[4 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    r[4 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    r[4 * j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    r[4 * j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  // Column 4b + q gathers block b of r[q], r[4 + q], r[8 + q], r[12 + q].
  for (int q = 0; q < 4; ++q) {
    const __m512 u0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88);  // blocks 0, 2 of j = 0, 1
    const __m512 u1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xDD);  // blocks 1, 3
    const __m512 v0 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xDD);
    _mm512_storeu_ps(dst + q * ldd, _mm512_shuffle_f32x4(u0, v0, 0x88));
    _mm512_storeu_ps(dst + (8 + q) * ldd, _mm512_shuffle_f32x4(u0, v0, 0xDD));
    _mm512_storeu_ps(dst + (4 + q) * ldd, _mm512_shuffle_f32x4(u1, v1, 0x88));
    _mm512_storeu_ps(dst + (12 + q) * ldd, _mm512_shuffle_f32x4(u1, v1, 0xDD));
  }
}

// A float buffer whose start is 64-byte aligned, so that each 16-float read of a panel column
// is one cache line.
class AlignedFloats {
 public:
  explicit AlignedFloats(size_t n) : data_(new (std::align_val_t(64)) float[n]) {}
  float* get() { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<float[], Free> data_;
};

// Rows [j0, j0 + valid) of W as panel[c * kPanelRows + r]; rows past `valid` are zero.
void PackPanel(const DecodeRowFn& decode_row, int64_t j0, int64_t valid, int64_t k, float* rows,
               float* panel) {
  for (int64_t r = 0; r < kPanelRows; ++r) {
    float* row = rows + r * k;
    if (r < valid) {
      decode_row(j0 + r, row);
    } else {
      std::fill(row, row + k, 0.0f);
    }
  }
  int64_t c0 = 0;
  for (; c0 + 16 <= k; c0 += 16) {
    Transpose16x16(rows + c0, k, panel + c0 * kPanelRows, kPanelRows);
    Transpose16x16(rows + 16 * k + c0, k, panel + c0 * kPanelRows + 16, kPanelRows);
  }
  for (; c0 < k; ++c0) {
    for (int64_t r = 0; r < kPanelRows; ++r) panel[c0 * kPanelRows + r] = rows[r * k + c0];
  }
}

}  // namespace

bool PackedGemmAvailable() { return RowKernelsUseAvx512(); }

void PackedGemm(const float* x, MatrixLayout x_layout, int64_t m, int64_t n, int64_t k,
                const DecodeRowFn& decode_row, const float* bias, float* out,
                MatrixLayout out_layout, ThreadPool* pool) {
  // x in tiles of kTileRows rows, each column by column, so a tile's broadcasts read one stream.
  std::vector<float> xp(static_cast<size_t>(m * k));
  for (int64_t i0 = 0; i0 < m; i0 += kTileRows) {
    const int64_t rows = std::min<int64_t>(kTileRows, m - i0);
    float* dst = xp.data() + i0 * k;
    for (int64_t c = 0; c < k; ++c) {
      const float* src = x + i0 * x_layout.row_stride + c * x_layout.col_stride;
      for (int64_t i = 0; i < rows; ++i) dst[c * rows + i] = src[i * x_layout.row_stride];
    }
  }
  const int64_t panels = (n + kPanelRows - 1) / kPanelRows;
  auto work = [&](int64_t begin, int64_t end) {
    AlignedFloats rows(static_cast<size_t>(kPanelRows * k));
    AlignedFloats panel(static_cast<size_t>(kPanelRows * k));
    for (int64_t p = begin; p < end; ++p) {
      const int64_t j0 = p * kPanelRows, valid = std::min(kPanelRows, n - j0);
      PackPanel(decode_row, j0, valid, k, rows.get(), panel.get());
      for (int64_t i0 = 0; i0 < m; i0 += kTileRows) {
        const int64_t tile_rows = std::min<int64_t>(kTileRows, m - i0);
        const Tile t{xp.data() + i0 * k,
                     k,
                     panel.get(),
                     bias ? bias + j0 : nullptr,
                     valid,
                     out + i0 * out_layout.row_stride + j0 * out_layout.col_stride,
                     out_layout.row_stride,
                     out_layout.col_stride};
        kTiles[static_cast<size_t>(tile_rows - 1)](t);
      }
    }
  };
  if (pool == nullptr) {
    work(0, panels);
  } else {
    pool->ParallelFor(panels, 1, work);
  }
}

#else  // not x86-64: no kernel yet (GemmXWt's other paths run instead)

bool PackedGemmAvailable() { return false; }

void PackedGemm(const float*, MatrixLayout, int64_t, int64_t, int64_t, const DecodeRowFn&,
                const float*, float*, MatrixLayout, ThreadPool*) {}

#endif

}  // namespace anec::runtime
