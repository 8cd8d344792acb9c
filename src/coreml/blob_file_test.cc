#include "coreml/blob_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace anec::coreml {
namespace {

uint32_t U32At(const std::string& s, size_t off) {
  uint32_t v;
  std::memcpy(&v, s.data() + off, 4);
  return v;
}
uint64_t U64At(const std::string& s, size_t off) {
  uint64_t v;
  std::memcpy(&v, s.data() + off, 8);
  return v;
}
void SetU32(std::string& s, size_t off, uint32_t v) { std::memcpy(s.data() + off, &v, 4); }
void SetU64(std::string& s, size_t off, uint64_t v) { std::memcpy(s.data() + off, &v, 8); }

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::unique_ptr<BlobWriter> NewWriter(MemoryFileSystem& fs, const std::string& path) {
  auto f = fs.OpenForWrite(path);
  EXPECT_TRUE(f.ok());
  return std::make_unique<BlobWriter>(std::move(f).value());
}

// A file with one fp16 blob of 3 elements and one uint3 blob of 7 elements.
std::string TwoBlobFile(uint64_t* off1 = nullptr, uint64_t* off2 = nullptr) {
  MemoryFileSystem fs;
  auto w = NewWriter(fs, "/w.bin");
  const uint8_t fp16[6] = {0x00, 0x3C, 0x00, 0x40, 0x00, 0xC2};  // 1, 2, -3
  auto a = w->Add(BlobDType::kFloat16, fp16, 3);
  std::vector<uint8_t> vals = {0, 1, 2, 3, 4, 5, 7};
  auto packed = PackBits(vals, 3);
  auto b = w->Add(BlobDType::kUInt3, packed, 7);
  EXPECT_TRUE(a.ok() && b.ok());
  if (off1) *off1 = *a;
  if (off2) *off2 = *b;
  EXPECT_TRUE(w->Finish().ok());
  return fs.ReadFile("/w.bin").value();
}

TEST(BlobFileTest, HeaderAndMetadataLayoutByteForByte) {
  uint64_t off1, off2;
  std::string f = TwoBlobFile(&off1, &off2);
  // Header: count 2, version 2, zeros to 64.
  EXPECT_EQ(U32At(f, 0), 2u);
  EXPECT_EQ(U32At(f, 4), 2u);
  for (size_t i = 8; i < 64; ++i) EXPECT_EQ(f[i], 0) << "header byte " << i;
  // First blob metadata at 64, data at 128, 6 bytes.
  EXPECT_EQ(off1, 64u);
  EXPECT_EQ(U32At(f, 64), 0xDEADBEEFu);
  EXPECT_EQ(U32At(f, 68), 1u);  // fp16
  EXPECT_EQ(U64At(f, 72), 6u);
  EXPECT_EQ(U64At(f, 80), 128u);
  EXPECT_EQ(U64At(f, 88), 0u);
  for (size_t i = 96; i < 128; ++i) EXPECT_EQ(f[i], 0) << "metadata byte " << i;
  EXPECT_EQ(static_cast<uint8_t>(f[129]), 0x3C);
  // Zero gap up to 192, second blob there.
  for (size_t i = 134; i < 192; ++i) EXPECT_EQ(f[i], 0) << "gap byte " << i;
  EXPECT_EQ(off2, 192u);
  EXPECT_EQ(U32At(f, 192), 0xDEADBEEFu);
  EXPECT_EQ(U32At(f, 196), 12u);  // uint3
  EXPECT_EQ(U64At(f, 200), 3u);   // 21 bits -> 3 bytes
  EXPECT_EQ(U64At(f, 208), 256u);
  EXPECT_EQ(U64At(f, 216), 3u);  // 24 - 21 padding bits
  // Nothing after the last blob.
  EXPECT_EQ(f.size(), 256u + 3u);
  // coremltools' own blob writer, given the same two arrays, produced these packed uint3 bytes
  // and the same 259-byte file.
  EXPECT_EQ(static_cast<uint8_t>(f[256]), 0x88);
  EXPECT_EQ(static_cast<uint8_t>(f[257]), 0xC6);
  EXPECT_EQ(static_cast<uint8_t>(f[258]), 0x1E);
}

TEST(BlobFileTest, EmptyWriterWritesJustTheHeader) {
  MemoryFileSystem fs;
  auto w = NewWriter(fs, "/e.bin");
  ASSERT_TRUE(w->Finish().ok());
  std::string f = fs.ReadFile("/e.bin").value();
  ASSERT_EQ(f.size(), 64u);
  EXPECT_EQ(U32At(f, 0), 0u);
  EXPECT_EQ(U32At(f, 4), 2u);
  auto r = BlobReader::FromBytes(Bytes(f), "e.bin");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count(), 0u);
  EXPECT_TRUE(r->All().ok());
}

