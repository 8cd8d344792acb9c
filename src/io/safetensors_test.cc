#include "io/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"

namespace anec::io {
namespace {

using ::testing::HasSubstr;

// A file from a raw header string and data bytes, for hand-made (often broken) files.
std::string Raw(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

SafetensorsEntry Entry(const std::string& name, TensorDType dtype, std::vector<int64_t> shape,
                       uint8_t fill) {
  SafetensorsEntry e;
  e.info.name = name;
  e.info.dtype = dtype;
  e.info.shape = std::move(shape);
  e.data.resize(static_cast<size_t>(e.info.num_elements()) * TensorDTypeSize(dtype));
  for (size_t i = 0; i < e.data.size(); ++i) e.data[i] = static_cast<uint8_t>(fill + i);
  return e;
}

Status OpenStatus(MemoryFileSystem& fs, const std::string& path) {
  auto r = SafetensorsSource::OpenFile(&fs, path);
  return r.ok() ? Status::Ok() : r.status();
}

TEST(SafetensorsTest, RoundTripsEveryDTypeAndMetadata) {
  std::vector<SafetensorsEntry> entries = {
      Entry("z.f32", TensorDType::kF32, {2, 3}, 1),   Entry("a.f16", TensorDType::kF16, {5}, 2),
      Entry("m.bf16", TensorDType::kBF16, {1, 4}, 3), Entry("i8", TensorDType::kI8, {3}, 4),
      Entry("u8", TensorDType::kU8, {2, 2}, 5),       Entry("i32", TensorDType::kI32, {2}, 6),
      Entry("i64", TensorDType::kI64, {1}, 7),        Entry("f64", TensorDType::kF64, {2}, 8),
      Entry("flags", TensorDType::kBool, {3}, 9),     Entry("scalar", TensorDType::kF32, {}, 10),
      Entry("empty", TensorDType::kF32, {0, 4}, 11),
  };
  MemoryFileSystem fs;
  fs.SetFile("/m/model.safetensors", EncodeSafetensors(entries, {{"format", "pt"}}));
  auto file = SafetensorsFile::Open(&fs, "/m/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  std::vector<TensorInfo> list = (*file)->List();
  ASSERT_EQ(list.size(), entries.size());
  EXPECT_EQ(list.front().name, "a.f16");  // sorted by name
  EXPECT_EQ(list.back().name, "z.f32");

  auto mapped = fs.Map("/m/model.safetensors");
  ASSERT_TRUE(mapped.ok());
  std::span<const uint8_t> whole = (*mapped)->bytes();
  for (const SafetensorsEntry& e : entries) {
    auto t = (*file)->Read(e.info.name);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->info.dtype, e.info.dtype) << e.info.name;
    EXPECT_EQ(t->info.shape, e.info.shape) << e.info.name;
    ASSERT_EQ(t->data.size(), e.data.size()) << e.info.name;
    EXPECT_TRUE(std::equal(t->data.begin(), t->data.end(), e.data.begin())) << e.info.name;
    EXPECT_TRUE(t->owned.empty());
    if (!e.data.empty()) {
      // Zero-copy: the bytes are inside the mapped file.
      EXPECT_GE(t->data.data(), whole.data());
      EXPECT_LE(t->data.data() + t->data.size(), whole.data() + whole.size());
    }
  }
  EXPECT_EQ((*file)->Info("nope").status().code(), StatusCode::kNotFound);
}

TEST(SafetensorsTest, WriterFinishesAtomicallyAndAbandons) {
  MemoryFileSystem fs;
  SafetensorsWriter w(&fs, "/out/x.safetensors");
  SafetensorsEntry e = Entry("w", TensorDType::kF32, {2}, 0);
  ASSERT_TRUE(w.Add(e.info, e.data).ok());
  EXPECT_THAT(w.Add(e.info, e.data).message(), HasSubstr("added twice"));
  TensorInfo bad = e.info;
  bad.name = "v";
  bad.shape = {3};
  EXPECT_THAT(w.Add(bad, e.data).message(), HasSubstr("has 8 bytes, expected 12"));
  EXPECT_FALSE(fs.Exists("/out/x.safetensors"));
  ASSERT_TRUE(w.Finish().ok());
  auto src = SafetensorsSource::OpenFile(&fs, "/out/x.safetensors");
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->List().size(), 1u);
  EXPECT_FALSE(w.Finish().ok());

  SafetensorsWriter dropped(&fs, "/out/y.safetensors");
  ASSERT_TRUE(dropped.Add(e.info, e.data).ok());
  dropped.Abandon();
  EXPECT_FALSE(fs.Exists("/out/y.safetensors"));
}

TEST(SafetensorsTest, DataIsEightByteAligned) {
  std::string bytes = EncodeSafetensors({Entry("abc", TensorDType::kF32, {1}, 0)});
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 4);
}

TEST(SafetensorsTest, RejectsFileShorterThanLengthField) {
  MemoryFileSystem fs;
  fs.SetFile("/t.safetensors", "abc");
  Status s = OpenStatus(fs, "/t.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("/t.safetensors: file is 3 bytes"));
}

TEST(SafetensorsTest, RejectsHeaderLengthPastEnd) {
  MemoryFileSystem fs;
  std::string f = Raw("{}");
  f[0] = 100;  // claims a 100-byte header in a 10-byte file
  fs.SetFile("/t.safetensors", f);
  Status s = OpenStatus(fs, "/t.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("header length 100 runs past the end"));
  // A huge length must not overflow the bounds check.
  std::string huge(8, '\xff');
  fs.SetFile("/h.safetensors", huge + "{}");
  EXPECT_THAT(OpenStatus(fs, "/h.safetensors").message(), HasSubstr("runs past the end"));
}

TEST(SafetensorsTest, RejectsMalformedJson) {
  MemoryFileSystem fs;
  fs.SetFile("/t.safetensors", Raw("{\"w\": {\"dtype\": \"F32\","));
  Status s = OpenStatus(fs, "/t.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("/t.safetensors: the 22-byte header is not valid JSON"));
  fs.SetFile("/a.safetensors", Raw("[1, 2]"));
  EXPECT_THAT(OpenStatus(fs, "/a.safetensors").message(), HasSubstr("must be an object"));
}

TEST(SafetensorsTest, RejectsMissingOrMistypedFields) {
  MemoryFileSystem fs;
  fs.SetFile("/a.safetensors", Raw(R"({"w": {"dtype": "F32", "shape": [1]}})", "xxxx"));
  EXPECT_THAT(OpenStatus(fs, "/a.safetensors").message(),
              HasSubstr("tensor w: expected an object with dtype, shape and data_offsets"));
  fs.SetFile("/b.safetensors",
             Raw(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "xxxx"));
  EXPECT_THAT(OpenStatus(fs, "/b.safetensors").message(),
              HasSubstr("tensor w: shape [-1] has an entry that is not a non-negative integer"));
  fs.SetFile("/c.safetensors",
             Raw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", "xxxx"));
  EXPECT_THAT(OpenStatus(fs, "/c.safetensors").message(), HasSubstr("begin <= end"));
  fs.SetFile("/d.safetensors",
             Raw(R"({"w": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}})", "xxxx"));
  EXPECT_THAT(OpenStatus(fs, "/d.safetensors").message(), HasSubstr("tensor w: dtype is JSON"));
}

TEST(SafetensorsTest, RejectsOffsetsOutOfRange) {
  MemoryFileSystem fs;
  fs.SetFile("/t.safetensors",
             Raw(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", "xxxx"));
  Status s = OpenStatus(fs, "/t.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("/t.safetensors: tensor w: data_offsets [0, 8] run past the "
                                     "end of the data section (4 bytes)"));
}

TEST(SafetensorsTest, RejectsOverlappingTensors) {
  MemoryFileSystem fs;
  fs.SetFile("/t.safetensors",
             Raw(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                 R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                 std::string(8, 'x')));
  Status s = OpenStatus(fs, "/t.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("tensors a (bytes [0, 8)) and b (bytes [4, 8)) overlap"));
}

TEST(SafetensorsTest, RejectsDTypeTimesShapeNotMatchingLength) {
  MemoryFileSystem fs;
  fs.SetFile("/t.safetensors",
             Raw(R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}})",
                 std::string(8, 'x')));
  Status s = OpenStatus(fs, "/t.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("tensor w: dtype BF16 x shape [2, 3] needs 12 bytes but "
                                     "data_offsets [0, 8] hold 8"));
  // A shape whose byte count overflows 64 bits must not wrap to a small number.
  fs.SetFile("/o.safetensors", Raw(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], )"
                                   R"("data_offsets": [0, 0]}})"));
  EXPECT_THAT(OpenStatus(fs, "/o.safetensors").message(), HasSubstr("more than 2^64"));
}

// tests/fuzz/regressions/safetensors/: a zero last let a shape whose other
// dimensions multiply past int64_t through, and TensorInfo::num_elements() then overflowed.
// A deeply nested shape overflowed the stack while the message was written.
TEST(SafetensorsTest, RejectsShapesThatOverflowOrNestDeeply) {
  MemoryFileSystem fs;
  fs.SetFile("/e.safetensors", Raw(R"({"w": {"dtype": "U8", "shape": [4294967296, 2147483649, 0], )"
                                   R"("data_offsets": [0, 0]}})"));
  Status s = OpenStatus(fs, "/e.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("tensor w: the dimensions of shape [4294967296,2147483649,0] "
                                     "multiply past 2^63"));
  // Zero-sized tensors with sane shapes still open.
  fs.SetFile("/z.safetensors", Raw(R"({"w": {"dtype": "U8", "shape": [4294967296, 0], )"
                                   R"("data_offsets": [0, 0]}})"));
  EXPECT_TRUE(OpenStatus(fs, "/z.safetensors").ok());
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  fs.SetFile("/d.safetensors",
             Raw(R"({"w": {"dtype": "U8", "shape": )" + deep + R"(, "data_offsets": [0, 0]}})"));
  EXPECT_THAT(OpenStatus(fs, "/d.safetensors").message(), HasSubstr("<array nested more than"));
  fs.SetFile("/o.safetensors",
             Raw(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": )" + deep + "}}"));
  EXPECT_THAT(OpenStatus(fs, "/o.safetensors").message(), HasSubstr("data_offsets <array"));
}

