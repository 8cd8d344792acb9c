#include "pipeline/ane_check_step.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "ane/weight_source.h"
#include "coreml/ane_check.h"
#include "coreml/ane_rules_test_util.h"
#include "model/hf_checkpoint.h"
#include "pipeline/converter.h"

namespace anec::pipeline {
namespace {

namespace milspec = CoreML::Specification::MILSpec;

// Sets ANEC_STRICT_ANE_CHECK for the scope, then restores what the environment had (the test
// command exports it as 1, so a test that needs the lax mode must set "0" itself).
class StrictEnv {
 public:
  explicit StrictEnv(const char* value) {
    if (const char* old = std::getenv(kStrictAneCheckEnv)) saved_ = old;
    setenv(kStrictAneCheckEnv, value, 1);
  }
  ~StrictEnv() {
    if (saved_) {
      setenv(kStrictAneCheckEnv, saved_->c_str(), 1);
    } else {
      unsetenv(kStrictAneCheckEnv);
    }
  }

 private:
  std::optional<std::string> saved_;
};

std::string ReadBack(std::FILE* f) {
  std::string text(static_cast<size_t>(std::ftell(f)), '\0');
  std::rewind(f);
  text.resize(std::fread(text.data(), 1, text.size(), f));
  return text;
}

Status WriteSdpaPackage(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(auto w, coreml::PackageWriter::Create(fs, path));
  coreml::ane_test::ModelBuilder m;
  coreml::ane_test::FnBuilder& f = m.Function("main");
  f.Input("q", milspec::FLOAT16, {1, 4, 64, 64});
  f.Op("scaled_dot_product_attention", "attn", {{"query", {"q"}}, {"key", {"q"}}, {"value", {"q"}}},
       milspec::FLOAT16, {1, 4, 64, 64});
  f.Output("attn");
  return w->Finish(m.model());
}

TEST(AneCheckStepTest, SummaryAndStrictMode) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WriteSdpaPackage(&fs, "/out/x.mlpackage").ok());
  const std::vector<OutputFile> files = {{"x.mlpackage", 1}, {"meta.yaml", 1}};
  std::FILE* log = std::tmpfile();
  EXPECT_TRUE(RunAneCheckStep(&fs, "/out", files, log, /*strict=*/false).ok());
  EXPECT_EQ(ReadBack(log),
            "ANE check: 1 package, 1 error, 0 warnings (anec inspect --ane /out for details)\n");
  std::fclose(log);

  Status s = RunAneCheckStep(&fs, "/out", files, nullptr, /*strict=*/true);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("ANEC_STRICT_ANE_CHECK"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("x.mlpackage main attn (scaled_dot_product_attention): sdpa"),
            std::string::npos)
      << s.message();

  // The environment decides when the caller does not.
  {
    StrictEnv strict("1");
    EXPECT_TRUE(StrictAneCheckFromEnv());
    EXPECT_FALSE(RunAneCheckStep(&fs, "/out", files, nullptr).ok());
  }
  {
    StrictEnv lax("0");
    EXPECT_FALSE(StrictAneCheckFromEnv());
    EXPECT_TRUE(RunAneCheckStep(&fs, "/out", files, nullptr).ok());
  }
  {
    StrictEnv restore_after("0");
    unsetenv(kStrictAneCheckEnv);  // unset is lax too
    EXPECT_FALSE(StrictAneCheckFromEnv());
  }
  // No packages, nothing to say.
  std::FILE* quiet = std::tmpfile();
  EXPECT_TRUE(RunAneCheckStep(&fs, "/out", {{"meta.yaml", 1}}, quiet, true).ok());
  EXPECT_EQ(ReadBack(quiet), "");
  std::fclose(quiet);
}

ConversionInput FixtureInput(const model::LoadedModel& loaded, const ane::WeightSource* weights) {
  ConversionInput in;
  in.spec = loaded.spec;
  in.weights = weights;
  return in;
}