TEST(PackBitsTest, ThreeBitValuesStraddleBytes) {
  // 0b101 (5) at bits 0-2, 0b011 (3) at 3-5, 0b110 (6) at 6-8 straddles byte 0/1, 0b111 at 9-11.
  std::vector<uint8_t> vals = {5, 3, 6, 7};
  auto p = PackBits(vals, 3);
  ASSERT_EQ(p.size(), 2u);
  // byte0 = 5 | 3<<3 | (6&3)<<6 = 5 + 24 + 128 = 157; byte1 = 6>>2 | 7<<1 = 1 + 14 = 15
  EXPECT_EQ(p[0], 157);
  EXPECT_EQ(p[1], 15);
  EXPECT_EQ(UnpackBits(p, 3, 4), vals);
}

TEST(PackBitsTest, SixBitValuesStraddleBytes) {
  std::vector<uint8_t> vals = {0x3F, 0x01, 0x2A, 0x15};
  auto p = PackBits(vals, 6);
  ASSERT_EQ(p.size(), 3u);
  // bits: v0 0-5, v1 6-11, v2 12-17, v3 18-23
  EXPECT_EQ(p[0], 0x3F | ((0x01 & 0x3) << 6));         // 0x7F
  EXPECT_EQ(p[1], (0x01 >> 2) | ((0x2A & 0xF) << 4));  // 0xA0
  EXPECT_EQ(p[2], (0x2A >> 4) | (0x15 << 2));          // 0x56
  EXPECT_EQ(UnpackBits(p, 6, 4), vals);
}

TEST(PackBitsTest, FourAndOneBitOrderIsLsbFirst) {
  std::vector<uint8_t> nib = {0x1, 0xF, 0x8};
  auto p = PackBits(nib, 4);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], 0xF1);
  EXPECT_EQ(p[1], 0x08);
  std::vector<uint8_t> bits = {1, 0, 0, 0, 0, 0, 0, 1, 1};
  auto q = PackBits(bits, 1);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0], 0x81);
  EXPECT_EQ(q[1], 0x01);
}

TEST(PackBitsTest, RandomRoundTripEveryWidth) {
  std::mt19937 rng(7);
  for (int bits = 1; bits <= 8; ++bits) {
    for (size_t n : {1u, 2u, 7u, 8u, 9u, 63u, 1000u}) {
      std::vector<uint8_t> v(n);
      for (auto& x : v) x = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
      auto p = PackBits(v, bits);
      EXPECT_EQ(p.size(), (n * bits + 7) / 8);
      EXPECT_EQ(UnpackBits(p, bits, n), v) << "bits " << bits << " n " << n;
    }
  }
}