TEST(SafetensorsTest, RejectsUnknownDType) {
  MemoryFileSystem fs;
  fs.SetFile("/t.safetensors",
             Raw(R"({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}})", "x"));
  Status s = OpenStatus(fs, "/t.safetensors");
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("/t.safetensors: tensor w: unknown dtype \"F8_E4M3\""));
}

TEST(SafetensorsTest, MetadataAllowedButMustHoldStrings) {
  MemoryFileSystem fs;
  fs.SetFile("/ok.safetensors", Raw(R"({"__metadata__": {"format": "pt"}})"));
  auto ok = SafetensorsFile::Open(&fs, "/ok.safetensors");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE((*ok)->List().empty());
  fs.SetFile("/bad.safetensors", Raw(R"({"__metadata__": {"n": 3}})"));
  EXPECT_THAT(OpenStatus(fs, "/bad.safetensors").message(),
              HasSubstr("__metadata__ entry \"n\" is JSON number, expected a string"));
}

// Hostile bytes: every single-byte corruption of a valid file either opens (and then every
// tensor reads within the file) or fails with an error; it never crashes (run under ASan).
TEST(SafetensorsTest, CorruptedBytesNeverCrash) {
  const std::string good = EncodeSafetensors(
      {Entry("a", TensorDType::kF32, {2, 2}, 1), Entry("b", TensorDType::kBF16, {3}, 2)},
      {{"format", "pt"}});
  const char replacements[] = {'\0', '\xff', '"', '9', '-', ']', '}', ','};
  int opened = 0, rejected = 0;
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (char c : replacements) {
      if (good[pos] == c) continue;
      std::string bad = good;
      bad[pos] = c;
      MemoryFileSystem fs;
      fs.SetFile("/x.safetensors", bad);
      auto f = SafetensorsFile::Open(&fs, "/x.safetensors");
      if (!f.ok()) {
        ++rejected;
        EXPECT_THAT(f.status().message(), HasSubstr("/x.safetensors"));
        continue;
      }
      ++opened;
      for (const TensorInfo& info : (*f)->List()) {
        auto t = (*f)->Read(info.name);
        ASSERT_TRUE(t.ok());
        EXPECT_EQ(t->data.size(),
                  static_cast<size_t>(info.num_elements()) * TensorDTypeSize(info.dtype));
      }
    }
  }
  EXPECT_GT(rejected, 100);  // header damage is caught
  EXPECT_GT(opened, 10);     // data-byte damage is not a format error
}

