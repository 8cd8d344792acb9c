#include "coreml/ane_check.h"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "base/half.h"
#include "coreml/ane_rules_test_util.h"
#include "coreml/package.h"

namespace anec::coreml {
namespace {

namespace milspec = CoreML::Specification::MILSpec;
using ane_test::FnBuilder;

// A package whose mask constant lives in weight.bin: -inf when `neg_inf`, else -1e4.
Status WriteMaskPackage(FileSystem* fs, const std::string& path, bool neg_inf) {
  ANEC_ASSIGN_OR_RETURN(auto w, PackageWriter::Create(fs, path));
  std::vector<uint8_t> mask;
  for (int i = 0; i < 64; ++i) {
    const float v = i < 32 ? 0.0f : neg_inf ? -std::numeric_limits<float>::infinity() : -1e4f;
    const uint16_t h = FloatToHalf(v);
    mask.push_back(static_cast<uint8_t>(h & 0xFF));
    mask.push_back(static_cast<uint8_t>(h >> 8));
  }
  ANEC_ASSIGN_OR_RETURN(uint64_t offset, w->weights()->Add(BlobDType::kFloat16, mask, 64));
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("scores", milspec::FLOAT16, {1, 4, 1, 64});
  f.ConstF16("mask", {1, 1, 1, 64}, {}, /*blob=*/true, offset);
  f.Op("add", "masked", {{"x", {"scores"}}, {"y", {"mask"}}}, milspec::FLOAT16, {1, 4, 1, 64});
  f.Op("softmax", "probs", {{"x", {"masked"}}}, milspec::FLOAT16, {1, 4, 1, 64});
  f.Op("reshape", "narrow", {{"x", {"probs"}}}, milspec::FLOAT16, {1, 4, 64, 1});
  f.Op("layer_norm", "ln", {{"x", {"narrow"}}}, milspec::FLOAT16, {1, 4, 64, 1});
  f.Output("ln");
  return w->Finish(m.model());
}

TEST(AneCheckTest, FolderOfPackages) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WriteMaskPackage(&fs, "/out/b_bad.mlpackage", true).ok());
  ASSERT_TRUE(WriteMaskPackage(&fs, "/out/a_good.mlpackage", false).ok());
  ASSERT_TRUE(fs.WriteFileAtomic("/out/meta.yaml", "x: 1\n").ok());
  auto r = CheckAnePath(&fs, "/out");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packages, (std::vector<std::string>{"a_good.mlpackage", "b_bad.mlpackage"}));
  // Each has the narrow layer_norm (a warning); only b's blob mask holds -inf (an error).
  ASSERT_EQ(r->findings.size(), 3u) << RenderAneText(*r);
  EXPECT_EQ(r->errors(), 1);
  EXPECT_EQ(r->warnings(), 2);
  const AneFinding& e = r->findings[1];
  EXPECT_EQ(e.package, "b_bad.mlpackage");
  EXPECT_EQ(e.function, "main");
  EXPECT_EQ(e.op, "mask");
  EXPECT_EQ(e.rule, "neg-inf-constant");
  EXPECT_NE(e.message.find("32 element(s)"), std::string::npos) << e.message;

  const std::string text = RenderAneText(*r);
  EXPECT_NE(text.find("b_bad.mlpackage main mask (const): error neg-inf-constant: "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("[source: apple/coreai-models"), std::string::npos) << text;
  EXPECT_NE(text.find("ANE check: 2 packages, 1 error, 2 warnings (rules: docs/ANE_RULES.md)\n"),
            std::string::npos)
      << text;

  auto j = nlohmann::json::parse(RenderAneJson(*r), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["findings"][1]["rule"], "neg-inf-constant");
  EXPECT_EQ(j["findings"][1]["level"], "error");
  EXPECT_EQ(j["findings"][0]["level"], "warning");

  Status s = AneErrorsStatus(*r, "/out");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("1 Neural Engine rule error in /out"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("docs/ANE_RULES.md"), std::string::npos);
}

TEST(AneCheckTest, SinglePackageAndEmptyFolder) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WriteMaskPackage(&fs, "/out/x.mlpackage", false).ok());
  ASSERT_TRUE(fs.Rename("/out/x.mlpackage", "/out/renamed").ok());
  auto r = CheckAnePath(&fs, "/out/renamed");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packages, (std::vector<std::string>{"renamed"}));
  EXPECT_EQ(r->errors(), 0);
  EXPECT_TRUE(AneErrorsStatus(*r, "x").ok());
  EXPECT_EQ(AneSummary(*r), "ANE check: 1 package, 0 errors, 1 warning");

  ASSERT_TRUE(fs.MakeDirs("/empty").ok());
  EXPECT_EQ(CheckAnePath(&fs, "/empty").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(CheckAnePath(&fs, "/missing").status().code(), StatusCode::kNotFound);
  // A broken package fails the check rather than passing silently.
  ASSERT_TRUE(fs.WriteFileAtomic("/bad/x.mlpackage/Manifest.json", "{").ok());
  EXPECT_FALSE(CheckAnePath(&fs, "/bad").ok());
}

}  // namespace
}  // namespace anec::coreml
