#include "coreml/package.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

namespace anec::coreml {
namespace {

using nlohmann::json;
namespace milspec = CoreML::Specification::MILSpec;

const char* kPkg = "/out/model.mlpackage";

// A one-function program: main(x fp16[4]) -> add(x, const w) where w lives in weight.bin.
CoreML::Specification::Model TinyModel(uint64_t blob_offset) {
  CoreML::Specification::Model m;
  m.set_specificationversion(9);
  auto* in = m.mutable_description()->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_multiarraytype()->add_shape(4);
  in->mutable_type()->mutable_multiarraytype()->set_datatype(
      CoreML::Specification::ArrayFeatureType::FLOAT16);
  milspec::Program* prog = m.mutable_mlprogram();
  prog->set_version(1);
  milspec::Function& fn = (*prog->mutable_functions())["main"];
  fn.set_opset("CoreML8");
  milspec::Block& block = (*fn.mutable_block_specializations())["CoreML8"];
  milspec::Operation* op = block.add_operations();
  op->set_type("const");
  milspec::Value& val = (*op->mutable_attributes())["val"];
  auto* tt = val.mutable_type()->mutable_tensortype();
  tt->set_datatype(milspec::FLOAT16);
  tt->set_rank(1);
  tt->add_dimensions()->mutable_constant()->set_size(4);
  val.mutable_blobfilevalue()->set_filename(kWeightFileName);
  val.mutable_blobfilevalue()->set_offset(blob_offset);
  block.add_outputs("w");
  return m;
}

const std::vector<uint8_t> kWeights = {0, 0x3C, 0, 0x40, 0, 0x42, 0, 0x44};  // fp16 1,2,3,4

Status WritePackage(FileSystem* fs, const std::string& path, std::string* proto_out = nullptr) {
  ANEC_ASSIGN_OR_RETURN(auto w, PackageWriter::Create(fs, path));
  ANEC_ASSIGN_OR_RETURN(uint64_t off, w->weights()->Add(BlobDType::kFloat16, kWeights, 4));
  auto model = TinyModel(off);
  if (proto_out) *proto_out = model.SerializeAsString();
  return w->Finish(model);
}

json ReadManifest(FileSystem* fs, const std::string& pkg) {
  return json::parse(fs->ReadFile(JoinPath(pkg, "Manifest.json")).value(), nullptr, false);
}

TEST(PackageTest, WriteThenOpenRoundTrips) {
  MemoryFileSystem fs;
  std::string proto;
  ASSERT_TRUE(WritePackage(&fs, kPkg, &proto).ok());
  EXPECT_TRUE(fs.Exists("/out/model.mlpackage/Data/com.apple.CoreML/model.mlmodel"));
  EXPECT_TRUE(fs.Exists("/out/model.mlpackage/Data/com.apple.CoreML/weights/weight.bin"));
  // Nothing but the package in the parent folder: the temporary folder was renamed away.
  EXPECT_EQ(fs.ListDir("/out").value(), std::vector<std::string>{"model.mlpackage"});

  auto p = Package::Open(&fs, kPkg);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->model().SerializeAsString(), proto);
  EXPECT_EQ(p->model_path(), "/out/model.mlpackage/Data/com.apple.CoreML/model.mlmodel");
  ASSERT_NE(p->weights(), nullptr);
  const auto& val = p->model()
                        .mlprogram()
                        .functions()
                        .at("main")
                        .block_specializations()
                        .at("CoreML8")
                        .operations(0)
                        .attributes()
                        .at("val");
  auto blob = p->weights()->Get(val.blobfilevalue().offset(), BlobDType::kFloat16, 4);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(std::vector<uint8_t>(blob->data.begin(), blob->data.end()), kWeights);
  EXPECT_EQ(p->weight_file_bytes(), 64u + 64u + 8u);
  const uint64_t manifest_bytes = fs.FileSize(JoinPath(kPkg, "Manifest.json")).value();
  EXPECT_EQ(p->total_bytes(), manifest_bytes + proto.size() + 136u);
}

TEST(PackageTest, ManifestHasAppleLayoutAndFreshUuids) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WritePackage(&fs, "/a.mlpackage").ok());
  ASSERT_TRUE(WritePackage(&fs, "/b.mlpackage").ok());
  json a = ReadManifest(&fs, "/a.mlpackage"), b = ReadManifest(&fs, "/b.mlpackage");
  ASSERT_FALSE(a.is_discarded());
  EXPECT_EQ(a["fileFormatVersion"], "1.0.0");
  ASSERT_EQ(a["itemInfoEntries"].size(), 2u);
  const std::regex uuid("[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}");
  std::string model_id, weights_id;
  for (auto& [id, e] : a["itemInfoEntries"].items()) {
    EXPECT_TRUE(std::regex_match(id, uuid)) << id;
    EXPECT_EQ(e["author"], "com.apple.CoreML");
    if (e["name"] == "model.mlmodel") {
      model_id = id;
      EXPECT_EQ(e["path"], "com.apple.CoreML/model.mlmodel");
      EXPECT_EQ(e["description"], "CoreML Model Specification");
    } else {
      weights_id = id;
      EXPECT_EQ(e["name"], "weights");
      EXPECT_EQ(e["path"], "com.apple.CoreML/weights");
      EXPECT_EQ(e["description"], "CoreML Model Weights");
    }
  }
  EXPECT_FALSE(model_id.empty());
  EXPECT_FALSE(weights_id.empty());
  EXPECT_EQ(a["rootModelIdentifier"], model_id);
  EXPECT_NE(a["rootModelIdentifier"], b["rootModelIdentifier"]);
}