TEST(BlobFileTest, PaddingBitsForSubByteTypes) {
  struct Case {
    BlobDType t;
    uint64_t n;
    uint64_t size;
    uint64_t pad;
  };
  const Case cases[] = {
      {BlobDType::kUInt6, 1, 1, 2},   {BlobDType::kUInt6, 2, 2, 4}, {BlobDType::kUInt6, 3, 3, 6},
      {BlobDType::kUInt6, 4, 3, 0},   {BlobDType::kUInt3, 8, 3, 0}, {BlobDType::kUInt3, 5, 2, 1},
      {BlobDType::kUInt1, 13, 2, 3},  {BlobDType::kInt4, 3, 2, 4},  {BlobDType::kUInt2, 5, 2, 6},
      {BlobDType::kFloat16, 3, 6, 0},
  };
  for (const Case& c : cases) {
    MemoryFileSystem fs;
    auto w = NewWriter(fs, "/p.bin");
    std::vector<uint8_t> data(c.size, 0xA5);
    data.back() &= static_cast<uint8_t>(0xFF >> c.pad);
    auto off = w->Add(c.t, data, c.n);
    ASSERT_TRUE(off.ok()) << off.status().ToString();
    ASSERT_TRUE(w->Finish().ok());
    std::string f = fs.ReadFile("/p.bin").value();
    EXPECT_EQ(U64At(f, 72), c.size) << BlobDTypeName(c.t) << " n=" << c.n;
    EXPECT_EQ(U64At(f, 88), c.pad) << BlobDTypeName(c.t) << " n=" << c.n;
    auto r = BlobReader::FromBytes(Bytes(f), "p.bin");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->Get(64, c.t, c.n).ok());
    EXPECT_FALSE(r->Get(64, c.t, c.n + 1).ok());
  }
}

TEST(BlobFileTest, AddRejectsSizeNotMatchingElementCount) {
  MemoryFileSystem fs;
  auto w = NewWriter(fs, "/x.bin");
  std::vector<uint8_t> d(5);
  auto r = w->Add(BlobDType::kFloat16, d, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("6 bytes"), std::string::npos) << r.status().message();
  // Absurd count: no overflow, clear error.
  EXPECT_FALSE(w->Add(BlobDType::kFloat32, d, uint64_t{1} << 63).ok());
  // The writer is still usable after an argument error.
  std::vector<uint8_t> ok(6);
  EXPECT_TRUE(w->Add(BlobDType::kFloat16, ok, 3).ok());
  EXPECT_TRUE(w->Finish().ok());
}

// Round trip through the reader for every dtype, with values unique enough to catch shifts.
TEST(BlobFileTest, RoundTripEveryDType) {
  const BlobDType all[] = {BlobDType::kFloat16, BlobDType::kFloat32, BlobDType::kBFloat16,
                           BlobDType::kInt8,    BlobDType::kUInt8,   BlobDType::kInt16,
                           BlobDType::kUInt16,  BlobDType::kInt32,   BlobDType::kUInt32,
                           BlobDType::kInt4,    BlobDType::kUInt1,   BlobDType::kUInt2,
                           BlobDType::kUInt3,   BlobDType::kUInt4,   BlobDType::kUInt6};
  MemoryFileSystem fs;
  auto w = NewWriter(fs, "/all.bin");
  std::mt19937 rng(42);
  struct Written {
    BlobDType t;
    uint64_t n;
    uint64_t off;
    std::vector<uint8_t> values, bytes;
  };
  std::vector<Written> written;
  for (BlobDType t : all) {
    const int bits = BlobDTypeBits(t);
    const uint64_t n = 37;  // odd count: sub-byte types end mid-byte
    Written x{t, n, 0, {}, {}};
    if (bits < 8) {
      for (uint64_t i = 0; i < n; ++i)
        x.values.push_back(static_cast<uint8_t>(rng() % (1u << bits)));
      x.bytes = PackBits(x.values, bits);
    } else {
      for (uint64_t i = 0; i < n * bits / 8; ++i) x.bytes.push_back(static_cast<uint8_t>(rng()));
    }
    auto off = w->Add(t, x.bytes, n);
    ASSERT_TRUE(off.ok()) << BlobDTypeName(t) << ": " << off.status().ToString();
    x.off = *off;
    written.push_back(std::move(x));
  }
  EXPECT_EQ(w->num_blobs(), 15u);
  ASSERT_TRUE(w->Finish().ok());
  ASSERT_TRUE(BlobReader::Open(&fs, "/all.bin").ok());
  auto r = BlobReader::Open(&fs, "/all.bin").value();
  EXPECT_EQ(r.count(), 15u);
  for (const Written& x : written) {
    auto b = r.Get(x.off, x.t, x.n);
    ASSERT_TRUE(b.ok()) << BlobDTypeName(x.t) << ": " << b.status().ToString();
    EXPECT_EQ(std::vector<uint8_t>(b->data.begin(), b->data.end()), x.bytes) << BlobDTypeName(x.t);
    if (!x.values.empty()) {
      EXPECT_EQ(UnpackBits(b->data, BlobDTypeBits(x.t), x.n), x.values) << BlobDTypeName(x.t);
    }
    EXPECT_EQ(b->data_offset % 64, 0u);
  }
  auto blobs = r.All();
  ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
  ASSERT_EQ(blobs->size(), 15u);
  for (size_t i = 0; i < 15; ++i) EXPECT_EQ((*blobs)[i].metadata_offset, written[i].off);
}

