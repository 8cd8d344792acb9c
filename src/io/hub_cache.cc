#include "io/hub_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

namespace anec::io {
namespace fs = std::filesystem;

namespace {

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && v[0] != '\0') ? std::string(v) : fallback;
}

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

bool IsNamePart(std::string_view part) {
  if (part.empty() || part.size() > 96) return false;
  for (char c : part) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos) {
    return false;
  }
  return part.front() != '-' && part.front() != '.' && part.back() != '-' && part.back() != '.';
}

}  // namespace

std::string HubCacheDirFromEnvironment() {
  if (const char* v = std::getenv("HF_HUB_CACHE"); v != nullptr && v[0] != '\0') return v;
  if (const char* v = std::getenv("HUGGINGFACE_HUB_CACHE"); v != nullptr && v[0] != '\0') return v;
  if (const char* v = std::getenv("HF_HOME"); v != nullptr && v[0] != '\0') {
    return JoinPath(v, "hub");
  }
  std::string xdg = EnvOr("XDG_CACHE_HOME", JoinPath(EnvOr("HOME", "."), ".cache"));
  return JoinPath(JoinPath(xdg, "huggingface"), "hub");
}

Status ValidateRepoId(std::string_view repo_id) {
  size_t slash = repo_id.find('/');
  bool ok = slash == std::string_view::npos
                ? IsNamePart(repo_id)
                : IsNamePart(repo_id.substr(0, slash)) && IsNamePart(repo_id.substr(slash + 1));
  if (!ok) {
    return InvalidArgument(
        "model id '{}' is not a Hugging Face repository id: expected 'org/name' (e.g. "
        "meta-llama/Llama-3.2-1B) made of letters, digits, '-', '_' and '.', without '--' or '..'",
        repo_id);
  }
  return Status::Ok();
}

Status ValidateRevision(std::string_view revision) {
  bool ok = !revision.empty() && revision.front() != '/' && revision.back() != '/' &&
            revision.find("..") == std::string_view::npos &&
            revision.find("//") == std::string_view::npos;
  for (char c : revision) ok = ok && static_cast<unsigned char>(c) > 0x20 && c != '\\';
  if (!ok) {
    return InvalidArgument(
        "revision '{}' is not a branch, tag or commit hash: expected e.g. 'main', 'v1.0' or a "
        "40-hex-digit commit",
        revision);
  }
  return Status::Ok();
}

Status ValidateRepoFilename(std::string_view filename) {
  bool ok = !filename.empty() && filename.front() != '/' && filename.back() != '/';
  size_t start = 0;
  while (ok && start <= filename.size()) {
    size_t end = filename.find('/', start);
    if (end == std::string_view::npos) end = filename.size();
    std::string_view part = filename.substr(start, end - start);
    ok = !part.empty() && part != "." && part != "..";
    start = end + 1;
  }
  for (char c : filename) ok = ok && static_cast<unsigned char>(c) >= 0x20 && c != '\\';
  if (!ok) {
    return InvalidArgument(
        "the Hub listed a file named '{}', which is not a safe relative path; refusing to write "
        "it into the cache",
        filename);
  }
  return Status::Ok();
}

bool IsCommitHash(std::string_view s) { return IsLowerHex(s, 40); }
bool IsSha256Hex(std::string_view s) { return IsLowerHex(s, 64); }

std::string NormalizeEtag(std::string_view etag) {
  if (etag.rfind("W/", 0) == 0) etag.remove_prefix(2);
  std::string out;
  for (char c : etag) {
    if (c != '"') out += c;
  }
  return out;
}

HubRepoCache::HubRepoCache(std::string cache_dir, std::string_view repo_id)
    : fs_(RealFileSystem()) {
  std::string folder = "models";
  size_t start = 0;
  while (start <= repo_id.size()) {
    size_t end = repo_id.find('/', start);
    if (end == std::string_view::npos) end = repo_id.size();
    folder += "--";
    folder += repo_id.substr(start, end - start);
    start = end + 1;
  }
  root_ = JoinPath(cache_dir, folder);
  locks_dir_ = JoinPath(JoinPath(cache_dir, ".locks"), folder);
}