TEST(PackageTest, CreateRejectsPathWithoutSuffix) {
  MemoryFileSystem fs;
  auto w = PackageWriter::Create(&fs, "/out/model");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find(".mlpackage"), std::string::npos);
}

TEST(PackageTest, AbandonAndDestructionLeaveNothing) {
  MemoryFileSystem fs;
  {
    auto w = PackageWriter::Create(&fs, kPkg).value();
    ASSERT_TRUE(w->weights()->Add(BlobDType::kFloat16, kWeights, 4).ok());
    w->Abandon();
    EXPECT_FALSE(w->Finish(TinyModel(64)).ok());
  }
  { auto w = PackageWriter::Create(&fs, kPkg).value(); }
  EXPECT_FALSE(fs.Exists(kPkg));
  EXPECT_TRUE(fs.ListDir("/out").value().empty());
}

TEST(PackageTest, FinishReplacesAnExistingPackage) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WritePackage(&fs, kPkg).ok());
  fs.SetFile(JoinPath(kPkg, "stale.txt"), "old");
  const json before = ReadManifest(&fs, kPkg);
  ASSERT_TRUE(WritePackage(&fs, kPkg).ok());
  EXPECT_FALSE(fs.Exists(JoinPath(kPkg, "stale.txt")));
  EXPECT_NE(ReadManifest(&fs, kPkg)["rootModelIdentifier"], before["rootModelIdentifier"]);
}

// ---- hostile packages ----

class BrokenPackageTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(WritePackage(&fs_, kPkg).ok()); }
  void SetManifest(const json& m) { fs_.SetFile(JoinPath(kPkg, "Manifest.json"), m.dump()); }
  std::string OpenError() {
    auto p = Package::Open(&fs_, kPkg);
    EXPECT_FALSE(p.ok());
    return p.ok() ? "" : p.status().message();
  }
  MemoryFileSystem fs_;
};

TEST_F(BrokenPackageTest, ManifestMissingTopLevelKeys) {
  const json good = ReadManifest(&fs_, kPkg);
  for (const char* key : {"fileFormatVersion", "itemInfoEntries", "rootModelIdentifier"}) {
    json m = good;
    m.erase(key);
    SetManifest(m);
    EXPECT_NE(OpenError().find(key), std::string::npos) << key;
  }
}