TEST(BlobFileTest, IdenticalBlobIsStoredOnce) {
  MemoryFileSystem fs;
  auto w = NewWriter(fs, "/d.bin");
  std::vector<uint8_t> a(1000);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 7);
  auto first = w->Add(BlobDType::kFloat16, a, 500);
  ASSERT_TRUE(first.ok());
  const uint64_t size_after_first = w->bytes_written();
  auto second = w->Add(BlobDType::kFloat16, a, 500);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(w->bytes_written(), size_after_first);
  EXPECT_EQ(w->bytes_deduplicated(), 1000u);
  EXPECT_EQ(w->num_blobs(), 1u);
  // Same bytes, other dtype or count: a different blob.
  auto as_int8 = w->Add(BlobDType::kInt8, a, 1000);
  auto as_bf16 = w->Add(BlobDType::kBFloat16, a, 500);
  ASSERT_TRUE(as_int8.ok() && as_bf16.ok());
  EXPECT_NE(*as_int8, *first);
  EXPECT_NE(*as_bf16, *first);
  // One byte changed at the end (past the last whole 8-byte word): a different blob.
  std::vector<uint8_t> b = a;
  b.back() ^= 1;
  auto changed = w->Add(BlobDType::kFloat16, b, 500);
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*changed, *first);
  EXPECT_EQ(w->num_blobs(), 4u);
  ASSERT_TRUE(w->Finish().ok());
  EXPECT_EQ(fs.FileSize("/d.bin").value(), w->bytes_written());
  auto r = BlobReader::Open(&fs, "/d.bin");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count(), 4u);
  EXPECT_EQ(r->All()->size(), 4u);
}

// Two functions (prefill and infer) adding the same weights share the blobs; their own
// constants get new ones.
TEST(BlobFileTest, MultiFunctionSharingPointsAtOneBlob) {
  MemoryFileSystem fs;
  auto w = NewWriter(fs, "/m.bin");
  std::vector<std::vector<uint8_t>> weights;
  for (int k = 0; k < 3; ++k) {
    weights.emplace_back(256);
    for (size_t i = 0; i < 256; ++i) weights[k][i] = static_cast<uint8_t>(i * (k + 3));
  }
  std::vector<uint64_t> infer, prefill;
  for (auto& wt : weights) infer.push_back(w->Add(BlobDType::kFloat16, wt, 128).value());
  std::vector<uint8_t> infer_mask(64, 1), prefill_mask(64, 2);
  uint64_t m1 = w->Add(BlobDType::kFloat16, infer_mask, 32).value();
  for (auto& wt : weights) prefill.push_back(w->Add(BlobDType::kFloat16, wt, 128).value());
  uint64_t m2 = w->Add(BlobDType::kFloat16, prefill_mask, 32).value();
  EXPECT_EQ(infer, prefill);
  EXPECT_NE(m1, m2);
  EXPECT_EQ(w->num_blobs(), 5u);
  EXPECT_EQ(w->bytes_deduplicated(), 3u * 256u);
  ASSERT_TRUE(w->Finish().ok());
  EXPECT_EQ(U32At(fs.ReadFile("/m.bin").value(), 0), 5u);
}

