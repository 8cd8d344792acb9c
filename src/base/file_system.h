// FileSystem: the one door to files, so readers and writers can be tested on an in-memory fake
// (MemoryFileSystem) and hostile inputs built without touching disk.
//
// Paths are plain strings ('/'-separated). Ownership: Map() and OpenForWrite() return objects the
// caller owns; a MappedFile stays valid after the FileSystem call returns, until destroyed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace anec {

// Read-only bytes of a whole file (mmap for RealFileSystem).
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual std::span<const uint8_t> bytes() const = 0;
  const std::string& path() const { return path_; }

 protected:
  explicit MappedFile(std::string path) : path_(std::move(path)) {}

 private:
  std::string path_;
};

// A file being written sequentially. Nothing is visible at the final path until Close() succeeds:
// data goes to a temporary sibling that Close() renames into place. Destroying an unclosed
// WritableFile abandons it (the temporary is removed).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::span<const uint8_t> data) = 0;
  Status Append(std::string_view data) {
    return Append(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }
  virtual uint64_t size() const = 0;
  // Overwrites bytes already appended (e.g. a header whose counts are known only at the end).
  // REQUIRES: offset + data.size() <= size().
  virtual Status PatchAt(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Flushes and renames into place. REQUIRES: called at most once.
  virtual Status Close() = 0;
};

// An exclusive lock taken by FileSystem::TryLock; released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<MappedFile>> Map(const std::string& path) = 0;
  virtual Result<std::unique_ptr<WritableFile>> OpenForWrite(const std::string& path) = 0;
  // Temp file + rename: path holds either the old or the new content, never a mix.
  Status WriteFileAtomic(const std::string& path, std::string_view data);

  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual Status MakeDirs(const std::string& path) = 0;
  // Renames a file or directory; an existing file at `to` is replaced, an existing directory is
  // removed first.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveAll(const std::string& path) = 0;
  // Makes `to` (which must not exist) a file holding `from`'s bytes: a hard link where the file
  // system allows one (nothing is copied; both names then share the data, which stays safe
  // because every writer here replaces files by temp + rename, never in place), else a copy.
  virtual Status LinkOrCopy(const std::string& from, const std::string& to) = 0;
  // Bytes free on the filesystem holding `path` (or a parent of it).
  virtual Result<uint64_t> FreeSpace(const std::string& path) = 0;
  // Takes an exclusive lock on the file `path` (created if missing; its folder must exist)
  // without waiting. Held by another process, or by another live FileLock of this process:
  // FailedPrecondition naming the path. The lock goes with the process (a killed run never
  // leaves a stale lock behind; the file itself stays).
  virtual Result<std::unique_ptr<FileLock>> TryLock(const std::string& path) = 0;
};

// The process's real file system. Thread-safe.
FileSystem* RealFileSystem();

// All files in memory; for tests. Thread-safe.
class MemoryFileSystem : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path) override;
  Result<std::unique_ptr<MappedFile>> Map(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> OpenForWrite(const std::string& path) override;
  bool Exists(const std::string& path) override;
  bool IsDirectory(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Status MakeDirs(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RemoveAll(const std::string& path) override;
  Status LinkOrCopy(const std::string& from, const std::string& to) override;  // copies
  Result<uint64_t> FreeSpace(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> TryLock(const std::string& path) override;

  // Test helpers.
  void SetFile(const std::string& path, std::string contents);
  void set_free_space(uint64_t bytes) { free_space_ = bytes; }

 private:
  friend class MemoryWritableFile;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::string>> files_;
  std::map<std::string, bool> dirs_;
  std::set<std::string> locked_;
  uint64_t free_space_ = uint64_t{1} << 40;
};

// Path helpers.
std::string JoinPath(std::string_view a, std::string_view b);
std::string Dirname(std::string_view path);
std::string Basename(std::string_view path);

}  // namespace anec
