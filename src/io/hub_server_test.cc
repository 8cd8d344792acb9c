// Integration tests of DownloadSnapshot + the libcurl client against a loopback fake Hub
// (tests/hub_server/fake_hub.py, a child process on 127.0.0.1). Never touches the real network.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/http_client.h"
#include "io/hub_cache.h"
#include "io/hub_download.h"
#include "io/hub_sha256.h"

namespace anec::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "hf_secret_token_123";

std::string SourceDir() {
  const char* env = std::getenv("ANEC_SOURCE_DIR");
  if (env != nullptr && env[0] != '\0') return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().string();
}

// Deterministic bytes, so every run serves the same content (and commit).
std::string Bytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    out[i] = static_cast<char>(seed >> 24);
  }
  return out;
}

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A small model repository: what conversion needs, plus files it must not fetch.
void MakeRepo(const fs::path& dir, uint32_t seed) {
  WriteFile(dir / "config.json", R"({"model_type": "llama", "hidden_size": 8})");
  WriteFile(dir / "generation_config.json", R"({"eos_token_id": 2})");
  WriteFile(dir / "tokenizer.json", R"({"model": {"type": "BPE"}})");
  WriteFile(dir / "tokenizer_config.json", R"({"bos_token": "<s>"})");
  WriteFile(dir / "README.md", "# not needed\n");
  WriteFile(dir / "original" / "params.json", "{}");
  WriteFile(dir / "model.safetensors", Bytes(300000, seed));
}