ConvertOptions FixtureOptions(int64_t context) {
  ConvertOptions o;
  o.output_dir = "/out";
  o.context = context;
  o.batch = 16;
  o.chunks = 1;
  o.skip_check = true;
  return o;
}

Result<model::LoadedModel> LoadFixture() {
  const char* src = std::getenv("ANEC_SOURCE_DIR");
  if (src == nullptr) return NotFound("ANEC_SOURCE_DIR not set (run through ctest)");
  return model::LoadHfCheckpoint(RealFileSystem(),
                                 std::string(src) + "/tests/fixtures/checkpoints/llama_tied");
}

// A context over 16,384 puts that many rows in the KV cache, the mask and the scores: errors the
// strict mode must turn into a failed conversion.
TEST(AneCheckStepTest, StrictModeFailsAConversionWithErrors) {
  auto loaded = LoadFixture();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ane::CheckpointWeights weights(&loaded->checkpoint);
  const ConversionInput in = FixtureInput(*loaded, &weights);
  ConvertHooks hooks;
  hooks.log = std::tmpfile();
  MemoryFileSystem lax_fs;
  {
    StrictEnv lax("0");
    ASSERT_TRUE(Convert(&lax_fs, in, FixtureOptions(32768), hooks).ok());
  }
  const std::string log = ReadBack(hooks.log);
  std::fclose(hooks.log);
  auto check = coreml::CheckAnePath(&lax_fs, "/out");
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_GT(check->errors(), 0);
  EXPECT_NE(log.find(coreml::AneSummary(*check)), std::string::npos) << log;

  StrictEnv strict("1");
  MemoryFileSystem fs;
  ConvertHooks quiet;
  quiet.log = nullptr;
  auto r = Convert(&fs, in, FixtureOptions(32768), quiet);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("ANEC_STRICT_ANE_CHECK is set"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("model_model_kv_cache_0 (state): dim-over-16384"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("more"), std::string::npos) << r.status().message();
}

// A fixture checkpoint converted through the pipeline: the log ends with the check's summary, and
// ANEC_STRICT_ANE_CHECK=1 fails the conversion exactly when the packages have an error.
TEST(AneCheckStepTest, EveryConversionEndsWithTheCheck) {
  auto loaded = LoadFixture();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ane::CheckpointWeights weights(&loaded->checkpoint);
  const ConversionInput in = FixtureInput(*loaded, &weights);
  const ConvertOptions o = FixtureOptions(64);

  MemoryFileSystem fs;
  ConvertHooks hooks;
  hooks.log = std::tmpfile();
  auto report = Convert(&fs, in, o, hooks);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string log = ReadBack(hooks.log);
  std::fclose(hooks.log);
  auto check = coreml::CheckAnePath(&fs, "/out");
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->packages.size(), 3u);
  const std::string summary =
      coreml::AneSummary(*check) + " (anec inspect --ane /out for details)\n";
  ASSERT_GE(log.size(), summary.size());
  EXPECT_EQ(log.substr(log.size() - summary.size()), summary) << log;

  StrictEnv strict("1");
  MemoryFileSystem fs2;
  ConvertHooks quiet;
  quiet.log = nullptr;
  auto strict_report = Convert(&fs2, in, o, quiet);
  if (check->errors() == 0) {
    EXPECT_TRUE(strict_report.ok()) << strict_report.status().ToString();
  } else {
    ASSERT_FALSE(strict_report.ok());
    EXPECT_EQ(strict_report.status().code(), StatusCode::kFailedPrecondition);
    for (const coreml::AneFinding& f : check->findings) {
      if (f.level != coreml::AneLevel::kError) continue;
      EXPECT_NE(strict_report.status().message().find(f.op + " (" + f.op_type + "): " + f.rule),
                std::string::npos)
          << strict_report.status().message();
      break;
    }
  }
}

}  // namespace
}  // namespace anec::pipeline
