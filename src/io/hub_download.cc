#include "io/hub_download.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/hub_cache.h"
#include "io/hub_session.h"

namespace anec::io {
namespace {

using hub_internal::HubSession;

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string TrimWhitespace(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct RepoListing {
  std::string commit;
  std::vector<std::string> files;
};

// GET {endpoint}/api/models/{repo}/revision/{rev}: the commit and the file names.
Result<RepoListing> ListRepo(const HubSession& session) {
  const HubOptions& o = *session.options;
  std::string url = fmt::format("{}/api/models/{}/revision/{}", o.endpoint, session.repo_id,
                                hub_internal::PercentEncode(session.revision, false));
  int attempts = std::max(1, o.max_attempts);
  Status last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) hub_internal::BackoffBeforeRetry(session, attempt, last);
    HttpRequest request{url, hub_internal::RequestHeaders(session, url), std::nullopt};
    Result<HttpResponse> response = HttpGetToString(*session.http, request);
    if (!response.ok()) {
      last = response.status();
      if (last.code() == StatusCode::kIoError) continue;
      return last;
    }
    int status = response->head.status;
    if (status != 200) {
      last = hub_internal::HttpStatusError(session, response->head, response->body, "");
      if (hub_internal::IsRetryableStatus(status)) continue;
      return last;
    }
    auto json = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object() || !json.contains("sha") ||
        !json["sha"].is_string() || !json.contains("siblings") || !json["siblings"].is_array()) {
      return Corrupt(
          "{} did not answer with the Hub's model JSON (expected \"sha\" and "
          "\"siblings\"); check HF_ENDPOINT ({})",
          url, o.endpoint);
    }
    RepoListing listing;
    listing.commit = json["sha"].get<std::string>();
    if (!IsCommitHash(listing.commit)) {
      return Corrupt("{}: \"sha\" is '{}', expected a 40-hex-digit commit", url,
                     listing.commit.substr(0, 80));
    }
    for (const auto& sibling : json["siblings"]) {
      if (sibling.is_object() && sibling.contains("rfilename") &&
          sibling["rfilename"].is_string()) {
        listing.files.push_back(sibling["rfilename"].get<std::string>());
      }
    }
    return listing;
  }
  return IoError(
      "could not list {} at revision '{}' on {} after {} attempts: {}. Check the "
      "network and HF_ENDPOINT",
      session.repo_id, session.revision, o.endpoint, attempts, last.message());
}

}  // namespace

bool IsTruthyEnvValue(std::string_view value) {
  std::string v(value);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

HubOptions HubOptionsFromEnvironment() {
  HubOptions o;
  std::string endpoint = Getenv("HF_ENDPOINT");
  if (!endpoint.empty()) o.endpoint = endpoint;
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  o.cache_dir = HubCacheDirFromEnvironment();
  o.offline = IsTruthyEnvValue(Getenv("HF_HUB_OFFLINE"));
  std::string token = TrimWhitespace(Getenv("HF_TOKEN"));
  if (token.empty()) {
    std::string path = Getenv("HF_TOKEN_PATH");
    if (path.empty()) {
      std::string home = Getenv("HF_HOME");
      if (home.empty()) {
        std::string xdg = Getenv("XDG_CACHE_HOME");
        if (xdg.empty()) xdg = JoinPath(Getenv("HOME").empty() ? "." : Getenv("HOME"), ".cache");
        home = JoinPath(xdg, "huggingface");
      }
      path = JoinPath(home, "token");
    }
    if (RealFileSystem()->Exists(path)) {
      auto text = RealFileSystem()->ReadFile(path);
      if (text.ok()) token = TrimWhitespace(*text);
    }
  }
  if (!token.empty()) o.token = token;
  return o;
}

bool IsFileNeededForConversion(std::string_view filename) {
  static const char* kNames[] = {
      "config.json",        "generation_config.json",
      "tokenizer.json",     "tokenizer_config.json",
      "tokenizer.model",    "special_tokens_map.json",
      "vocab.json",         "merges.txt",
      "added_tokens.json",  "chat_template.jinja",
      "chat_template.json", "model.safetensors.index.json",
  };
  if (filename.find('/') != std::string_view::npos) return false;  // the root only
  for (const char* name : kNames) {
    if (filename == name) return true;
  }
  return EndsWith(filename, ".safetensors");
}

std::vector<std::string> MissingSnapshotFiles(const std::string& snapshot_dir) {
  FileSystem* fs = RealFileSystem();
  std::vector<std::string> missing;
  if (!fs->Exists(JoinPath(snapshot_dir, "config.json"))) missing.push_back("config.json");
  std::string index_path = JoinPath(snapshot_dir, "model.safetensors.index.json");
  if (fs->Exists(index_path)) {
    auto text = fs->ReadFile(index_path);
    auto json = text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object()) {
      missing.push_back("model.safetensors.index.json (unreadable)");
      return missing;
    }
    std::vector<std::string> shards;
    for (const auto& [tensor, shard] : json["weight_map"].items()) {
      if (shard.is_string()) shards.push_back(shard.get<std::string>());
    }
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    for (const std::string& shard : shards) {
      if (!ValidateRepoFilename(shard).ok() || !fs->Exists(JoinPath(snapshot_dir, shard))) {
        missing.push_back(shard);
      }
    }
    return missing;
  }
  auto names = fs->ListDir(snapshot_dir);
  bool any = false;
  if (names.ok()) {
    for (const std::string& n : *names) {
      any = any || (EndsWith(n, ".safetensors") && fs->Exists(JoinPath(snapshot_dir, n)));
    }
  }
  if (!any) missing.push_back("*.safetensors");
  return missing;
}

