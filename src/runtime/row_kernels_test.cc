#include "runtime/row_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace anec::runtime {
namespace {

// Packs `bits`-bit values LSB first, with no slack byte at the end (so overreads would show
// under the sanitizers).
std::vector<uint8_t> Pack(const std::vector<uint32_t>& v, int bits) {
  std::vector<uint8_t> out((v.size() * static_cast<size_t>(bits) + 7) / 8, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    for (int b = 0; b < bits; ++b) {
      size_t bit = i * static_cast<size_t>(bits) + static_cast<size_t>(b);
      if ((v[i] >> b) & 1) out[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    }
  }
  return out;
}

class RowKernelsTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ForcePortableRowKernels(GetParam()); }
  void TearDown() override { ForcePortableRowKernels(false); }
};

TEST(RowKernelsNarrowTest, TwoAndThreeBitDecodeEqualsTableLookup) {
  std::mt19937 rng(11);
  for (int bits : {2, 3}) {
    std::vector<float> table(size_t{1} << bits);
    for (float& t : table) t = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 64.0f;
    for (int64_t cols : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 64, 100, 576}) {
      std::vector<uint32_t> idx(static_cast<size_t>(cols));
      for (uint32_t& i : idx) i = rng() % (1u << bits);
      // Exactly the bytes the indices need, so a read past them shows under ASan.
      std::vector<uint8_t> packed = Pack(idx, bits);
      packed.resize(static_cast<size_t>((cols * bits + 7) / 8));
      packed.shrink_to_fit();
      std::vector<float> out(static_cast<size_t>(cols), -1.0f);
      (bits == 2 ? DecodeLut2Row : DecodeLut3Row)(packed.data(), table.data(), cols, out.data());
      for (int64_t c = 0; c < cols; ++c) {
        ASSERT_EQ(out[static_cast<size_t>(c)], table[idx[static_cast<size_t>(c)]])
            << bits << " bits, cols " << cols << ", col " << c;
      }
    }
  }
}

TEST_P(RowKernelsTest, LutDecodeEqualsTableLookup) {
  std::mt19937 rng(7);
  for (int bits : {4, 6}) {
    std::vector<float> table(size_t{1} << bits);
    for (float& t : table) t = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 64.0f;
    for (int64_t cols : {1, 3, 8, 15, 16, 17, 31, 32, 33, 64, 100, 576, 1536}) {
      std::vector<uint32_t> idx(static_cast<size_t>(cols));
      for (uint32_t& i : idx) i = rng() % (1u << bits);
      std::vector<uint8_t> packed = Pack(idx, bits);
      std::vector<float> out(static_cast<size_t>(cols), -1.0f);
      if (bits == 4) {
        DecodeLut4Row(packed.data(), table.data(), cols, out.data());
      } else {
        DecodeLut6Row(packed.data(), table.data(), cols, out.data());
      }
      std::vector<float> x(static_cast<size_t>(cols));
      double want = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ASSERT_EQ(out[static_cast<size_t>(c)], table[idx[static_cast<size_t>(c)]])
            << bits << " bits, cols " << cols << ", col " << c << ", path " << RowKernelPath();
        x[static_cast<size_t>(c)] = static_cast<float>(static_cast<int>(rng() % 9) - 4);
        want += static_cast<double>(x[static_cast<size_t>(c)]) * out[static_cast<size_t>(c)];
      }
      // Products of small integers and multiples of 1/64: every partial sum is exact.
      float got = bits == 4 ? DotLut4(x.data(), packed.data(), table.data(), cols)
                            : DotLut6(x.data(), packed.data(), table.data(), cols);
      EXPECT_EQ(got, want) << bits << " bits, cols " << cols << ", path " << RowKernelPath();
    }
  }
}

