// A conversion killed by SIGKILL in the middle of a step, then resumed with --restart, produces
// the same packages as an uninterrupted run. Runs on the real file system in a temporary folder.
// With ANEC_TEST_OUT set, also leaves converted folders there for external checks (coremltools).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coreml/package.h"
#include "pipeline/converter.h"
#include "pipeline/converter_test_util.h"

namespace anec::pipeline {
namespace {

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "anec-kill-XXXXXX";
  char* d = mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string();
}

TEST(ConverterKillTest, SigkillMidStepThenRestartMatchesCleanRun) {
  FileSystem* fs = RealFileSystem();
  const std::string root = TempDir();
  ASSERT_FALSE(root.empty());
  WriteModelFolder(fs, root + "/model");
  TinyModel tm = MakeTinyModel(3, 300, true);
  ConvertHooks quiet;
  quiet.log = nullptr;
  ASSERT_TRUE(
      Convert(fs, tm.input(), TinyOptions(root + "/model", root + "/clean", 3), quiet).ok());

  for (int kill_step : {3, 5}) {
    const std::string out = root + "/killed" + std::to_string(kill_step);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ConvertHooks h = quiet;
      h.after_unit = [kill_step](int step, const std::string& unit) -> Status {
        if (step == kill_step && unit.find("chunk_02") != std::string::npos) raise(SIGKILL);
        return Status::Ok();
      };
      (void)Convert(fs, tm.input(), TinyOptions(root + "/model", out, 3), h);
      _exit(0);  // not reached when the kill fires
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child was not killed";
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    // The killed step never completed: its last package is absent, the marker too.
    EXPECT_FALSE(fs->Exists(out + "/llama_FFN_PF_chunk_03of03.mlpackage"));
    ConvertOptions resume = TinyOptions(root + "/model", out, 3);
    resume.restart = kill_step;
    auto r = Convert(fs, tm.input(), resume, quiet);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(Snapshot(fs, out), Snapshot(fs, root + "/clean")) << "killed in step " << kill_step;
  }
  (void)fs->RemoveAll(root);
}

// Leaves converted folders under $ANEC_TEST_OUT (when set) for the coremltools check.
TEST(ConverterOutputTest, WritesFoldersForExternalChecks) {
  const char* dir = std::getenv("ANEC_TEST_OUT");
  if (dir == nullptr || *dir == 0) GTEST_SKIP() << "ANEC_TEST_OUT not set";
  FileSystem* fs = RealFileSystem();
  struct Case {
    std::string name;
    int64_t layers, vocab, chunks;
    bool tied;
    LutPlan lut;
  };
  LutPlan lut;
  lut.embed = 6;
  lut.ffn = 4;
  lut.lmhead = 6;
  for (const Case& c : {Case{"tiny_fp16_untied_1chunk", 2, 100, 1, false, {}},
                        Case{"tiny_fp16_tied_3chunks_split_head", 4, 20000, 3, true, {}},
                        Case{"tiny_lut_tied_2chunks", 3, 300, 2, true, lut}}) {
    const std::string out = JoinPath(dir, c.name);
    WriteModelFolder(fs, out + "-model");
    TinyModel tm = MakeTinyModel(c.layers, c.vocab, c.tied);
    ConvertOptions o = TinyOptions(out + "-model", out, c.chunks);
    o.lut = c.lut;
    ConvertHooks quiet;
    quiet.log = nullptr;
    auto r = Convert(fs, tm.input(), o, quiet);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
    EXPECT_TRUE(fs->Exists(out + "/meta.yaml"));
  }
}

}  // namespace
}  // namespace anec::pipeline
