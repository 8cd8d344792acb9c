// DiskFullFileSystem: a FileSystem decorator for tests whose N-th write operation fails as a full
// disk does (StatusCode::kNoSpace, "No space left on device", naming the path), and every write
// after it too, until Refill(). Counts as one write each: OpenForWrite, Append, PatchAt, Close,
// MakeDirs of a new folder, Rename and LinkOrCopy (a real disk can refuse any of them when full:
// a rename may need a new directory block). RemoveAll and reads pass through; FreeSpace reports
// 0 once full. The counters are atomic; the rest is as thread-safe as the wrapped file system.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/file_system.h"

namespace anec::pipeline {

class DiskFullFileSystem : public FileSystem {
 public:
  // fail_at = 0: never fails (counts only). REQUIRES: `base` outlives this object.
  DiskFullFileSystem(FileSystem* base, uint64_t fail_at) : base_(base), fail_at_(fail_at) {}

  uint64_t writes() const { return writes_; }  // write operations attempted so far
  void Refill() { fail_at_ = 0; }              // space freed: writes succeed again
  // The kind of every write attempted so far, in order ("cannot create", "cannot write",
  // "cannot rename into place", ...), and the kind of the first one that failed ("" while none
  // has).
  std::vector<std::string> write_kinds() const;
  std::string first_failed_kind() const;

  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Result<std::unique_ptr<MappedFile>> Map(const std::string& path) override {
    return base_->Map(path);
  }
  Result<std::unique_ptr<WritableFile>> OpenForWrite(const std::string& path) override;
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  bool IsDirectory(const std::string& path) override { return base_->IsDirectory(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  Status MakeDirs(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RemoveAll(const std::string& path) override;
  Status LinkOrCopy(const std::string& from, const std::string& to) override;
  Result<uint64_t> FreeSpace(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> TryLock(const std::string& path) override {
    return base_->TryLock(path);
  }

  // Counts one write on `path`; the failure it must return, if any.
  Status Write(const std::string& what, const std::string& path);

 private:
  FileSystem* base_;
  std::atomic<uint64_t> fail_at_;
  std::atomic<uint64_t> writes_{0};
  std::atomic<bool> full_{false};
  mutable std::mutex mu_;  // guards the two below
  std::vector<std::string> write_kinds_;
  std::string first_failed_kind_;
};

}  // namespace anec::pipeline
