#include "io/hub_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "io/hub_download.h"

namespace anec::io {
namespace {

namespace fs = std::filesystem;

TEST(HubCacheTest, ValidatesRepoIdsRevisionsAndFilenames) {
  EXPECT_TRUE(ValidateRepoId("meta-llama/Llama-3.2-1B").ok());
  EXPECT_TRUE(ValidateRepoId("Qwen/Qwen2.5-0.5B-Instruct").ok());
  EXPECT_TRUE(ValidateRepoId("gpt2").ok());
  for (const char* bad :
       {"", "a/b/c", "../etc", "org/na--me", "org/", "/name", "org/name.", "org/na me"}) {
    Status s = ValidateRepoId(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("org/name"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(ValidateRevision("main").ok());
  EXPECT_TRUE(ValidateRevision("refs/pr/1").ok());
  for (const char* bad : {"", "../x", "/main", "a b", "x/"}) {
    EXPECT_FALSE(ValidateRevision(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateRepoFilename("model-00001-of-00002.safetensors").ok());
  EXPECT_TRUE(ValidateRepoFilename("sub/dir/file.json").ok());
  for (const char* bad : {"", "../evil", "a/../../b", "/abs", "a//b", "./x", "a\\b"}) {
    EXPECT_FALSE(ValidateRepoFilename(bad).ok()) << bad;
  }
}

TEST(HubCacheTest, HashesAndEtags) {
  EXPECT_TRUE(IsCommitHash("0123456789abcdef0123456789abcdef01234567"));
  EXPECT_FALSE(IsCommitHash("0123456789ABCDEF0123456789abcdef01234567"));
  EXPECT_FALSE(IsCommitHash("main"));
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_EQ(NormalizeEtag("\"abc\""), "abc");
  EXPECT_EQ(NormalizeEtag("W/\"abc\""), "abc");
  EXPECT_EQ(NormalizeEtag("abc"), "abc");
}

TEST(HubCacheTest, LayoutMatchesHuggingFaceHub) {
  HubRepoCache cache("/c", "meta-llama/Llama-3.2-1B");
  EXPECT_EQ(cache.root(), "/c/models--meta-llama--Llama-3.2-1B");
  EXPECT_EQ(cache.BlobPath("e1"), "/c/models--meta-llama--Llama-3.2-1B/blobs/e1");
  EXPECT_EQ(cache.IncompletePath("e1"), "/c/models--meta-llama--Llama-3.2-1B/blobs/e1.incomplete");
  EXPECT_EQ(cache.LockPath("e1"), "/c/.locks/models--meta-llama--Llama-3.2-1B/e1.lock");
  EXPECT_EQ(cache.RefPath("main"), "/c/models--meta-llama--Llama-3.2-1B/refs/main");
  EXPECT_EQ(cache.SnapshotFile("abc", "config.json"),
            "/c/models--meta-llama--Llama-3.2-1B/snapshots/abc/config.json");
  EXPECT_EQ(HubRepoCache("/c", "gpt2").root(), "/c/models--gpt2");
}

// Restores the variables a test changes, so other tests in the binary see the real environment.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::string> names) : names_(std::move(names)) {
    for (const auto& n : names_) {
      const char* v = getenv(n.c_str());
      saved_.push_back(v ? std::optional<std::string>(v) : std::nullopt);
    }
  }
  ~ScopedEnv() {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (saved_[i])
        setenv(names_[i].c_str(), saved_[i]->c_str(), 1);
      else
        unsetenv(names_[i].c_str());
    }
  }

 private:
  std::vector<std::string> names_;
  std::vector<std::optional<std::string>> saved_;
};

TEST(HubCacheTest, CacheDirFromEnvironmentFollowsHfPrecedence) {
  ScopedEnv env({"HUGGINGFACE_HUB_CACHE", "HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HOME"});
  unsetenv("HUGGINGFACE_HUB_CACHE");
  setenv("HF_HUB_CACHE", "/x/hub-cache", 1);
  setenv("HF_HOME", "/y/hf-home", 1);
  EXPECT_EQ(HubCacheDirFromEnvironment(), "/x/hub-cache");
  unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(HubCacheDirFromEnvironment(), "/y/hf-home/hub");
  unsetenv("HF_HOME");
  setenv("XDG_CACHE_HOME", "/z/xdg", 1);
  EXPECT_EQ(HubCacheDirFromEnvironment(), "/z/xdg/huggingface/hub");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(HubCacheDirFromEnvironment(), "/home/someone/.cache/huggingface/hub");
}

TEST(HubCacheTest, OptionsFromEnvironmentReadTokenEndpointAndOffline) {
  ScopedEnv env({"HF_ENDPOINT", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_CACHE",
                 "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE"});
  char pattern[] = "/tmp/anec_hub_env_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  fs::path home = pattern;
  std::ofstream(home / "token") << "hf_from_file\n";
  unsetenv("HF_HUB_CACHE");
  unsetenv("HUGGINGFACE_HUB_CACHE");
  unsetenv("HF_TOKEN");
  unsetenv("HF_TOKEN_PATH");
  setenv("HF_HOME", home.c_str(), 1);
  setenv("HF_ENDPOINT", "http://mirror.example/", 1);
  setenv("HF_HUB_OFFLINE", "1", 1);
  HubOptions o = HubOptionsFromEnvironment();
  EXPECT_EQ(o.endpoint, "http://mirror.example");
  EXPECT_EQ(o.cache_dir, (home / "hub").string());
  EXPECT_EQ(o.token, "hf_from_file");
  EXPECT_TRUE(o.offline);
  setenv("HF_TOKEN", " hf_from_env ", 1);
  unsetenv("HF_HUB_OFFLINE");
  unsetenv("HF_ENDPOINT");
  o = HubOptionsFromEnvironment();
  EXPECT_EQ(o.token, "hf_from_env");
  EXPECT_EQ(o.endpoint, "https://huggingface.co");
  EXPECT_FALSE(o.offline);
  unsetenv("HF_TOKEN");
  setenv("HF_HOME", (home / "elsewhere").c_str(), 1);
  EXPECT_FALSE(HubOptionsFromEnvironment().token.has_value());
  fs::remove_all(home);
}

class HubCacheDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/anec_hub_cache_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(HubCacheDiskTest, RefsRoundTripAndRejectGarbage) {
  HubRepoCache cache(dir_.string(), "org/name");
  const std::string commit(40, 'c');
  EXPECT_EQ(cache.ResolveRevision("main").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*cache.ResolveRevision(commit), commit);  // a commit needs no ref
  ASSERT_TRUE(cache.WriteRef("main", commit).ok());
  ASSERT_TRUE(cache.WriteRef("refs/pr/1", commit).ok());
  EXPECT_EQ(*cache.ResolveRevision("main"), commit);
  EXPECT_EQ(*cache.ResolveRevision("refs/pr/1"), commit);
  EXPECT_TRUE(fs::is_regular_file(dir_ / "models--org--name" / "refs" / "refs" / "pr" / "1"));
  ASSERT_TRUE(cache.WriteRef(commit, commit).ok());
  EXPECT_FALSE(fs::exists(dir_ / "models--org--name" / "refs" / commit));
  std::ofstream(dir_ / "models--org--name" / "refs" / "main") << "not a hash";
  EXPECT_EQ(cache.ResolveRevision("main").status().code(), StatusCode::kCorrupt);
}

TEST_F(HubCacheDiskTest, SnapshotLinksAreRelativeAndReplaceable) {
  HubRepoCache cache(dir_.string(), "org/name");
  fs::create_directories(dir_ / "models--org--name" / "blobs");
  std::ofstream(cache.BlobPath("e1")) << "one";
  std::ofstream(cache.BlobPath("e2")) << "two";
  const std::string commit(40, 'a');
  EXPECT_FALSE(cache.HasSnapshotFile(commit, "config.json"));
  ASSERT_TRUE(cache.LinkSnapshotFile(commit, "config.json", "e1").ok());
  ASSERT_TRUE(cache.LinkSnapshotFile(commit, "sub/dir/x.json", "e2").ok());
  fs::path snap = dir_ / "models--org--name" / "snapshots" / commit;
  EXPECT_EQ(fs::read_symlink(snap / "config.json"), "../../blobs/e1");
  EXPECT_EQ(fs::read_symlink(snap / "sub/dir/x.json"), "../../../../blobs/e2");
  EXPECT_TRUE(cache.HasSnapshotFile(commit, "sub/dir/x.json"));
  std::ifstream in(snap / "sub/dir/x.json");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "two");
  ASSERT_TRUE(cache.LinkSnapshotFile(commit, "config.json", "e2").ok());  // replaced in place
  EXPECT_EQ(fs::read_symlink(snap / "config.json"), "../../blobs/e2");
  fs::remove(cache.BlobPath("e2"));
  EXPECT_FALSE(cache.HasSnapshotFile(commit, "config.json"));  // dangling link is not a file
  int entries = 0;
  for (auto& e : fs::directory_iterator(snap)) entries += !e.path().empty();
  EXPECT_EQ(entries, 2);  // no temporary links left behind
}

TEST_F(HubCacheDiskTest, LockIsExclusiveAndReleased) {
  std::string path = (dir_ / ".locks" / "models--org--name" / "e.lock").string();
  {
    auto lock = HubFileLock::Acquire(path);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    int fd = open(path.c_str(), O_RDWR);
    EXPECT_NE(flock(fd, LOCK_EX | LOCK_NB), 0);  // held by `lock`
    close(fd);
  }
  int fd = open(path.c_str(), O_RDWR);
  EXPECT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  close(fd);
}

}  // namespace
}  // namespace anec::io