TEST_F(BrokenPackageTest, ManifestEntryMissingKey) {
  const json good = ReadManifest(&fs_, kPkg);
  for (const char* key : {"author", "description", "name", "path"}) {
    json m = good;
    m["itemInfoEntries"].begin().value().erase(key);
    SetManifest(m);
    std::string err = OpenError();
    EXPECT_NE(err.find(std::string("\"") + key + "\""), std::string::npos) << err;
    EXPECT_NE(err.find("Manifest.json"), std::string::npos) << err;
  }
}

TEST_F(BrokenPackageTest, RootIdentifierNotAnEntry) {
  json m = ReadManifest(&fs_, kPkg);
  m["rootModelIdentifier"] = "00000000-0000-0000-0000-000000000000";
  SetManifest(m);
  EXPECT_NE(OpenError().find("not a key of itemInfoEntries"), std::string::npos);
}

TEST_F(BrokenPackageTest, EntryPointsAtMissingFileOrOutsideData) {
  json m = ReadManifest(&fs_, kPkg);
  m["itemInfoEntries"].begin().value()["path"] = "com.apple.CoreML/nothing.bin";
  SetManifest(m);
  EXPECT_NE(OpenError().find("does not exist"), std::string::npos);
  m["itemInfoEntries"].begin().value()["path"] = "../Manifest.json";
  SetManifest(m);
  EXPECT_NE(OpenError().find("inside Data/"), std::string::npos);
  m["itemInfoEntries"].begin().value()["path"] = "/etc/passwd";
  SetManifest(m);
  EXPECT_NE(OpenError().find("inside Data/"), std::string::npos);
}

TEST_F(BrokenPackageTest, ManifestNotJsonOrEmptyOrMissing) {
  const json good = ReadManifest(&fs_, kPkg);
  fs_.SetFile(JoinPath(kPkg, "Manifest.json"), "{\"fileFormatVersion\": ");
  EXPECT_NE(OpenError().find("not a JSON object"), std::string::npos);
  fs_.SetFile(JoinPath(kPkg, "Manifest.json"), "");
  EXPECT_NE(OpenError().find("not a JSON object"), std::string::npos);
  fs_.SetFile(JoinPath(kPkg, "Manifest.json"), "[1,2]");
  EXPECT_NE(OpenError().find("not a JSON object"), std::string::npos);
  json m = good;
  m["fileFormatVersion"] = "2.0.0";
  SetManifest(m);
  EXPECT_NE(OpenError().find("not a 1.x package format"), std::string::npos);
  ASSERT_TRUE(fs_.RemoveAll(JoinPath(kPkg, "Manifest.json")).ok());
  EXPECT_NE(OpenError().find("no Manifest.json"), std::string::npos);
}

TEST_F(BrokenPackageTest, ProtobufGarbageOrEmpty) {
  const std::string model = JoinPath(kPkg, "Data/com.apple.CoreML/model.mlmodel");
  fs_.SetFile(model, std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01garbage", 19));
  std::string err = OpenError();
  EXPECT_NE(err.find("not a valid Core ML Model protobuf"), std::string::npos) << err;
  EXPECT_NE(err.find("model.mlmodel"), std::string::npos) << err;
  fs_.SetFile(model, "");
  EXPECT_NE(OpenError().find("specificationVersion"), std::string::npos);
}

TEST_F(BrokenPackageTest, TruncatedOrEmptyWeightFile) {
  const std::string wb = JoinPath(kPkg, "Data/com.apple.CoreML/weights/weight.bin");
  std::string bytes = fs_.ReadFile(wb).value();
  fs_.SetFile(wb, "");
  EXPECT_NE(OpenError().find("shorter than the 64-byte header"), std::string::npos);
  // Truncated inside the blob: the header opens, the blob lookup fails.
  fs_.SetFile(wb, bytes.substr(0, bytes.size() - 3));
  auto p = Package::Open(&fs_, kPkg);
  ASSERT_TRUE(p.ok());
  auto blob = p->weights()->Get(64, BlobDType::kFloat16, 4);
  ASSERT_FALSE(blob.ok());
  EXPECT_NE(blob.status().message().find("past the end"), std::string::npos);
}

TEST_F(BrokenPackageTest, NotADirectory) {
  auto p = Package::Open(&fs_, "/out/other.mlpackage");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("/out/other.mlpackage"), std::string::npos);
}

