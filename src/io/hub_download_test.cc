// Unit tests of DownloadSnapshot on FakeHttpClient: the request-level rules (which URLs, which
// headers, retries, file selection). The loopback-server tests are in hub_server_test.cc.
#include "io/hub_download.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/http_fake.h"
#include "io/hub_cache.h"
#include "io/hub_sha256.h"

namespace anec::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHub[] = "https://hub.test";
constexpr char kCdn[] = "https://cdn.test";
const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class HubDownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/anec_hub_dl_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    options_.endpoint = kHub;
    options_.cache_dir = dir_.string();
    options_.http = &http_;
    options_.progress = ProgressMode::kQuiet;
    options_.first_backoff = std::chrono::milliseconds(1);
    options_.max_attempts = 3;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Listing(const std::vector<std::string>& files, const std::string& rev = "main") {
    std::string body = "{\"sha\":\"" + kCommit + "\",\"siblings\":[";
    for (size_t i = 0; i < files.size(); ++i) {
      // Appended piece by piece: GCC 12 -O3 warns falsely (-Wrestrict) on `const char* +
      // string` chains.
      if (i) body += ',';
      body += "{\"rfilename\":\"";
      body += files[i];
      body += "\"}";
    }
    body += "]}";
    http_.OnReply(std::string(kHub) + "/api/models/org/m/revision/" + rev, {200, {}, body, {}});
  }
  // A small file answered directly by the Hub.
  void Small(const std::string& name, const std::string& content) {
    std::string etag = "small-" + std::to_string(std::hash<std::string>()(name + content));
    http_.ServeContent(Resolve(name), content,
                       {{"etag", "\"" + etag + "\""}, {"x-repo-commit", kCommit}});
  }
  // An LFS file: the Hub redirects to the CDN with X-Linked-Etag = sha256.
  void Lfs(const std::string& name, const std::string& content, std::string linked_etag = "") {
    if (linked_etag.empty()) linked_etag = Sha256Hex(content);
    std::string cdn_url = std::string(kCdn) + "/blob/" + name;
    http_.OnReply(Resolve(name), {302,
                                  {{"location", cdn_url},
                                   {"etag", "\"git-oid-of-pointer\""},
                                   {"x-linked-etag", "\"" + linked_etag + "\""},
                                   {"x-linked-size", std::to_string(content.size())},
                                   {"x-repo-commit", kCommit}},
                                  "",
                                  {}});
    http_.ServeContent(cdn_url, content, {{"etag", "\"cdn-etag\""}});
  }
  std::string Resolve(const std::string& name) {
    return std::string(kHub) + "/org/m/resolve/" + kCommit + "/" + name;
  }

  fs::path dir_;
  FakeHttpClient http_;
  HubOptions options_;
};

TEST_F(HubDownloadTest, FetchesOnlyConversionFilesAndNamesBlobsByLinkedEtag) {
  std::string weights(5000, 'w');
  Listing({"config.json", "tokenizer.json", "README.md", "pytorch_model.bin", "model.safetensors",
           "onnx/model.safetensors", "chat_template.jinja"});
  Small("config.json", "{}");
  Small("tokenizer.json", "{\"t\":1}");
  Small("chat_template.jinja", "{{ x }}");
  Lfs("model.safetensors", weights);
  auto snapshot = DownloadSnapshot(options_, "org/m", "main");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ(*snapshot, (dir_ / "models--org--m" / "snapshots" / kCommit).string());
  EXPECT_EQ(fs::read_symlink(fs::path(*snapshot) / "model.safetensors").string(),
            "../../blobs/" + Sha256Hex(weights));  // not the CDN's or the pointer's ETag
  EXPECT_EQ(ReadAll(fs::path(*snapshot) / "chat_template.jinja"), "{{ x }}");
  for (const auto& r : http_.requests()) {
    EXPECT_THAT(r.url, Not(HasSubstr("README")));
    EXPECT_THAT(r.url, Not(HasSubstr(".bin")));
    EXPECT_THAT(r.url, Not(HasSubstr("onnx")));
  }
  EXPECT_EQ(http_.request_count(), 1u + 3u + 2u);
}