Result<std::string> DownloadSnapshot(const HubOptions& options, std::string_view repo_id,
                                     std::string_view revision_in) {
  std::string revision = revision_in.empty() ? "main" : std::string(revision_in);
  ANEC_RETURN_IF_ERROR(ValidateRepoId(repo_id));
  ANEC_RETURN_IF_ERROR(ValidateRevision(revision));
  if (options.cache_dir.empty()) return InvalidArgument("HubOptions.cache_dir is empty");
  std::error_code ec;
  std::string cache_dir = std::filesystem::absolute(options.cache_dir, ec).lexically_normal();
  if (ec) return IoError("cannot resolve cache directory {}: {}", options.cache_dir, ec.message());
  HubRepoCache cache(cache_dir, repo_id);

  // The cache first: a complete snapshot of a known revision needs no network at all.
  Result<std::string> cached_commit = cache.ResolveRevision(revision);
  if (cached_commit.ok() && (!options.refresh || options.offline) &&
      MissingSnapshotFiles(cache.SnapshotDir(*cached_commit)).empty()) {
    return cache.SnapshotDir(*cached_commit);
  }
  if (options.offline) {
    if (!cached_commit.ok()) {
      return NotFound(
          "HF_HUB_OFFLINE is set and {} at revision '{}' is not in the cache {} (no "
          "{}); download it once while online, or unset HF_HUB_OFFLINE",
          repo_id, revision, cache_dir, cache.RefPath(revision));
    }
    std::vector<std::string> missing = MissingSnapshotFiles(cache.SnapshotDir(*cached_commit));
    return NotFound(
        "HF_HUB_OFFLINE is set and the cached snapshot {} of {} lacks {}; download "
        "it once while online, or unset HF_HUB_OFFLINE",
        cache.SnapshotDir(*cached_commit), repo_id, fmt::join(missing, ", "));
  }

  std::unique_ptr<HttpClient> own_client;
  HttpClient* http = options.http;
  if (http == nullptr) {
    own_client = NewCurlHttpClient();
    http = own_client.get();
  }
  HubProgress progress(options.progress_out, options.progress);
  HubOptions normalized = options;
  while (!normalized.endpoint.empty() && normalized.endpoint.back() == '/') {
    normalized.endpoint.pop_back();
  }
  normalized.cache_dir = cache_dir;
  HubSession session{&normalized, http, &progress, &cache, std::string(repo_id), revision};

  ANEC_ASSIGN_OR_RETURN(RepoListing listing, ListRepo(session));
  std::vector<std::string> wanted;
  bool has_config = false, has_weights = false;
  for (const std::string& f : listing.files) {
    if (!IsFileNeededForConversion(f)) continue;
    ANEC_RETURN_IF_ERROR(ValidateRepoFilename(f));
    wanted.push_back(f);
    has_config = has_config || f == "config.json";
    has_weights = has_weights || EndsWith(f, ".safetensors");
  }
  if (!has_config || !has_weights) {
    std::vector<std::string> shown(
        listing.files.begin(), listing.files.begin() + std::min<size_t>(listing.files.size(), 12));
    return Unsupported(
        "{} at revision '{}' has no {}: anec converts transformers checkpoints "
        "(config.json + *.safetensors); the repository holds: {}{}",
        repo_id, revision, has_config ? "*.safetensors weights" : "config.json",
        fmt::join(shown, ", "), listing.files.size() > shown.size() ? ", ..." : "");
  }
  ANEC_RETURN_IF_ERROR(cache.WriteRef(revision, listing.commit));
  for (const std::string& f : wanted) {
    if (cache.HasSnapshotFile(listing.commit, f)) continue;
    ANEC_RETURN_IF_ERROR(hub_internal::FetchRepoFile(session, listing.commit, f));
  }
  std::string snapshot = cache.SnapshotDir(listing.commit);
  std::vector<std::string> missing = MissingSnapshotFiles(snapshot);
  if (!missing.empty()) {
    return Corrupt(
        "{} at revision '{}' is incomplete on the Hub: {} is missing ({} names it); "
        "pin another --revision",
        repo_id, revision, fmt::join(missing, ", "), "model.safetensors.index.json");
  }
  return snapshot;
}

}  // namespace anec::io