// ---- Sharded checkpoints ----

void WriteShards(MemoryFileSystem& fs) {
  fs.SetFile("/ck/model-00001-of-00002.safetensors",
             EncodeSafetensors(
                 {Entry("a", TensorDType::kF32, {2}, 1), Entry("b", TensorDType::kF16, {3}, 2)}));
  fs.SetFile("/ck/model-00002-of-00002.safetensors",
             EncodeSafetensors({Entry("c", TensorDType::kBF16, {4}, 3)}));
}

const char kIndex[] = R"({"metadata": {"total_size": 22}, "weight_map": {
  "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
  "c": "model-00002-of-00002.safetensors"}})";

TEST(SafetensorsIndexTest, ReadsAcrossShards) {
  MemoryFileSystem fs;
  WriteShards(fs);
  fs.SetFile("/ck/model.safetensors.index.json", kIndex);
  auto src = SafetensorsSource::OpenIndex(&fs, "/ck/model.safetensors.index.json");
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  std::vector<TensorInfo> list = (*src)->List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2].name, "c");
  EXPECT_EQ(list[2].dtype, TensorDType::kBF16);
  EXPECT_EQ((*src)->FileOf("c"), "/ck/model-00002-of-00002.safetensors");
  auto c = (*src)->Read("c");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->data.size(), 8u);
  EXPECT_EQ(c->data[0], 3);
  EXPECT_EQ(c->data[7], 10);
  auto missing = (*src)->Read("d");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("tensor d not found in /ck/model-00001-of-00002.safetensors, "
                        "/ck/model-00002-of-00002.safetensors"));
}

