#include "cli/inspect_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "cli/commands.h"
#include "coreml/ane_rules_test_util.h"
#include "coreml/package.h"

namespace anec::cli {
namespace {

namespace milspec = CoreML::Specification::MILSpec;

// One package: a conv (clean), plus an sdpa op when `sdpa` (an error-level finding).
Status WritePackage(FileSystem* fs, const std::string& path, bool sdpa) {
  ANEC_ASSIGN_OR_RETURN(auto w, coreml::PackageWriter::Create(fs, path));
  coreml::ane_test::ModelBuilder m;
  coreml::ane_test::FnBuilder& f = m.Function("main");
  f.Input("x", milspec::FLOAT16, {1, 4, 64, 64});
  f.Op(sdpa ? "scaled_dot_product_attention" : "identity", "y",
       {{"query", {"x"}}, {"key", {"x"}}, {"value", {"x"}}}, milspec::FLOAT16, {1, 4, 64, 64});
  f.Output("y");
  return w->Finish(m.model());
}

std::string RunToString(FileSystem* fs, const InspectOptions& o, Status* status) {
  std::FILE* out = std::tmpfile();
  *status = RunInspect(fs, o, out);
  std::string text(static_cast<size_t>(std::ftell(out)), '\0');
  std::rewind(out);
  const size_t n = std::fread(text.data(), 1, text.size(), out);
  text.resize(n);
  std::fclose(out);
  return text;
}

TEST(InspectCommandTest, AneErrorsFailWithTheCountAndPrintEveryFinding) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WritePackage(&fs, "/out/a.mlpackage", true).ok());
  ASSERT_TRUE(WritePackage(&fs, "/out/b.mlpackage", false).ok());
  Status s;
  std::string text = RunToString(&fs, {"/out/", false, true}, &s);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("1 Neural Engine rule error in /out"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("docs/ANE_RULES.md"), std::string::npos);
  EXPECT_NE(text.find("a.mlpackage main y (scaled_dot_product_attention): error sdpa: "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ANE check: 2 packages, 1 error, 0 warnings"), std::string::npos) << text;

  text = RunToString(&fs, {"/out/b.mlpackage", true, true}, &s);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(text.find("\"errors\": 0"), std::string::npos) << text;
  // Without --ane the ordinary report, which does not judge placement.
  text = RunToString(&fs, {"/out/a.mlpackage", false, false}, &s);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(text.find("scaled_dot_product_attention 1"), std::string::npos) << text;
}

TEST(InspectCommandTest, AnecExitStatus) {
  char tmpl[] = "/tmp/anec_inspect_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  FileSystem* fs = RealFileSystem();
  ASSERT_TRUE(WritePackage(fs, dir + "/bad/x.mlpackage", true).ok());
  ASSERT_TRUE(WritePackage(fs, dir + "/good/x.mlpackage", false).ok());
  auto run = [](std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return Main(static_cast<int>(argv.size()), argv.data());
  };
  EXPECT_EQ(run({"anec", "inspect", "--ane", dir + "/bad"}), 2);
  EXPECT_EQ(run({"anec", "inspect", "--ane", dir + "/good"}), 0);
  EXPECT_EQ(run({"anec", "inspect", "--ane", "--json", dir + "/good/x.mlpackage"}), 0);
  EXPECT_EQ(run({"anec", "inspect", dir + "/bad"}), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace anec::cli
