// One repository file: Hub resolve URL -> (302 to the CDN) -> blobs/<etag>.incomplete -> verified
// blobs/<etag> -> snapshots/<commit>/<file>. See hub_download.h for the guarantees.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "io/hub_session.h"
#include "io/hub_sha256.h"

namespace anec::io::hub_internal {
namespace {

constexpr int kMaxRedirects = 10;

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// What the Hub (not the CDN) says about the file.
struct FileMeta {
  std::string etag;              // normalized; sha256 hex for LFS files
  std::optional<uint64_t> size;  // X-Linked-Size (LFS) or the direct answer's length
};

void TakeHubMeta(const HttpResponseHead& head, FileMeta* meta) {
  std::string linked = head.Header("x-linked-etag");
  std::string etag = head.Header("etag");
  if (!linked.empty()) {
    meta->etag = NormalizeEtag(linked);
  } else if (!etag.empty()) {
    meta->etag = NormalizeEtag(etag);
  }
  if (auto s = ParseU64(head.Header("x-linked-size"))) {
    meta->size = s;
  } else if (head.status == 200) {
    if (auto n = ParseU64(head.Header("content-length"))) meta->size = n;
  }
}

// Streams a 200/206 answer into blobs/<etag>.incomplete; keeps the start of any other body.
class BlobSink : public HttpSink {
 public:
  BlobSink(const HubSession& session, FileMeta* meta, bool hub_hop, uint64_t offset,
           std::string_view filename, std::optional<HubFileLock>* lock)
      : session_(session),
        meta_(meta),
        hub_hop_(hub_hop),
        offset_(offset),
        filename_(filename),
        lock_(lock) {}
  ~BlobSink() override { (void)Close(); }

  Status OnHead(const HttpResponseHead& head) override {
    if (hub_hop_) TakeHubMeta(head, meta_);
    if (head.status != 200 && head.status != 206) return Status::Ok();
    if (meta_->etag.empty()) {
      local_failure_ = true;
      return Corrupt(
          "the Hub's answer for {} of {} has no ETag, so it cannot be placed in the "
          "cache; check HF_ENDPOINT ({}) points at a Hugging Face Hub",
          filename_, session_.repo_id, session_.options->endpoint);
    }
    if (!lock_->has_value()) {
      auto lock = HubFileLock::Acquire(session_.cache->LockPath(meta_->etag));
      if (!lock.ok()) return Fail(lock.status());
      lock_->emplace(std::move(lock).value());
    }
    path_ = session_.cache->IncompletePath(meta_->etag);
    Status made = RealFileSystem()->MakeDirs(Dirname(path_));
    if (!made.ok()) return Fail(made);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    if (head.status == 206) {
      // "bytes START-END/TOTAL": must continue exactly where the partial file ends.
      std::string range = head.Header("content-range");
      size_t dash = range.find('-'), slash = range.find('/');
      auto start = range.rfind("bytes ", 0) == 0 && dash != std::string::npos
                       ? ParseU64(std::string_view(range).substr(6, dash - 6))
                       : std::nullopt;
      if (!start || *start != offset_) {
        unlink(path_.c_str());  // the next attempt starts over from byte 0
        return IoError("resuming {}: asked for bytes from {} but the server sent '{}'", filename_,
                       offset_, range);
      }
      if (slash != std::string::npos)
        expected_ = ParseU64(std::string_view(range).substr(slash + 1));
      flags |= O_APPEND;
    } else {
      offset_ = 0;
      expected_ = ParseU64(head.Header("content-length"));
      flags |= O_TRUNC;
    }
    fd_ = open(path_.c_str(), flags, 0644);
    if (fd_ < 0) return Fail(IoError("cannot open {}: {}", path_, std::strerror(errno)));
    struct stat st;
    if (fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) != offset_) {
      return IoError("{} changed size while resuming (another process?); retrying", path_);
    }
    session_.progress->Start(filename_, expected_.value_or(0), offset_);
    return Status::Ok();
  }

  Status OnData(std::string_view bytes) override {
    if (fd_ < 0) {
      if (error_body_.size() < 2048) error_body_.append(bytes.substr(0, 2048));
      return Status::Ok();
    }
    while (!bytes.empty()) {
      ssize_t n = write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Fail(IoError("cannot write {}: {} (is the disk full? the cache is {})", path_,
                            std::strerror(errno), session_.options->cache_dir));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      session_.progress->Advance(static_cast<uint64_t>(n));
    }
    return Status::Ok();
  }

  Status Close() {
    if (fd_ < 0) return Status::Ok();
    int fd = fd_;
    fd_ = -1;
    session_.progress->Finish();
    if (close(fd) != 0) return Fail(IoError("cannot close {}: {}", path_, std::strerror(errno)));
    return Status::Ok();
  }

  bool local_failure() const { return local_failure_; }
  const std::string& error_body() const { return error_body_; }
  std::optional<uint64_t> expected_size() const { return expected_; }

 private:
  Status Fail(Status s) {
    local_failure_ = true;  // a disk or lock problem: retrying the network will not help
    return s;
  }