// Tables that change every `block` columns (carried GGUF blocks): the fused dot equals the sum
// over table lookups, on both paths; one column at a time, so a block taking its neighbour's
// table or a misplaced index shows even where sums agree.
TEST_P(RowKernelsTest, BlockedDotEqualsTableLookup) {
  std::mt19937 rng(13);
  for (int bits : {2, 3, 4}) {
    const int entries = 1 << bits;
    for (int64_t block : {16, 32, 64}) {
      for (int64_t cols : {block, 2 * block, int64_t{576}, int64_t{1536}}) {
        if (cols % block != 0) continue;
        const int64_t blocks = cols / block;
        // Exactly 2^bits entries per table: the last table ends the buffer (ASan sees over-reads).
        std::vector<float> tables(static_cast<size_t>(blocks * entries));
        for (float& t : tables)
          t = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 64.0f;
        // Block b's table offset, the tables in shuffled order.
        std::vector<int32_t> block_tables(static_cast<size_t>(blocks));
        std::iota(block_tables.begin(), block_tables.end(), 0);
        std::shuffle(block_tables.begin(), block_tables.end(), rng);
        for (int32_t& t : block_tables) t *= entries;
        std::vector<uint32_t> idx(static_cast<size_t>(cols));
        for (uint32_t& i : idx) i = rng() % static_cast<uint32_t>(entries);
        std::vector<uint8_t> packed = Pack(idx, bits);
        auto value = [&](int64_t c) {
          return tables[static_cast<size_t>(block_tables[static_cast<size_t>(c / block)]) +
                        idx[static_cast<size_t>(c)]];
        };
        std::vector<float> x(static_cast<size_t>(cols));
        double want = 0;
        for (int64_t c = 0; c < cols; ++c) {
          x[static_cast<size_t>(c)] = static_cast<float>(static_cast<int>(rng() % 9) - 4);
          want += static_cast<double>(x[static_cast<size_t>(c)]) * value(c);
        }
        EXPECT_EQ(DotLutBlocked(x.data(), packed.data(), tables.data(), block_tables.data(), block,
                                cols, bits),
                  want)
            << bits << " bits, block " << block << ", cols " << cols << ", " << RowKernelPath();
        // Any x: the bits of DotF32 over the decoded row (the same summation order).
        std::vector<float> decoded(static_cast<size_t>(cols)), xr(static_cast<size_t>(cols));
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (int64_t c = 0; c < cols; ++c) {
          decoded[static_cast<size_t>(c)] = value(c);
          xr[static_cast<size_t>(c)] = u(rng);
        }
        EXPECT_EQ(DotLutBlocked(xr.data(), packed.data(), tables.data(), block_tables.data(), block,
                                cols, bits),
                  DotF32(xr.data(), decoded.data(), cols))
            << bits << " bits, block " << block << ", cols " << cols << ", " << RowKernelPath();
        // The same through fp16 tables (the values are multiples of 1/64 under 16: exact).
        std::vector<Half> half(tables.size());
        for (size_t i = 0; i < half.size(); ++i) half[i] = FloatToHalf(tables[i]);
        EXPECT_EQ(DotLutBlockedHalf(x.data(), packed.data(), half.data(), tables.data(),
                                    block_tables.data(), block, cols, bits),
                  want)
            << bits << " bits, block " << block << ", cols " << cols << ", fp16 tables, "
            << RowKernelPath();
        for (int64_t probe = 0; probe < cols; probe += 5) {
          std::vector<float> one(static_cast<size_t>(cols), 0.0f);
          one[static_cast<size_t>(probe)] = 1.0f;
          ASSERT_EQ(DotLutBlocked(one.data(), packed.data(), tables.data(), block_tables.data(),
                                  block, cols, bits),
                    value(probe))
              << bits << " bits, block " << block << ", column " << probe << ", fp32 tables";
          ASSERT_EQ(DotLutBlockedHalf(one.data(), packed.data(), half.data(), tables.data(),
                                      block_tables.data(), block, cols, bits),
                    value(probe))
              << bits << " bits, block " << block << ", column " << probe << ", fp16 tables, "
              << RowKernelPath();
        }
      }
    }
  }
}

