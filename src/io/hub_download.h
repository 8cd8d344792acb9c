// DownloadSnapshot: fetches what anec needs to convert a Hugging Face Hub model (config, tokenizer,
// safetensors weights) into the standard Hub cache (hub_cache.h) and returns the local snapshot
// directory, ready for the checkpoint readers. Used by `anec download` and `anec convert
// --model-id`. docs/HUB.md describes the behaviour and environment variables.
//
// Guarantees:
//   - Nothing half-downloaded is ever visible in snapshots/: bytes go to blobs/<etag>.incomplete,
//     are verified (sha256 for LFS files, length otherwise), renamed to blobs/<etag>, and only
//     then linked from snapshots/<commit>/<file>.
//   - An interrupted download resumes from its .incomplete file with an HTTP Range request.
//   - A revision whose cached snapshot is complete is served with zero network requests (unless
//     `refresh`); offline mode never touches the network.
//   - The token is sent only to the endpoint's host and never appears in messages.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/http_client.h"
#include "io/hub_progress.h"

namespace anec::io {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // no trailing '/'
  std::string cache_dir;                            // REQUIRED: the hub cache root
  std::optional<std::string> token;                 // sent as "Authorization: Bearer ..."
  bool offline = false;                             // use the cache only (HF_HUB_OFFLINE=1)
  bool refresh = false;  // ask the Hub what the revision points to even if the cache is complete
  int max_attempts = 5;  // per request, for network failures, HTTP 429 and 5xx
  std::chrono::milliseconds first_backoff{1000};  // doubled after each failure, capped at 30 s
  ProgressMode progress = ProgressMode::kAuto;
  std::FILE* progress_out = stderr;  // null: quiet
  // The network. Null: a libcurl client is created for the call. Not owned.
  HttpClient* http = nullptr;
};

// Options from the environment: HF_ENDPOINT, HF_HUB_CACHE / HF_HOME, HF_TOKEN (else the token
// file $HF_TOKEN_PATH or $HF_HOME/token, default ~/.cache/huggingface/token), HF_HUB_OFFLINE.
HubOptions HubOptionsFromEnvironment();

// True for "1", "true", "yes", "on" in any case.
bool IsTruthyEnvValue(std::string_view value);

// Whether conversion needs a repository file (config, generation config, tokenizer files,
// top-level *.safetensors and their index).
bool IsFileNeededForConversion(std::string_view filename);

// Downloads (or finds in the cache) the files of `repo_id` at `revision` (branch, tag or commit;
// empty means "main") that conversion needs. Returns the absolute snapshot directory.
// Errors: kPermissionDenied for gated/private repos (401/403), kNotFound for an unknown repo,
// revision or uncached offline request, kCorrupt for a checksum mismatch, kIoError when the
// network keeps failing after retries.
Result<std::string> DownloadSnapshot(const HubOptions& options, std::string_view repo_id,
                                     std::string_view revision);

// The files of a snapshot directory that conversion needs but are missing, judged from what is
// there: config.json, and either every shard named by model.safetensors.index.json or at least
// one *.safetensors. Empty when complete.
std::vector<std::string> MissingSnapshotFiles(const std::string& snapshot_dir);

}  // namespace anec::io
