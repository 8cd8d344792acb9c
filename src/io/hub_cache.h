// HubCache: where files of a Hugging Face Hub model repository live in the standard Hub cache,
// the layout huggingface_hub uses, so files fetched by other HF tools are reused and ours are seen
// by them:
//
//   <cache>/models--<org>--<name>/
//     blobs/<etag>               file contents, named by the Hub's ETag (sha256 for LFS files)
//     blobs/<etag>.incomplete    a download in progress (resumed with HTTP Range)
//     refs/<revision>            text file holding the commit hash the revision pointed to
//     snapshots/<commit>/<file>  relative symlink to ../../blobs/<etag>
//   <cache>/.locks/models--<org>--<name>/<etag>.lock   advisory lock held while writing a blob
//
// Reads, directories, renames and ref writes go through anec::FileSystem; the symlinks and the
// appendable `.incomplete` files use POSIX directly because FileSystem has neither symlinks nor
// append-to-existing (its writers always start a fresh temporary). The cache is therefore always
// on the real disk.
#pragma once

#include <string>
#include <string_view>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::io {

// The cache directory from the environment: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
std::string HubCacheDirFromEnvironment();

// "org/name" (or "name"): letters, digits, '-', '_', '.'; no "--" or ".." and no leading/trailing
// separators. The message says what is wrong and shows the expected form.
Status ValidateRepoId(std::string_view repo_id);
// A branch, tag or commit: no "..", no leading '/', no control characters.
Status ValidateRevision(std::string_view revision);
// A path inside a repository, as listed by the Hub: relative, no ".." or empty segments.
Status ValidateRepoFilename(std::string_view filename);

bool IsCommitHash(std::string_view s);  // 40 lower-case hex digits
bool IsSha256Hex(std::string_view s);   // 64 lower-case hex digits

// Strips a weak-validator prefix (W/) and the quotes of an HTTP ETag.
std::string NormalizeEtag(std::string_view etag);

class HubRepoCache {
 public:
  // REQUIRES: ValidateRepoId(repo_id).ok().
  HubRepoCache(std::string cache_dir, std::string_view repo_id);

  const std::string& root() const { return root_; }
  std::string BlobPath(std::string_view etag) const;
  std::string IncompletePath(std::string_view etag) const;
  std::string LockPath(std::string_view etag) const;
  std::string RefPath(std::string_view revision) const;
  std::string SnapshotDir(std::string_view commit) const;
  std::string SnapshotFile(std::string_view commit, std::string_view filename) const;

  // The commit a revision resolves to: the revision itself when it is a commit hash, else the
  // content of refs/<revision>. NotFound when the ref was never cached.
  Result<std::string> ResolveRevision(std::string_view revision) const;
  // Records revision -> commit (no-op when revision is the commit itself or already recorded).
  Status WriteRef(std::string_view revision, std::string_view commit) const;
  // True when snapshots/<commit>/<filename> exists and its target exists.
  bool HasSnapshotFile(std::string_view commit, std::string_view filename) const;
  // Points snapshots/<commit>/<filename> at blobs/<etag> (relative symlink, replaced atomically).
  // REQUIRES: the blob exists.
  Status LinkSnapshotFile(std::string_view commit, std::string_view filename,
                          std::string_view etag) const;

 private:
  std::string root_;
  std::string locks_dir_;
  FileSystem* fs_;
};

// An exclusive advisory lock (flock) on a file, interoperable with huggingface_hub's locks.
// Released on destruction.
class HubFileLock {
 public:
  static Result<HubFileLock> Acquire(const std::string& path);
  HubFileLock(HubFileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  HubFileLock& operator=(HubFileLock&&) = delete;
  ~HubFileLock();

 private:
  explicit HubFileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace anec::io