std::string HubRepoCache::BlobPath(std::string_view etag) const {
  return JoinPath(JoinPath(root_, "blobs"), etag);
}
std::string HubRepoCache::IncompletePath(std::string_view etag) const {
  return BlobPath(etag) + ".incomplete";
}
std::string HubRepoCache::LockPath(std::string_view etag) const {
  return JoinPath(locks_dir_, std::string(etag) + ".lock");
}
std::string HubRepoCache::RefPath(std::string_view revision) const {
  return JoinPath(JoinPath(root_, "refs"), revision);
}
std::string HubRepoCache::SnapshotDir(std::string_view commit) const {
  return JoinPath(JoinPath(root_, "snapshots"), commit);
}
std::string HubRepoCache::SnapshotFile(std::string_view commit, std::string_view filename) const {
  return JoinPath(SnapshotDir(commit), filename);
}

Result<std::string> HubRepoCache::ResolveRevision(std::string_view revision) const {
  if (IsCommitHash(revision)) return std::string(revision);
  std::string path = RefPath(revision);
  if (!fs_->Exists(path)) return NotFound("no cached ref {}", path);
  ANEC_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(path));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (!IsCommitHash(text)) {
    return Corrupt(
        "{} should hold a 40-hex-digit commit hash but holds '{}'; delete it and "
        "download again",
        path, text.substr(0, 80));
  }
  return text;
}

Status HubRepoCache::WriteRef(std::string_view revision, std::string_view commit) const {
  if (revision == commit) return Status::Ok();
  std::string path = RefPath(revision);
  if (fs_->Exists(path)) {
    auto current = fs_->ReadFile(path);
    if (current.ok() && *current == commit) return Status::Ok();
  }
  ANEC_RETURN_IF_ERROR(fs_->MakeDirs(Dirname(path)));
  return fs_->WriteFileAtomic(path, commit);
}

bool HubRepoCache::HasSnapshotFile(std::string_view commit, std::string_view filename) const {
  return fs_->Exists(SnapshotFile(commit, filename));  // follows the symlink
}

Status HubRepoCache::LinkSnapshotFile(std::string_view commit, std::string_view filename,
                                      std::string_view etag) const {
  std::string link = SnapshotFile(commit, filename);
  ANEC_RETURN_IF_ERROR(fs_->MakeDirs(Dirname(link)));
  // From snapshots/<commit>/<dirs...>/ back up to the repo folder.
  std::string target = "../../";
  for (char c : filename) {
    if (c == '/') target += "../";
  }
  target += "blobs/";
  target += etag;
  std::string temp = link + ".anec-link-" + std::to_string(getpid()) + "-" +
                     std::to_string(std::random_device{}());
  std::error_code ec;
  fs::create_symlink(target, temp, ec);
  if (ec) {
    return IoError(
        "cannot create symlink {} -> {}: {}; the Hub cache needs a file system with "
        "symlinks",
        temp, target, ec.message());
  }
  fs::rename(temp, link, ec);  // atomically replaces an older link
  if (ec) {
    fs::remove(temp);
    return IoError("cannot rename {} to {}: {}", temp, link, ec.message());
  }
  return Status::Ok();
}

Result<HubFileLock> HubFileLock::Acquire(const std::string& path) {
  ANEC_RETURN_IF_ERROR(RealFileSystem()->MakeDirs(Dirname(path)));
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open lock file {}: {}", path, std::strerror(errno));
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    close(fd);
    return IoError("cannot lock {}: {}", path, std::strerror(err));
  }
  return HubFileLock(fd);
}

HubFileLock::~HubFileLock() {
  if (fd_ >= 0) close(fd_);  // closing releases the flock
}

}  // namespace anec::io