TEST(SafetensorsIndexTest, RejectsMissingShard) {
  MemoryFileSystem fs;
  WriteShards(fs);
  fs.SetFile("/ck/model.safetensors.index.json",
             R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                               "z": "model-00003-of-00003.safetensors"}})");
  auto src = SafetensorsSource::OpenIndex(&fs, "/ck/model.safetensors.index.json");
  EXPECT_EQ(src.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(src.status().message(),
              HasSubstr("/ck/model.safetensors.index.json names shard "
                        "model-00003-of-00003.safetensors, but "
                        "/ck/model-00003-of-00003.safetensors does not exist"));
}

TEST(SafetensorsIndexTest, RejectsTensorMissingFromItsShard) {
  MemoryFileSystem fs;
  WriteShards(fs);
  // "c" is mapped to shard 1 but lives in shard 2.
  fs.SetFile("/ck/model.safetensors.index.json",
             R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                               "c": "model-00001-of-00002.safetensors",
                               "b": "model-00002-of-00002.safetensors"}})");
  auto src = SafetensorsSource::OpenIndex(&fs, "/ck/model.safetensors.index.json");
  EXPECT_EQ(src.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(src.status().message(),
              HasSubstr("maps tensor b to model-00002-of-00002.safetensors, but that shard does "
                        "not contain it (it is in /ck/model-00001-of-00002.safetensors)"));
  fs.SetFile("/ck/model.safetensors.index.json",
             R"({"weight_map": {"ghost": "model-00001-of-00002.safetensors"}})");
  auto ghost = SafetensorsSource::OpenIndex(&fs, "/ck/model.safetensors.index.json");
  EXPECT_THAT(ghost.status().message(), HasSubstr("tensor ghost"));
  EXPECT_THAT(ghost.status().message(), HasSubstr("nor does any other shard"));
}