TEST_F(HubDownloadTest, TokenGoesToTheHubOnlyNeverToTheCdn) {
  options_.token = "hf_abc";
  Listing({"config.json", "model.safetensors"});
  Small("config.json", "{}");
  Lfs("model.safetensors", "weights");
  ASSERT_TRUE(DownloadSnapshot(options_, "org/m", "main").ok());
  for (const auto& r : http_.requests()) {
    bool to_hub = r.url.rfind(kHub, 0) == 0;
    bool has_auth = false;
    for (const auto& [name, value] : r.headers) {
      if (name == "Authorization") {
        has_auth = true;
        EXPECT_EQ(value, "Bearer hf_abc");
      }
    }
    EXPECT_EQ(has_auth, to_hub) << r.url;
  }
}

TEST_F(HubDownloadTest, NetworkFailuresAreRetriedWithinTheBound) {
  Listing({"config.json", "model.safetensors"});
  Small("config.json", "{}");
  Lfs("model.safetensors", "weights");
  http_.FailNext(2);  // the listing fails twice, succeeds on the third (last) attempt
  auto ok = DownloadSnapshot(options_, "org/m", "main");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();

  fs::remove_all(dir_);
  http_.FailNext(3);
  auto failed = DownloadSnapshot(options_, "org/m", "main");
  EXPECT_EQ(failed.status().code(), StatusCode::kIoError);
  EXPECT_THAT(failed.status().message(), HasSubstr("after 3 attempts"));
  EXPECT_THAT(failed.status().message(), HasSubstr("connection refused"));
}

TEST_F(HubDownloadTest, RepositoryWithoutSafetensorsIsUnsupported) {
  Listing({"config.json", "pytorch_model.bin"});
  auto r = DownloadSnapshot(options_, "org/m", "main");
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(r.status().message(), HasSubstr("safetensors"));
  EXPECT_THAT(r.status().message(), HasSubstr("pytorch_model.bin"));
}

TEST_F(HubDownloadTest, ListedPathsOutsideTheRootAreNeverFetched) {
  Listing({"config.json", "../../../escape.safetensors", "sub/../../x.safetensors",
           "model.safetensors"});
  Small("config.json", "{}");
  Lfs("model.safetensors", "weights");
  auto r = DownloadSnapshot(options_, "org/m", "main");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const auto& req : http_.requests()) EXPECT_THAT(req.url, Not(HasSubstr("..")));
  EXPECT_FALSE(fs::exists(dir_ / "escape.safetensors"));
  EXPECT_EQ(http_.request_count(), 1u + 1u + 2u);
}

TEST_F(HubDownloadTest, ShardsNamedByTheIndexMustAllExist) {
  std::string index =
      R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                         "b": "model-00002-of-00002.safetensors"}})";
  Listing({"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"});
  Small("config.json", "{}");
  Small("model.safetensors.index.json", index);
  Lfs("model-00001-of-00002.safetensors", "shard one");
  auto r = DownloadSnapshot(options_, "org/m", "main");
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(r.status().message(), HasSubstr("model-00002-of-00002.safetensors"));

  fs::path snap = dir_ / "models--org--m" / "snapshots" / kCommit;
  EXPECT_EQ(MissingSnapshotFiles(snap.string()),
            std::vector<std::string>{"model-00002-of-00002.safetensors"});
}

TEST_F(HubDownloadTest, LinkedEtagMismatchIsCorrupt) {
  Listing({"config.json", "model.safetensors"});
  Small("config.json", "{}");
  Lfs("model.safetensors", "real bytes", Sha256Hex("other bytes"));
  auto r = DownloadSnapshot(options_, "org/m", "main");
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_FALSE(fs::exists(dir_ / "models--org--m" / "snapshots" / kCommit / "model.safetensors"));
}