// ---- real file system ----

TEST(PackageRealFsTest, AbandonedWriterLeavesNothingFinishedOneOpens) {
  char tmpl[] = "/tmp/anec-package-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  FileSystem* fs = RealFileSystem();
  const std::string pkg = JoinPath(dir, "m.mlpackage");
  {
    auto w = PackageWriter::Create(fs, pkg);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->weights()->Add(BlobDType::kFloat16, kWeights, 4).ok());
    (*w)->Abandon();
  }
  EXPECT_FALSE(fs->Exists(pkg));
  EXPECT_TRUE(fs->ListDir(dir).value().empty());

  ASSERT_TRUE(WritePackage(fs, pkg).ok());
  EXPECT_EQ(fs->ListDir(dir).value(), std::vector<std::string>{"m.mlpackage"});
  auto p = Package::Open(fs, pkg);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto blob = p->weights()->Get(64, BlobDType::kFloat16, 4);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(std::vector<uint8_t>(blob->data.begin(), blob->data.end()), kWeights);
  std::filesystem::remove_all(dir);
}

// A second package reusing the first one's weight file: hard-linked on a real file system (one
// inode, no bytes copied), and the constant reads back at the same offset.
TEST(PackageRealFsTest, CreateWithWeightFileLinksTheExistingFile) {
  char tmpl[] = "/tmp/anec-package-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  FileSystem* fs = RealFileSystem();
  const std::string first = JoinPath(dir, "a.mlpackage"), second = JoinPath(dir, "b.mlpackage");
  ASSERT_TRUE(WritePackage(fs, first).ok());
  const std::string src = JoinPath(first, "Data/com.apple.CoreML/weights/weight.bin");
  auto w = PackageWriter::CreateWithWeightFile(fs, second, src);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->weights(), nullptr);
  ASSERT_TRUE((*w)->Finish(TinyModel(64)).ok());
  auto p = Package::Open(fs, second);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto blob = p->weights()->Get(64, BlobDType::kFloat16, 4);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(std::vector<uint8_t>(blob->data.begin(), blob->data.end()), kWeights);
  struct stat a {}, b {};
  ASSERT_EQ(stat(src.c_str(), &a), 0);
  ASSERT_EQ(stat(JoinPath(second, "Data/com.apple.CoreML/weights/weight.bin").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "expected a hard link, not a copy";
  // Replacing the first package (temp + rename) leaves the second one's bytes alone.
  ASSERT_TRUE(WritePackage(fs, first).ok());
  EXPECT_TRUE(Package::Open(fs, second).ok());
  std::filesystem::remove_all(dir);
}

TEST(PackageTest, CreateWithWeightFileCopiesInMemoryAndNeedsTheFile) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WritePackage(&fs, kPkg).ok());
  const std::string src = JoinPath(kPkg, "Data/com.apple.CoreML/weights/weight.bin");
  auto w = PackageWriter::CreateWithWeightFile(&fs, "/out/b.mlpackage", src);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Finish(TinyModel(64)).ok());
  EXPECT_EQ(fs.ReadFile("/out/b.mlpackage/Data/com.apple.CoreML/weights/weight.bin").value(),
            fs.ReadFile(src).value());
  auto missing = PackageWriter::CreateWithWeightFile(&fs, "/out/c.mlpackage", "/nope/weight.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nope/weight.bin"), std::string::npos);
  EXPECT_FALSE(fs.Exists("/out/c.mlpackage"));
}

}  // namespace
}  // namespace anec::coreml
