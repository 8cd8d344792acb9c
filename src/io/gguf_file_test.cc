#include "io/gguf_file.h"

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "io/gguf_dequant.h"

namespace anec::io {
namespace {

std::string FixturePath(const std::string& name) {
  const char* root = std::getenv("ANEC_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/gguf/" + name;
}

// Builds GGUF bytes by hand, for hostile-input tests.
class Builder {
 public:
  template <typename T>
  Builder& Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
    return *this;
  }
  Builder& Str(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  Builder& PadTo(size_t align) {
    while (bytes.size() % align) bytes.push_back(0);
    return *this;
  }
  std::vector<uint8_t> bytes;
};

// A valid file: one u32 KV, one F32 tensor [4] at offset 0.
Builder Minimal(uint32_t tensor_type = 0, uint64_t offset = 0, uint64_t dim = 4) {
  Builder b;
  b.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(1).Put<uint64_t>(1);
  b.Str("general.alignment").Put<uint32_t>(4).Put<uint32_t>(32);
  b.Str("w").Put<uint32_t>(1).Put<uint64_t>(dim).Put<uint32_t>(tensor_type).Put<uint64_t>(offset);
  b.PadTo(32);
  for (int i = 0; i < 4; ++i) b.Put<float>(static_cast<float>(i) + 0.5f);
  return b;
}

Status Parse(const std::vector<uint8_t>& bytes) {
  return GgufFile::FromBytes(bytes, "test.gguf").status();
}

TEST(GgufFileTest, MinimalParses) {
  Builder b = Minimal();
  auto f = GgufFile::FromBytes(b.bytes, "test.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 1u);
  auto data = DequantizeTensor(*f, f->tensors()[0]);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f}));
}

TEST(GgufFileTest, EveryMetadataType) {
  auto f = GgufFile::Open(RealFileSystem(), FixturePath("all_types.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(*f->GetInt("test.u8"), 200);
  EXPECT_EQ(*f->GetInt("test.i8"), -100);
  EXPECT_EQ(*f->GetInt("test.u16"), 60000);
  EXPECT_EQ(*f->GetInt("test.i16"), -30000);
  EXPECT_EQ(*f->GetInt("test.u32"), 4000000000);
  EXPECT_EQ(*f->GetInt("test.i32"), -2000000000);
  EXPECT_EQ(*f->GetFloat("test.f32"), 0.125);
  EXPECT_EQ(*f->GetInt("test.bool"), 1);
  EXPECT_EQ(*f->GetString("test.string"), "héllo wörld ✓");
  EXPECT_FALSE(f->GetInt("test.u64").ok());  // 2^63 + 5 does not fit int64: an error, not a wrap
  EXPECT_EQ(*f->GetInt("test.i64"), -(int64_t{1} << 40));
  EXPECT_DOUBLE_EQ(*f->GetFloat("test.f64"), 1.0 / 3.0);
  EXPECT_EQ(*f->GetIntArray("test.array_i32"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f->GetStringArray("test.array_str"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(*f->GetFloatArray("test.array_f32"), (std::vector<double>{0.5, -1.5}));
  auto missing = f->GetInt("nope");
  EXPECT_NE(missing.status().message().find("'nope' is missing"), std::string::npos);
  EXPECT_FALSE(f->GetString("test.u8").ok());
}

// Every tensor type dequantizes bit-exactly as the gguf package (llama.cpp's reference) does.
TEST(GgufFileTest, DequantizationMatchesReference) {
  auto f = GgufFile::Open(RealFileSystem(), FixturePath("all_types.gguf"));
  auto e = GgufFile::Open(RealFileSystem(), FixturePath("expected.gguf"));
  ASSERT_TRUE(f.ok() && e.ok());
  int checked = 0;
  for (const GgufTensorInfo& t : f->tensors()) {
    const GgufTensorInfo* ref = e->FindTensor(t.name);
    ASSERT_NE(ref, nullptr) << t.name;
    EXPECT_EQ(t.shape(), ref->shape()) << t.name;
    auto got = DequantizeTensor(*f, t);
    auto want = DequantizeTensor(*e, *ref);
    ASSERT_TRUE(got.ok() && want.ok());
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i) {
      ASSERT_EQ((*got)[i], (*want)[i]) << t.name << " element " << i << " type " << GgmlTypeName(t.type);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 15);  // 10 block types + F32, F16, I8, I32, BF16
}

TEST(GgufFileTest, BadMagicAndVersion) {
  Builder b = Minimal();
  b.bytes[0] = 'X';
  EXPECT_NE(Parse(b.bytes).message().find("not a GGUF file"), std::string::npos);
  Builder v = Minimal();
  v.bytes[4] = 1;
  EXPECT_NE(Parse(v.bytes).message().find("version 1 is not supported"), std::string::npos);
}

TEST(GgufFileTest, EveryTruncationIsAnError) {
  auto full = RealFileSystem()->ReadFile(FixturePath("all_types.gguf"));
  ASSERT_TRUE(full.ok());
  std::vector<uint8_t> bytes(full->begin(), full->end());
  for (size_t n = 0; n < bytes.size(); n += (n < 2048 ? 1 : 61)) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_FALSE(Parse(prefix).ok()) << "prefix of " << n << " bytes parsed";
  }
}

TEST(GgufFileTest, AbsurdCountsAreRejectedWithoutAllocating) {
  Builder b;
  b.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(~uint64_t{0}).Put<uint64_t>(0);
  EXPECT_NE(Parse(b.bytes).message().find("tensor count"), std::string::npos);
  Builder k;
  k.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(0).Put<uint64_t>(uint64_t{1} << 60);
  EXPECT_NE(Parse(k.bytes).message().find("metadata count"), std::string::npos);
  // A string claiming 2^62 bytes.
  Builder s;
  s.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(0).Put<uint64_t>(1);
  s.Put<uint64_t>(uint64_t{1} << 62);
  s.bytes.resize(s.bytes.size() + 64, 0);
  EXPECT_NE(Parse(s.bytes).message().find("claims a string"), std::string::npos);
  // An array claiming 2^61 elements.
  Builder a;
  a.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(0).Put<uint64_t>(1);
  a.Str("arr").Put<uint32_t>(9).Put<uint32_t>(4).Put<uint64_t>(uint64_t{1} << 61);
  a.bytes.resize(a.bytes.size() + 64, 0);
  EXPECT_NE(Parse(a.bytes).message().find("claims"), std::string::npos);
}

TEST(GgufFileTest, TensorErrors) {
  EXPECT_NE(Parse(Minimal(/*tensor_type=*/99).bytes).message().find("ggml type 99"), std::string::npos);
  EXPECT_NE(Parse(Minimal(0, /*offset=*/64).bytes).message().find("beyond the end"), std::string::npos);
  EXPECT_NE(Parse(Minimal(0, /*offset=*/4).bytes).message().find("not aligned"), std::string::npos);
  EXPECT_NE(Parse(Minimal(0, 0, /*dim=*/uint64_t{1} << 50).bytes).message().find("impossible dimension"),
            std::string::npos);
  // Q4_0 needs rows that are multiples of 32.
  EXPECT_NE(Parse(Minimal(2).bytes).message().find("block size"), std::string::npos);
}

TEST(GgufFileTest, DuplicateKeyAndUnknownValueType) {
  Builder b;
  b.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(0).Put<uint64_t>(2);
  b.Str("k").Put<uint32_t>(4).Put<uint32_t>(1);
  b.Str("k").Put<uint32_t>(4).Put<uint32_t>(2);
  EXPECT_NE(Parse(b.bytes).message().find("appears twice"), std::string::npos);
  Builder u;
  u.Put<uint32_t>(0x46554747).Put<uint32_t>(3).Put<uint64_t>(0).Put<uint64_t>(1);
  u.Str("k").Put<uint32_t>(13).Put<uint32_t>(1);
  EXPECT_NE(Parse(u.bytes).message().find("unknown value type 13"), std::string::npos);
}

TEST(GgufFileTest, IsValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9 \xE2\x96\x81 \xF0\x9F\x99\x82"));  // é ▁ 🙂
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 11)));
  EXPECT_FALSE(IsValidUtf8("\x80"));              // a lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC4 "));             // lead byte, then no continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

}  // namespace
}  // namespace anec::io