TEST_P(RowKernelsTest, DotsMatchDoubleSum) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t n : {0, 1, 7, 16, 31, 33, 64, 576, 1537}) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    std::vector<Half> h(static_cast<size_t>(n));
    double exact = 0, exact_h = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      size_t s = static_cast<size_t>(i);
      a[s] = u(rng);
      b[s] = u(rng);
      h[s] = FloatToHalf(b[s]);
      exact += static_cast<double>(a[s]) * b[s];
      exact_h += static_cast<double>(a[s]) * HalfToFloat(h[s]);
      mag += std::fabs(static_cast<double>(a[s]) * b[s]);
    }
    // fp32 accumulation of n terms: a few ulps of the magnitude sum.
    const double tol = 1e-6 * (mag + 1.0);
    EXPECT_NEAR(DotF32(a.data(), b.data(), n), exact, tol) << n << " " << RowKernelPath();
    EXPECT_NEAR(DotF16(a.data(), h.data(), n), exact_h, tol) << n << " " << RowKernelPath();
  }
}

TEST_P(RowKernelsTest, ByteLookupDotEqualsTableLookup) {
  std::mt19937 rng(5);
  for (int bits : {4, 6}) {
    const int entries = 1 << bits;
    std::vector<Half> table_h(static_cast<size_t>(entries));
    std::vector<float> table(static_cast<size_t>(entries));
    for (int e = 0; e < entries; ++e) {
      // Multiples of 1/64 in [-16, 16): exact in fp16, so every partial sum below is exact.
      table[static_cast<size_t>(e)] =
          static_cast<float>(static_cast<int>(rng() % 2048) - 1024) / 64.0f;
      table_h[static_cast<size_t>(e)] = FloatToHalf(table[static_cast<size_t>(e)]);
    }
    std::vector<uint8_t> split(128);
    SplitHalfTable(table_h.data(), entries, split.data());
    for (int64_t cols : {4, 60, 64, 68, 128, 192, 576, 580, 1536}) {
      std::vector<uint32_t> idx(static_cast<size_t>(cols));
      for (uint32_t& i : idx) i = rng() % static_cast<uint32_t>(entries);
      std::vector<uint8_t> packed = Pack(idx, bits);
      std::vector<float> x(static_cast<size_t>(cols));
      double want = 0;
      for (int64_t c = 0; c < cols; ++c) {
        x[static_cast<size_t>(c)] = static_cast<float>(static_cast<int>(rng() % 9) - 4);
        want += static_cast<double>(x[static_cast<size_t>(c)]) * table[idx[static_cast<size_t>(c)]];
      }
      EXPECT_EQ(DotLutSplit(x.data(), packed.data(), split.data(), table.data(), cols, bits), want)
          << bits << " bits, cols " << cols << ", byte lookup " << HasLutByteLookup();
      // One column at a time: a misplaced index shows even where the sums agree.
      for (int64_t probe = 0; probe < cols; ++probe) {
        std::vector<float> one(static_cast<size_t>(cols), 0.0f);
        one[static_cast<size_t>(probe)] = 1.0f;
        EXPECT_EQ(DotLutSplit(one.data(), packed.data(), split.data(), table.data(), cols, bits),
                  table[idx[static_cast<size_t>(probe)]])
            << bits << " bits, cols " << cols << ", column " << probe;
      }
    }
  }
}