TEST(BlobFileTest, AbandonedWriterLeavesNoFile) {
  MemoryFileSystem fs;
  {
    auto w = NewWriter(fs, "/a.bin");
    std::vector<uint8_t> d(4);
    ASSERT_TRUE(w->Add(BlobDType::kFloat32, d, 1).ok());
    w->Abandon();
    EXPECT_FALSE(w->Add(BlobDType::kFloat32, d, 1).ok());
    EXPECT_FALSE(w->Finish().ok());
  }
  EXPECT_FALSE(fs.Exists("/a.bin"));
  { auto w = NewWriter(fs, "/b.bin"); }  // destroyed unfinished
  EXPECT_FALSE(fs.Exists("/b.bin"));
}

// ---- hostile input ----

TEST(BlobReaderTest, EmptyAndTruncatedHeader) {
  std::string empty;
  auto r = BlobReader::FromBytes(Bytes(empty), "empty.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("empty.bin"), std::string::npos);
  std::string f = TwoBlobFile();
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(f.substr(0, 63)), "t").ok());
}

TEST(BlobReaderTest, WrongVersion) {
  std::string f = TwoBlobFile();
  SetU32(f, 4, 1);
  auto r = BlobReader::FromBytes(Bytes(f), "v.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version 1"), std::string::npos);
}

TEST(BlobReaderTest, AbsurdCountIsRejectedWithoutAllocating) {
  std::string f = TwoBlobFile();
  SetU32(f, 0, 0xFFFFFFFF);
  auto r = BlobReader::FromBytes(Bytes(f), "c.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  // A count a little too large passes the size bound but All() reports it.
  SetU32(f, 0, 3);
  auto r3 = BlobReader::FromBytes(Bytes(f), "c.bin");
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3->All().ok());
  SetU32(f, 0, 1);  // too small: bytes follow the last counted blob
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(f), "c.bin")->All().ok());
}

TEST(BlobReaderTest, TruncatedFileFailsOnGet) {
  uint64_t off1, off2;
  std::string f = TwoBlobFile(&off1, &off2);
  std::string cut = f.substr(0, f.size() - 1);
  auto r = BlobReader::FromBytes(Bytes(cut), "cut.bin");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Get(off1).ok());
  auto b = r->Get(off2);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("past the end"), std::string::npos) << b.status().message();
  EXPECT_FALSE(r->All().ok());
}

TEST(BlobReaderTest, WrongSentinel) {
  std::string f = TwoBlobFile();
  SetU32(f, 64, 0xDEADBEEE);
  auto r = BlobReader::FromBytes(Bytes(f), "s.bin");
  auto b = r->Get(64);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("0xDEADBEEE"), std::string::npos) << b.status().message();
}

TEST(BlobReaderTest, OffsetsOutOfRangeOrMisaligned) {
  std::string f = TwoBlobFile();
  auto r = BlobReader::FromBytes(Bytes(f), "o.bin").value();
  EXPECT_FALSE(r.Get(0).ok());                // the header is not a blob
  EXPECT_FALSE(r.Get(100).ok());              // misaligned
  EXPECT_FALSE(r.Get(1 << 20).ok());          // past end
  EXPECT_FALSE(r.Get(UINT64_MAX - 63).ok());  // aligned, overflow-prone
  // Data offset fields: misaligned, past the end, before the metadata, absurd size.
  std::string g = f;
  SetU64(g, 80, 130);
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "o").value().Get(64).ok());
  g = f;
  SetU64(g, 80, 1 << 20);
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "o").value().Get(64).ok());
  g = f;
  SetU64(g, 80, 64);
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "o").value().Get(64).ok());
  g = f;
  SetU64(g, 72, uint64_t{1} << 63);
  auto big = BlobReader::FromBytes(Bytes(g), "o").value().Get(64);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("past the end"), std::string::npos);
}