TEST(SafetensorsIndexTest, RejectsDuplicateNamesAcrossShards) {
  MemoryFileSystem fs;
  WriteShards(fs);
  fs.SetFile("/ck/model-00002-of-00002.safetensors",
             EncodeSafetensors(
                 {Entry("c", TensorDType::kBF16, {4}, 3), Entry("a", TensorDType::kF32, {2}, 1)}));
  fs.SetFile("/ck/model.safetensors.index.json", kIndex);
  auto src = SafetensorsSource::OpenIndex(&fs, "/ck/model.safetensors.index.json");
  EXPECT_EQ(src.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(src.status().message(),
              HasSubstr("tensor a appears in two shards, /ck/model-00001-of-00002.safetensors and "
                        "/ck/model-00002-of-00002.safetensors"));
}

TEST(SafetensorsIndexTest, RejectsMalformedIndex) {
  MemoryFileSystem fs;
  WriteShards(fs);
  const std::string path = "/ck/model.safetensors.index.json";
  fs.SetFile(path, "{\"weight_map\": ");
  EXPECT_THAT(SafetensorsSource::OpenIndex(&fs, path).status().message(),
              HasSubstr("not a JSON object"));
  fs.SetFile(path, R"({"metadata": {}})");
  EXPECT_THAT(SafetensorsSource::OpenIndex(&fs, path).status().message(),
              HasSubstr("missing \"weight_map\""));
  fs.SetFile(path, R"({"weight_map": {"a": 3}})");
  EXPECT_THAT(SafetensorsSource::OpenIndex(&fs, path).status().message(),
              HasSubstr("weight_map entry a is JSON number"));
  fs.SetFile(path, R"({"weight_map": {"a": "../etc/passwd"}})");
  EXPECT_THAT(SafetensorsSource::OpenIndex(&fs, path).status().message(),
              HasSubstr("not a file inside the checkpoint folder"));
  fs.SetFile(path, R"({"weight_map": {}})");
  EXPECT_THAT(SafetensorsSource::OpenIndex(&fs, path).status().message(),
              HasSubstr("weight_map is empty"));
}

TEST(SafetensorsIndexTest, ShardErrorsNameTheShard) {
  MemoryFileSystem fs;
  WriteShards(fs);
  fs.SetFile("/ck/model-00002-of-00002.safetensors", "short");
  fs.SetFile("/ck/model.safetensors.index.json", kIndex);
  auto src = SafetensorsSource::OpenIndex(&fs, "/ck/model.safetensors.index.json");
  EXPECT_THAT(src.status().message(), HasSubstr("/ck/model-00002-of-00002.safetensors: file is"));
}

// ---- Folder opener ----

TEST(OpenCheckpointTest, PrefersIndexThenSingleFile) {
  MemoryFileSystem fs;
  WriteShards(fs);
  fs.SetFile("/ck/model.safetensors.index.json", kIndex);
  fs.SetFile("/ck/model.safetensors",
             EncodeSafetensors({Entry("only", TensorDType::kF32, {1}, 0)}));
  auto sharded = OpenCheckpoint(&fs, "/ck");
  ASSERT_TRUE(sharded.ok()) << sharded.status().ToString();
  EXPECT_EQ((*sharded)->List().size(), 3u);
  ASSERT_TRUE(fs.RemoveAll("/ck/model.safetensors.index.json").ok());
  auto single = OpenCheckpoint(&fs, "/ck");
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_TRUE((*single)->Has("only"));
  EXPECT_FALSE((*single)->Has("a"));
}

TEST(OpenCheckpointTest, ErrorListsWhatWasFound) {
  MemoryFileSystem fs;
  WriteShards(fs);
  auto r = OpenCheckpoint(&fs, "/ck");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(),
              HasSubstr("/ck: no model.safetensors.index.json or model.safetensors; found only "
                        "model-00001-of-00002.safetensors, model-00002-of-00002.safetensors"));
  EXPECT_THAT(OpenCheckpoint(&fs, "/nowhere").status().message(),
              HasSubstr("checkpoint folder /nowhere does not exist"));
}

}  // namespace
}  // namespace anec::io