  const HubSession& session_;
  FileMeta* meta_;
  bool hub_hop_;
  uint64_t offset_;
  std::string filename_;
  std::optional<HubFileLock>* lock_;
  std::string path_;
  int fd_ = -1;
  std::optional<uint64_t> expected_;
  std::string error_body_;
  bool local_failure_ = false;
};

// Verifies blobs/<etag>.incomplete, renames it to blobs/<etag>, links the snapshot file.
Status Finalize(const HubSession& session, std::string_view commit, std::string_view filename,
                const FileMeta& meta, std::optional<uint64_t> expected, bool* retryable) {
  FileSystem* fs = RealFileSystem();
  const HubRepoCache& cache = *session.cache;
  std::string path = cache.IncompletePath(meta.etag);
  ANEC_ASSIGN_OR_RETURN(uint64_t size, fs->FileSize(path));
  if (expected && size < *expected) {
    *retryable = true;
    return IoError("{}: only {} of {} bytes arrived", filename, size, *expected);
  }
  std::string problem;
  if ((expected && size != *expected) || (meta.size && size != *meta.size)) {
    problem = fmt::format("has {} bytes but the Hub announced {}", size,
                          meta.size.value_or(expected.value_or(0)));
  } else if (IsSha256Hex(meta.etag)) {
    ANEC_ASSIGN_OR_RETURN(std::string sha, Sha256FileHex(path));
    if (sha != meta.etag) {
      problem = fmt::format("has sha256 {} but the Hub's ETag says {}", sha, meta.etag);
    }
  }
  if (!problem.empty()) {
    (void)fs->RemoveAll(path);  // resuming a corrupt file could never succeed
    return Corrupt(
        "{} of {} at revision '{}' {}: the download was corrupted (or altered by a "
        "proxy) and was deleted; nothing was added to the snapshot. Run again to "
        "download it afresh",
        filename, session.repo_id, session.revision, problem);
  }
  ANEC_RETURN_IF_ERROR(fs->Rename(path, cache.BlobPath(meta.etag)));
  return cache.LinkSnapshotFile(commit, filename, meta.etag);
}

Status TryFetchOnce(const HubSession& session, std::string_view commit, std::string_view filename,
                    bool* retryable) {
  const HubRepoCache& cache = *session.cache;
  FileSystem* fs = RealFileSystem();
  std::string url = fmt::format("{}/{}/resolve/{}/{}", session.options->endpoint, session.repo_id,
                                commit, PercentEncode(filename, true));
  FileMeta meta;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    bool hub_hop = UrlOrigin(url) == UrlOrigin(session.options->endpoint);
    std::optional<HubFileLock> lock;
    uint64_t offset = 0;
    if (!meta.etag.empty()) {
      // The content is known by now (a redirect carried its ETag): reuse or resume it.
      if (fs->Exists(cache.BlobPath(meta.etag))) {
        return cache.LinkSnapshotFile(commit, filename, meta.etag);
      }
      ANEC_ASSIGN_OR_RETURN(HubFileLock held, HubFileLock::Acquire(cache.LockPath(meta.etag)));
      lock.emplace(std::move(held));
      if (fs->Exists(cache.BlobPath(meta.etag))) {  // another process finished it meanwhile
        return cache.LinkSnapshotFile(commit, filename, meta.etag);
      }
      if (auto partial = fs->FileSize(cache.IncompletePath(meta.etag)); partial.ok()) {
        offset = *partial;
        if (offset > 0) {
          session.progress->Note(fmt::format("resuming {} from {}", filename, FormatBytes(offset)));
        }
      }
      // Fail before the transfer rather than hours into it.
      auto free_bytes = fs->FreeSpace(cache.root());
      if (meta.size && free_bytes.ok() && *meta.size > offset &&
          *free_bytes < *meta.size - offset) {
        return IoError(
            "{} needs {} more but only {} is free in {}; free some space or point "
            "HF_HUB_CACHE elsewhere",
            filename, FormatBytes(*meta.size - offset), FormatBytes(*free_bytes),
            session.options->cache_dir);
      }
    }
    BlobSink sink(session, &meta, hub_hop, offset, filename, &lock);
    HttpRequest request{url, RequestHeaders(session, url), std::nullopt};
    if (offset > 0) request.range_start = offset;
    Result<HttpResponseHead> head = session.http->Get(request, sink);
    Status closed = sink.Close();
    if (!head.ok()) {
      *retryable = !sink.local_failure() && head.status().code() == StatusCode::kIoError;
      return head.status();
    }
    ANEC_RETURN_IF_ERROR(closed);
    int status = head->status;
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      std::string location = head->Header("location");
      if (location.empty()) {
        return IoError("{} answered HTTP {} without a Location header", url, status);
      }
      url = ResolveLocation(url, location);
      continue;
    }
    if (status == 200 || status == 206) {
      return Finalize(session, commit, filename, meta, sink.expected_size(), retryable);
    }
    if (status == 416 && !meta.etag.empty()) {
      // The partial file does not fit the remote one any more: start over.
      (void)fs->RemoveAll(cache.IncompletePath(meta.etag));
      *retryable = true;
      return IoError("the server refused to resume {} (HTTP 416); restarting it", filename);
    }
    *retryable = IsRetryableStatus(status);
    return HttpStatusError(session, *head, sink.error_body(), filename);
  }
  return IoError("{} of {}: more than {} redirects", filename, session.repo_id, kMaxRedirects);
}

}  // namespace

Status FetchRepoFile(const HubSession& session, std::string_view commit,
                     std::string_view filename) {
  ANEC_RETURN_IF_ERROR(ValidateRepoFilename(filename));
  int attempts = std::max(1, session.options->max_attempts);
  Status last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) BackoffBeforeRetry(session, attempt, last);
    bool retryable = false;
    last = TryFetchOnce(session, commit, filename, &retryable);
    if (last.ok() || !retryable) return last;
  }
  return IoError(
      "could not download {} of {} at revision '{}' after {} attempts: {}. Check the "
      "network (and HF_ENDPOINT={}); bytes already fetched stay in {}/blobs and the "
      "next run resumes from them",
      filename, session.repo_id, session.revision, attempts, last.message(),
      session.options->endpoint, session.cache->root());
}

}  // namespace anec::io::hub_internal