TEST(BlobReaderTest, BadDTypeCodeAndMismatch) {
  uint64_t off1, off2;
  std::string f = TwoBlobFile(&off1, &off2);
  std::string g = f;
  SetU32(g, 68, 16);
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "d").value().Get(64).ok());
  SetU32(g, 68, 0);
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "d").value().Get(64).ok());
  auto r = BlobReader::FromBytes(Bytes(f), "d.bin").value();
  auto m = r.Get(off1, BlobDType::kFloat32, 3);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("holds fp16"), std::string::npos) << m.status().message();
  EXPECT_FALSE(r.Get(off1, BlobDType::kFloat16, 4).ok());
  EXPECT_FALSE(r.Get(off1, BlobDType::kFloat16, uint64_t{1} << 63).ok());
  EXPECT_TRUE(r.Get(off2, BlobDType::kUInt3, 7).ok());
  EXPECT_FALSE(r.Get(off2, BlobDType::kUInt3, 8).ok());  // 8*3 = 24 bits: same bytes, pad 0
}

TEST(BlobReaderTest, InconsistentPaddingBits) {
  uint64_t off2;
  std::string f = TwoBlobFile(nullptr, &off2);
  std::string g = f;
  SetU64(g, off2 + 24, 2);  // 24-2 = 22 bits: not a whole number of 3-bit values
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "p").value().Get(off2).ok());
  SetU64(g, off2 + 24, 9);
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "p").value().Get(off2).ok());
  g = f;
  SetU64(g, 88, 4);  // byte-sized dtype with padding
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "p").value().Get(64).ok());
  g = f;
  SetU64(g, 72, 5);  // fp16 blob of an odd byte count
  EXPECT_FALSE(BlobReader::FromBytes(Bytes(g), "p").value().Get(64).ok());
}

// Random byte flips and truncations: every lookup either fails or returns data inside the file.
TEST(BlobReaderTest, MutatedFilesNeverReadOutside) {
  const std::string good = TwoBlobFile();
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string f = good;
    for (int k = 0, flips = 1 + static_cast<int>(rng() % 4); k < flips; ++k) {
      f[rng() % f.size()] = static_cast<char>(rng());
    }
    if (iter % 5 == 0) f.resize(rng() % (f.size() + 1));
    auto r = BlobReader::FromBytes(Bytes(f), "fuzz");
    if (!r.ok()) continue;
    const uint8_t* begin = reinterpret_cast<const uint8_t*>(f.data());
    for (uint64_t off = 0; off <= f.size() + 64; off += 64) {
      auto b = r->Get(off);
      if (!b.ok()) continue;
      ++accepted;
      EXPECT_GE(b->data.data(), begin);
      EXPECT_LE(b->data.data() + b->data.size(), begin + f.size());
    }
    (void)r->All();
  }
  EXPECT_GT(accepted, 0);  // the mutations leave some blobs intact, so lookups were exercised
}

TEST(BlobReaderTest, OpenMissingFileNamesIt) {
  MemoryFileSystem fs;
  auto r = BlobReader::Open(&fs, "/nope/weight.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nope/weight.bin"), std::string::npos);
}

TEST(BlobDTypeTest, MilTypeMapping) {
  EXPECT_EQ(BlobDTypeForMilDataType(10), BlobDType::kFloat16);
  EXPECT_EQ(BlobDTypeForMilDataType(39), BlobDType::kUInt3);
  EXPECT_EQ(BlobDTypeForMilDataType(25), BlobDType::kInt4);
  EXPECT_EQ(BlobDTypeForMilDataType(24), std::nullopt);  // int64
  EXPECT_FALSE(IsValidBlobDType(0));
  EXPECT_FALSE(IsValidBlobDType(16));
  EXPECT_EQ(BlobDTypeBits(BlobDType::kUInt6), 6);
}

}  // namespace
}  // namespace anec::coreml