TEST_F(HubDownloadTest, ProgressLinesWhenNotATerminal) {
  char* text = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  options_.progress = ProgressMode::kAuto;  // a memstream is not a TTY: plain lines
  options_.progress_out = out;
  Listing({"config.json", "model.safetensors"});
  Small("config.json", "{}");
  Lfs("model.safetensors", std::string(3000, 'x'));
  ASSERT_TRUE(DownloadSnapshot(options_, "org/m", "main").ok());
  std::fclose(out);
  std::string log(text, size);
  std::free(text);
  EXPECT_THAT(log, HasSubstr("downloading model.safetensors (2.9 KiB)"));
  EXPECT_THAT(log, HasSubstr("downloaded model.safetensors: 2.9 KiB / 2.9 KiB"));
  EXPECT_THAT(log, Not(HasSubstr("\r")));
}

// The layout huggingface_hub 2.4 writes (observed on the fake Hub), including the extra entries
// it adds (trees/, CACHEDIR.TAG, .locks/): read offline, without any request.
TEST_F(HubDownloadTest, ReadsASnapshotWrittenByHuggingFaceHub) {
  fs::path repo = dir_ / "models--org--m";
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "trees");
  fs::create_directories(repo / "snapshots" / kCommit);
  fs::create_directories(dir_ / ".locks" / "models--org--m");
  std::ofstream(dir_ / "CACHEDIR.TAG") << "Signature: 8a477f597d28d172789f06886806bc55\n";
  std::ofstream(repo / "trees" / (kCommit + ".json")) << "[]";
  std::ofstream(repo / "refs" / "main") << kCommit;  // no trailing newline, as HF writes it
  std::string sha = Sha256Hex("weights");
  std::ofstream(repo / "blobs" / "479e18224e7827e7909c8a78f287e3306c1de8bb") << "{}";
  std::ofstream(repo / "blobs" / sha) << "weights";
  fs::create_symlink("../../blobs/479e18224e7827e7909c8a78f287e3306c1de8bb",
                     repo / "snapshots" / kCommit / "config.json");
  fs::create_symlink("../../blobs/" + sha, repo / "snapshots" / kCommit / "model.safetensors");
  options_.offline = true;
  auto r = DownloadSnapshot(options_, "org/m", "main");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadAll(fs::path(*r) / "model.safetensors"), "weights");
  options_.offline = false;
  ASSERT_TRUE(DownloadSnapshot(options_, "org/m", "main").ok());
  EXPECT_EQ(http_.request_count(), 0u);

  // A snapshot missing its weights is not complete: offline says what is missing.
  fs::remove(repo / "snapshots" / kCommit / "model.safetensors");
  options_.offline = true;
  auto incomplete = DownloadSnapshot(options_, "org/m", "main");
  EXPECT_EQ(incomplete.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(incomplete.status().message(), HasSubstr("*.safetensors"));
}

TEST(HubOptionsTest, FormatsAndEnvironmentValues) {
  EXPECT_EQ(FormatBytes(12), "12 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{3} << 30), "3.0 GiB");
  EXPECT_TRUE(IsTruthyEnvValue("1"));
  EXPECT_TRUE(IsTruthyEnvValue("TRUE"));
  EXPECT_TRUE(IsTruthyEnvValue("on"));
  EXPECT_FALSE(IsTruthyEnvValue("0"));
  EXPECT_FALSE(IsTruthyEnvValue(""));
  EXPECT_TRUE(IsFileNeededForConversion("model-00001-of-00004.safetensors"));
  EXPECT_TRUE(IsFileNeededForConversion("tokenizer.model"));
  EXPECT_TRUE(IsFileNeededForConversion("merges.txt"));
  EXPECT_FALSE(IsFileNeededForConversion("original/model.safetensors"));
  EXPECT_FALSE(IsFileNeededForConversion("pytorch_model.bin"));
  EXPECT_FALSE(IsFileNeededForConversion("README.md"));
}

}  // namespace
}  // namespace anec::io