TEST_P(RowKernelsTest, SplitRowsEqualRowByRowDots) {
  // DotLutSplitRows over a range: each row through its own table (three tables of 64 entries,
  // rows sharing them in runs as groups of rows do), plus its bias, with the bits DotLutSplit
  // gives that row alone, whatever the prefetch distance and range.
  std::mt19937 rng(17);
  for (int bits : {4, 6}) {
    const int entries = 1 << bits;
    const int kTables = 3;
    std::vector<float> tables(static_cast<size_t>(kTables * entries));
    std::vector<uint8_t> split(static_cast<size_t>(kTables * 128));
    for (int t = 0; t < kTables; ++t) {
      std::vector<Half> h(static_cast<size_t>(entries));
      for (int e = 0; e < entries; ++e) {
        const float v = static_cast<float>(static_cast<int>(rng() % 2048) - 1024) / 64.0f;
        tables[static_cast<size_t>(t * entries + e)] = v;
        h[static_cast<size_t>(e)] = FloatToHalf(v);
      }
      SplitHalfTable(h.data(), entries, split.data() + t * 128);
    }
    for (int64_t cols : {64, 68, 576}) {
      const int64_t rows = 11, row_bytes = cols * bits / 8;
      std::vector<uint32_t> idx(static_cast<size_t>(rows * cols));
      for (uint32_t& i : idx) i = rng() % static_cast<uint32_t>(entries);
      std::vector<uint8_t> packed = Pack(idx, bits);
      std::vector<int64_t> row_table(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) row_table[static_cast<size_t>(r)] = (r / 4) * entries;
      std::vector<float> x(static_cast<size_t>(cols)), bias(static_cast<size_t>(rows));
      for (float& v : x) v = static_cast<float>(static_cast<int>(rng() % 9) - 4);
      for (float& v : bias) v = static_cast<float>(static_cast<int>(rng() % 9) - 4) / 8.0f;
      LutRows w;
      w.q = packed.data();
      w.row_bytes = row_bytes;
      w.split = split.data();
      w.tables = tables.data();
      w.row_table = row_table.data();
      w.palette_shift = bits;
      w.cols = cols;
      w.bits = bits;
      for (int64_t ahead : {1, 4, 100}) {
        const float* const biases[] = {nullptr, bias.data()};
        for (const float* b : biases) {
          std::vector<float> out(static_cast<size_t>(rows), -99.0f);
          DotLutSplitRows(w, x.data(), 2, rows - 1, ahead, b, out.data());
          for (int64_t r = 0; r < rows; ++r) {
            if (r < 2 || r >= rows - 1) {
              EXPECT_EQ(out[static_cast<size_t>(r)], -99.0f) << "row " << r << " outside the range";
              continue;
            }
            const int64_t t = row_table[static_cast<size_t>(r)];
            const float want =
                DotLutSplit(x.data(), packed.data() + r * row_bytes,
                            split.data() + (t >> bits) * 128, tables.data() + t, cols, bits) +
                (b != nullptr ? b[r] : 0.0f);
            EXPECT_EQ(out[static_cast<size_t>(r)], want)
                << bits << " bits, cols " << cols << ", row " << r << ", ahead " << ahead;
          }
        }
      }
    }
  }
}

TEST_P(RowKernelsTest, DotTileMatchesDoubleSums) {
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t k : {1, 15, 16, 17, 576, 1537}) {
    std::vector<float> x(static_cast<size_t>(4 * k)), w(static_cast<size_t>(4 * k));
    for (float& v : x) v = u(rng);
    for (float& v : w) v = u(rng);
    const float* rows[4] = {w.data(), w.data() + k, w.data() + 2 * k, w.data() + 3 * k};
    for (int64_t m = 1; m <= 4; ++m) {
      const int64_t ldo = 7;  // wider than the tile: only 4 columns of each row are written
      std::vector<float> out(static_cast<size_t>(m * ldo), -99.0f);
      DotTile(x.data(), m, rows, k, out.data(), ldo);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < 4; ++r) {
          double want = 0, mag = 0;
          for (int64_t c = 0; c < k; ++c) {
            double p = static_cast<double>(x[static_cast<size_t>(i * k + c)]) * rows[r][c];
            want += p;
            mag += std::fabs(p);
          }
          EXPECT_NEAR(out[static_cast<size_t>(i * ldo + r)], want, 1e-6 * (mag + 1.0))
              << "k " << k << " m " << m << " i " << i << " r " << r << " " << RowKernelPath();
        }
        for (int64_t r = 4; r < ldo; ++r) EXPECT_EQ(out[static_cast<size_t>(i * ldo + r)], -99.0f);
      }
    }
  }
}

TEST_P(RowKernelsTest, AxpyF16AddsScaledHalves) {
  for (int64_t n : {0, 1, 8, 15, 16, 17, 64, 100}) {
    std::vector<Half> y(static_cast<size_t>(n));
    std::vector<float> out(static_cast<size_t>(n)), want(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      y[static_cast<size_t>(i)] = FloatToHalf(static_cast<float>(i % 7) - 3.0f);
      out[static_cast<size_t>(i)] = static_cast<float>(i);
      want[static_cast<size_t>(i)] =
          static_cast<float>(i) + 0.5f * (static_cast<float>(i % 7) - 3.0f);
    }
    AxpyF16(0.5f, y.data(), out.data(), n);
    EXPECT_EQ(out, want) << n << " " << RowKernelPath();
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, RowKernelsTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "portable" : "best"; });

}  // namespace
}  // namespace anec::runtime