class FakeHub {
 public:
  void Start(const std::string& root) {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    std::string script = SourceDir() + "/tests/hub_server/fake_hub.py";
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      execl("/usr/bin/env", "env", "python3", script.c_str(), "--root", root.c_str(), "--token",
            kToken, static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    std::string line;
    pollfd pfd{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&pfd, 1, 10000) > 0) {
      char buf[64];
      ssize_t n = read(out[0], buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    ASSERT_EQ(line.rfind("PORT ", 0), 0u) << "fake_hub.py did not start: '" << line << "'";
    port_ = std::stoi(line.substr(5));
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  ~FakeHub() { Stop(); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  nlohmann::json Control(const std::string& what) {
    auto client = NewCurlHttpClient();
    auto r = HttpGetToString(*client, HttpRequest{endpoint() + "/_control/" + what, {}, {}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? nlohmann::json::parse(r->body) : nlohmann::json();
  }
  int Count() { return Control("count")["requests"].get<int>(); }
  nlohmann::json Log() { return Control("log"); }
  void Reset() { Control("reset"); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

class HubServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/anec_hub_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    tmp_ = pattern;
    fs::path root = tmp_ / "hub";
    MakeRepo(root / "org" / "tiny", 1);
    MakeRepo(root / "org" / "gated-model", 2);
    MakeRepo(root / "org" / "flaky-model", 3);
    MakeRepo(root / "org" / "corrupt-model", 4);
    MakeRepo(root / "org" / "broken-model", 5);
    fs::path sharded = root / "org" / "sharded";
    WriteFile(sharded / "config.json", "{}");
    WriteFile(sharded / "model-00001-of-00002.safetensors", Bytes(1000, 6));
    WriteFile(sharded / "model-00002-of-00002.safetensors", Bytes(2000, 7));
    WriteFile(sharded / "model.safetensors.index.json",
              R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                 "b": "model-00002-of-00002.safetensors"}})");
    hub_.Start(root.string());
    options_.endpoint = hub_.endpoint();
    options_.cache_dir = (tmp_ / "cache").string();
    options_.first_backoff = std::chrono::milliseconds(10);
    options_.max_attempts = 3;
    options_.progress = ProgressMode::kQuiet;
  }
  void TearDown() override {
    hub_.Stop();
    fs::remove_all(tmp_);
  }

  std::string Served(const std::string& repo, const std::string& file) {
    return ReadFile(tmp_ / "hub" / repo / file);
  }
  fs::path RepoCache(const std::string& folder) { return tmp_ / "cache" / folder; }

  fs::path tmp_;
  FakeHub hub_;
  HubOptions options_;
};

TEST_F(HubServerTest, FreshDownloadUsesTheHubCacheLayout) {
  auto snapshot = DownloadSnapshot(options_, "org/tiny", "main");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  fs::path repo = RepoCache("models--org--tiny");
  std::string commit = ReadFile(repo / "refs" / "main");
  ASSERT_TRUE(IsCommitHash(commit)) << commit;
  EXPECT_EQ(*snapshot, (repo / "snapshots" / commit).string());

  for (const char* f : {"config.json", "generation_config.json", "tokenizer.json",
                        "tokenizer_config.json", "model.safetensors"}) {
    fs::path link = fs::path(*snapshot) / f;
    ASSERT_TRUE(fs::is_symlink(link)) << f;
    std::string target = fs::read_symlink(link).string();
    EXPECT_EQ(target.rfind("../../blobs/", 0), 0u) << target;
    EXPECT_EQ(ReadFile(link), Served("org/tiny", f)) << f;
  }
  // LFS files are stored under their sha256; small files under the git blob id.
  std::string weights = Served("org/tiny", "model.safetensors");
  EXPECT_EQ(fs::read_symlink(fs::path(*snapshot) / "model.safetensors").filename().string(),
            Sha256Hex(weights));
  EXPECT_FALSE(fs::exists(fs::path(*snapshot) / "README.md"));
  EXPECT_FALSE(fs::exists(fs::path(*snapshot) / "original"));
  for (const auto& entry : fs::directory_iterator(repo / "blobs")) {
    EXPECT_EQ(entry.path().extension(), "") << entry.path();  // no .incomplete left
  }

  // One listing, one resolve per needed file, one CDN fetch for the LFS file; never README.md.
  nlohmann::json log = hub_.Log();
  EXPECT_EQ(log.size(), 1u + 5u + 1u) << log.dump();
  for (const auto& r : log) {
    EXPECT_THAT(r["path"].get<std::string>(), Not(HasSubstr("README")));
    EXPECT_FALSE(r["auth"].get<bool>());  // no token configured
  }

  // A second run finds the complete snapshot: zero requests.
  hub_.Reset();
  auto again = DownloadSnapshot(options_, "org/tiny", "main");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *snapshot);
  EXPECT_EQ(hub_.Count(), 0);

  // Asking by commit hash works from the cache too; refresh asks the Hub again.
  auto by_commit = DownloadSnapshot(options_, "org/tiny", commit);
  ASSERT_TRUE(by_commit.ok()) << by_commit.status().ToString();
  EXPECT_EQ(*by_commit, *snapshot);
  EXPECT_EQ(hub_.Count(), 0);
  HubOptions refresh = options_;
  refresh.refresh = true;
  ASSERT_TRUE(DownloadSnapshot(refresh, "org/tiny", "main").ok());
  EXPECT_EQ(hub_.Count(), 1);  // the listing only: every file is already there
}

TEST_F(HubServerTest, ShardedCheckpointArrivesWhole) {
  auto snapshot = DownloadSnapshot(options_, "org/sharded", "main");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  for (const char* f : {"config.json", "model.safetensors.index.json",
                        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    EXPECT_EQ(ReadFile(fs::path(*snapshot) / f), Served("org/sharded", f)) << f;
  }
  EXPECT_TRUE(MissingSnapshotFiles(*snapshot).empty());
}

TEST_F(HubServerTest, CacheIsReusedWithTheServerStoppedAndOffline) {
  auto snapshot = DownloadSnapshot(options_, "org/tiny", "");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  hub_.Stop();
  auto again = DownloadSnapshot(options_, "org/tiny", "main");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *snapshot);

  HubOptions offline = options_;
  offline.offline = true;
  offline.refresh = true;  // offline wins: the cache only
  auto cached = DownloadSnapshot(offline, "org/tiny", "main");
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(*cached, *snapshot);

  auto missing = DownloadSnapshot(offline, "org/other", "main");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("HF_HUB_OFFLINE"));
  EXPECT_THAT(missing.status().message(), HasSubstr("org/other"));

  // Online with the server gone and nothing cached: bounded retries, then a clear error.
  auto down = DownloadSnapshot(options_, "org/other", "main");
  EXPECT_EQ(down.status().code(), StatusCode::kIoError);
  EXPECT_THAT(down.status().message(), HasSubstr("after 3 attempts"));
}

TEST_F(HubServerTest, GatedRepositoryExplainsTokensAndNeverShowsOne) {
  auto anonymous = DownloadSnapshot(options_, "org/gated-model", "main");
  EXPECT_EQ(anonymous.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(anonymous.status().message(), HasSubstr("HF_TOKEN"));
  EXPECT_THAT(anonymous.status().message(), HasSubstr("gated"));
  EXPECT_THAT(anonymous.status().message(), HasSubstr("no token was sent"));

  HubOptions wrong = options_;
  wrong.token = "hf_wrong_token_456";
  auto refused = DownloadSnapshot(wrong, "org/gated-model", "main");
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("hf_wrong_token_456")));
  EXPECT_THAT(refused.status().message(), HasSubstr("does not grant access"));

  HubOptions right = options_;
  right.token = kToken;
  hub_.Reset();
  auto snapshot = DownloadSnapshot(right, "org/gated-model", "main");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ(ReadFile(fs::path(*snapshot) / "model.safetensors"),
            Served("org/gated-model", "model.safetensors"));
  // The token goes to the Hub, never to the CDN host of the redirect.
  int cdn = 0;
  for (const auto& r : hub_.Log()) {
    bool is_cdn = r["path"].get<std::string>().rfind("/blobs/", 0) == 0;
    cdn += is_cdn;
    EXPECT_EQ(r["auth"].get<bool>(), !is_cdn) << r.dump();
  }
  EXPECT_EQ(cdn, 1);
}

TEST_F(HubServerTest, UnknownRepositoryOrRevisionIsNotFound) {
  auto repo = DownloadSnapshot(options_, "org/nope", "main");
  EXPECT_EQ(repo.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(repo.status().message(), HasSubstr("org/nope"));
  EXPECT_THAT(repo.status().message(), HasSubstr("'main'"));
  EXPECT_EQ(hub_.Count(), 1);  // 404 is not retried

  auto revision = DownloadSnapshot(options_, "org/tiny", "v9.9");
  EXPECT_EQ(revision.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(revision.status().message(), HasSubstr("'v9.9'"));
  EXPECT_FALSE(fs::exists(RepoCache("models--org--tiny") / "snapshots"));
}

TEST_F(HubServerTest, DroppedConnectionIsResumedFromTheIncompleteFile) {
  // With a single attempt the drop fails the run and leaves half the file in blobs/.
  HubOptions once = options_;
  once.max_attempts = 1;
  auto dropped = DownloadSnapshot(once, "org/flaky-model", "main");
  EXPECT_EQ(dropped.status().code(), StatusCode::kIoError);
  std::string weights = Served("org/flaky-model", "model.safetensors");
  std::string sha = Sha256Hex(weights);
  fs::path blobs = RepoCache("models--org--flaky-model") / "blobs";
  ASSERT_TRUE(fs::exists(blobs / (sha + ".incomplete")));
  EXPECT_EQ(fs::file_size(blobs / (sha + ".incomplete")), weights.size() / 2);
  std::string commit = ReadFile(RepoCache("models--org--flaky-model") / "refs" / "main");
  EXPECT_FALSE(fs::exists(RepoCache("models--org--flaky-model") / "snapshots" / commit /
                          "model.safetensors"));

  // The next run asks only for the missing bytes.
  hub_.Reset();
  auto resumed = DownloadSnapshot(options_, "org/flaky-model", "main");
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(ReadFile(fs::path(*resumed) / "model.safetensors"), weights);
  EXPECT_FALSE(fs::exists(blobs / (sha + ".incomplete")));
  std::string expected_range = "bytes=" + std::to_string(weights.size() / 2) + "-";
  int ranged = 0;
  for (const auto& r : hub_.Log()) {
    if (r["path"].get<std::string>().rfind("/blobs/", 0) == 0) {
      EXPECT_EQ(r["range"], expected_range);
      ++ranged;
    }
  }
  EXPECT_EQ(ranged, 1);
}

TEST_F(HubServerTest, DropWithinOneRunIsRetriedAndResumed) {
  auto snapshot = DownloadSnapshot(options_, "org/flaky-model", "main");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ(ReadFile(fs::path(*snapshot) / "model.safetensors"),
            Served("org/flaky-model", "model.safetensors"));
}

TEST_F(HubServerTest, ChecksumMismatchIsRejectedAndNothingReachesTheSnapshot) {
  auto corrupt = DownloadSnapshot(options_, "org/corrupt-model", "main");
  EXPECT_EQ(corrupt.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(corrupt.status().message(), HasSubstr("model.safetensors"));
  EXPECT_THAT(corrupt.status().message(), HasSubstr("sha256"));
  fs::path repo = RepoCache("models--org--corrupt-model");
  std::string commit = ReadFile(repo / "refs" / "main");
  EXPECT_FALSE(fs::exists(repo / "snapshots" / commit / "model.safetensors"));
  std::string sha = Sha256Hex(Served("org/corrupt-model", "model.safetensors"));
  EXPECT_FALSE(fs::exists(repo / "blobs" / sha));
  EXPECT_FALSE(fs::exists(repo / "blobs" / (sha + ".incomplete")));
}

TEST_F(HubServerTest, ServerErrorsAreRetriedThenReported) {
  auto broken = DownloadSnapshot(options_, "org/broken-model", "main");
  EXPECT_EQ(broken.status().code(), StatusCode::kIoError);
  EXPECT_THAT(broken.status().message(), HasSubstr("HTTP 503"));
  EXPECT_EQ(hub_.Count(), 3);  // max_attempts listings
}

TEST_F(HubServerTest, CurlClientReportsStatusRangeAndTransportErrors) {
  auto client = NewCurlHttpClient();
  std::string weights = Served("org/tiny", "model.safetensors");
  std::string blob = hub_.endpoint() + "/blobs/" + Sha256Hex(weights);
  HttpRequest request{blob, {}, uint64_t{1000}};
  auto ranged = HttpGetToString(*client, request);
  ASSERT_TRUE(ranged.ok()) << ranged.status().ToString();
  EXPECT_EQ(ranged->head.status, 206);
  EXPECT_EQ(ranged->body, weights.substr(1000));
  EXPECT_EQ(
      ranged->head.Header("content-range"),
      "bytes 1000-" + std::to_string(weights.size() - 1) + "/" + std::to_string(weights.size()));

  auto redirect = HttpGetToString(
      *client, HttpRequest{hub_.endpoint() + "/org/tiny/resolve/main/model.safetensors", {}, {}});
  ASSERT_TRUE(redirect.ok());
  EXPECT_EQ(redirect->head.status, 302);  // redirects are the caller's to follow
  EXPECT_EQ(NormalizeEtag(redirect->head.Header("x-linked-etag")), Sha256Hex(weights));

  auto missing =
      HttpGetToString(*client, HttpRequest{hub_.endpoint() + "/org/nope/resolve/main/x", {}, {}});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->head.status, 404);
  EXPECT_EQ(missing->head.Header("x-error-code"), "RepoNotFound");

  std::string endpoint = hub_.endpoint();
  hub_.Stop();
  auto refused = HttpGetToString(*client, HttpRequest{endpoint + "/_control/count", {}, {}});
  EXPECT_EQ(refused.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace anec::io
