#include "base/file_system.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace anec {
namespace fs = std::filesystem;

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (!b.empty() && b.front() == '/') return std::string(b);
  std::string out(a);
  if (out.back() != '/') out += '/';
  out += b;
  return out;
}

std::string Dirname(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string Basename(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Status FileSystem::WriteFileAtomic(const std::string& path, std::string_view data) {
  ANEC_ASSIGN_OR_RETURN(auto file, OpenForWrite(path));
  ANEC_RETURN_IF_ERROR(file->Append(data));
  return file->Close();
}

namespace {

std::string TempSibling(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  return fmt::format("{}.tmp-{}-{:x}", path, getpid(), salt ^ counter.fetch_add(1));
}

Status ErrnoStatus(std::string_view what, const std::string& path) {
  int err = errno;
  if (err == ENOENT) return NotFound("{} {}: {}", what, path, std::strerror(err));
  if (err == EACCES || err == EPERM)
    return PermissionDenied("{} {}: {}", what, path, std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return NoSpace("{} {}: {}", what, path, std::strerror(err));
  return IoError("{} {}: {}", what, path, std::strerror(err));
}

class RealMappedFile : public MappedFile {
 public:
  RealMappedFile(std::string path, void* data, size_t size)
      : MappedFile(std::move(path)), data_(data), size_(size) {}
  ~RealMappedFile() override {
    if (data_ != nullptr && size_ > 0) munmap(data_, size_);
  }
  std::span<const uint8_t> bytes() const override {
    return {static_cast<const uint8_t*>(data_), size_};
  }

 private:
  void* data_;
  size_t size_;
};

class RealWritableFile : public WritableFile {
 public:
  RealWritableFile(std::string path, std::string temp, int fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}
  ~RealWritableFile() override {
    if (fd_ >= 0) {
      close(fd_);
      unlink(temp_.c_str());
    }
  }
  Status Append(std::span<const uint8_t> data) override {
    if (fd_ < 0) return FailedPrecondition("{}: write after close", path_);
    const uint8_t* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = write(fd_, p, std::min<size_t>(left, size_t{1} << 30));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot write", WritingName());
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    size_ += data.size();
    return Status::Ok();
  }
  uint64_t size() const override { return size_; }
  // For messages: the final path the user asked for, and the temporary actually written.
  std::string WritingName() const {
    return fmt::format("{} (temporary {})", path_, Basename(temp_));
  }
  Status PatchAt(uint64_t offset, std::span<const uint8_t> data) override {
    if (fd_ < 0) return FailedPrecondition("{}: write after close", path_);
    if (offset + data.size() > size_) return Internal("{}: patch past the end", path_);
    if (pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(data.size())) {
      return ErrnoStatus("cannot write", WritingName());
    }
    return Status::Ok();
  }
  Status Close() override {
    if (fd_ < 0) return FailedPrecondition("{}: closed twice", path_);
    int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) {
      unlink(temp_.c_str());
      return ErrnoStatus("cannot close", WritingName());
    }
    if (rename(temp_.c_str(), path_.c_str()) != 0) {
      Status s = ErrnoStatus("cannot rename into place", path_);
      unlink(temp_.c_str());
      return s;
    }
    return Status::Ok();
  }

 private:
  std::string path_, temp_;
  int fd_;
  uint64_t size_ = 0;
};

class RealFs : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path) override {
    std::ifstream in(path, std::ios::binary);
    if (!in) return ErrnoStatus("cannot open", path);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return ErrnoStatus("cannot read", path);
    return data;
  }
  Result<std::unique_ptr<MappedFile>> Map(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      Status s = ErrnoStatus("cannot stat", path);
      close(fd);
      return s;
    }
    if (S_ISDIR(st.st_mode)) {
      close(fd);
      return InvalidArgument("{} is a directory, expected a file", path);
    }
    size_t size = static_cast<size_t>(st.st_size);
    void* data = nullptr;
    if (size > 0) {
      data = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data == MAP_FAILED) {
        Status s = ErrnoStatus("cannot mmap", path);
        close(fd);
        return s;
      }
    }
    close(fd);
    return std::unique_ptr<MappedFile>(new RealMappedFile(path, data, size));
  }
  Result<std::unique_ptr<WritableFile>> OpenForWrite(const std::string& path) override {
    std::string temp = TempSibling(path);
    int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("cannot create", temp);
    return std::unique_ptr<WritableFile>(new RealWritableFile(path, temp, fd));
  }
  bool Exists(const std::string& path) override {
    std::error_code ec;
    return fs::exists(path, ec);
  }
  bool IsDirectory(const std::string& path) override {
    std::error_code ec;
    return fs::is_directory(path, ec);
  }
  Result<uint64_t> FileSize(const std::string& path) override {
    std::error_code ec;
    auto n = fs::file_size(path, ec);
    if (ec) return NotFound("cannot get size of {}: {}", path, ec.message());
    return static_cast<uint64_t>(n);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return NotFound("cannot list {}: {}", path, ec.message());
    std::sort(names.begin(), names.end());
    return names;
  }
  Status MakeDirs(const std::string& path) override {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) return IoError("cannot create directory {}: {}", path, ec.message());
    return Status::Ok();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    std::error_code ec;
    if (fs::is_directory(to, ec)) {
      fs::remove_all(to, ec);
      if (ec) return IoError("cannot replace {}: {}", to, ec.message());
    }
    fs::rename(from, to, ec);
    if (ec) return IoError("cannot rename {} to {}: {}", from, to, ec.message());
    return Status::Ok();
  }
  Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return IoError("cannot remove {}: {}", path, ec.message());
    return Status::Ok();
  }
  Status LinkOrCopy(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
    const int err = errno;
    // Another file system, or one without hard links: copy instead.
    if (err != EXDEV && err != EPERM && err != ENOTSUP && err != EMLINK && err != ENOSYS) {
      return IoError("cannot link {} to {}: {}", from, to, std::strerror(err));
    }
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::none, ec);
    if (ec) return IoError("cannot copy {} to {}: {}", from, to, ec.message());
    return Status::Ok();
  }
  Result<uint64_t> FreeSpace(const std::string& path) override {
    std::string p = path;
    struct statvfs st;
    while (statvfs(p.c_str(), &st) != 0) {
      if (p == "/" || p == ".") return ErrnoStatus("cannot measure free space at", path);
      p = Dirname(p);
    }
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }
  Result<std::unique_ptr<FileLock>> TryLock(const std::string& path) override {
    // flock: advisory, released by the kernel when the descriptor closes (also on a crash), and
    // per open file description, so a second TryLock in this process conflicts like another
    // process would.
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("cannot open lock file", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      close(fd);
      if (err == EWOULDBLOCK) {
        return FailedPrecondition("{} is held by another running anec", path);
      }
      errno = err;
      return ErrnoStatus("cannot lock", path);
    }
    return std::unique_ptr<FileLock>(new RealFileLock(fd));
  }

 private:
  class RealFileLock : public FileLock {
   public:
    explicit RealFileLock(int fd) : fd_(fd) {}
    ~RealFileLock() override { close(fd_); }

   private:
    int fd_;
  };
};

}  // namespace

FileSystem* RealFileSystem() {
  static RealFs fs;
  return &fs;
}

// ---- MemoryFileSystem ----

namespace {
class MemoryMappedFile : public MappedFile {
 public:
  MemoryMappedFile(std::string path, std::shared_ptr<std::string> data)
      : MappedFile(std::move(path)), data_(std::move(data)) {}
  std::span<const uint8_t> bytes() const override {
    return {reinterpret_cast<const uint8_t*>(data_->data()), data_->size()};
  }

 private:
  std::shared_ptr<std::string> data_;  // shared: stays valid if the file is replaced
};
}  // namespace

class MemoryWritableFile : public WritableFile {
 public:
  MemoryWritableFile(MemoryFileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  Status Append(std::span<const uint8_t> data) override {
    if (closed_) return FailedPrecondition("{}: write after close", path_);
    buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
    return Status::Ok();
  }
  uint64_t size() const override { return buf_.size(); }
  Status PatchAt(uint64_t offset, std::span<const uint8_t> data) override {
    if (closed_) return FailedPrecondition("{}: write after close", path_);
    if (offset + data.size() > buf_.size()) return Internal("{}: patch past the end", path_);
    std::copy(data.begin(), data.end(), buf_.begin() + static_cast<ptrdiff_t>(offset));
    return Status::Ok();
  }
  Status Close() override {
    if (closed_) return FailedPrecondition("{}: closed twice", path_);
    closed_ = true;
    fs_->SetFile(path_, std::move(buf_));
    return Status::Ok();
  }

 private:
  MemoryFileSystem* fs_;
  std::string path_;
  std::string buf_;
  bool closed_ = false;
};

void MemoryFileSystem::SetFile(const std::string& path, std::string contents) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path] = std::make_shared<std::string>(std::move(contents));
  for (std::string d = Dirname(path); d != "." && d != "/"; d = Dirname(d)) dirs_[d] = true;
}

Result<std::string> MemoryFileSystem::ReadFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFound("cannot open {}: no such file", path);
  return *it->second;
}

Result<std::unique_ptr<MappedFile>> MemoryFileSystem::Map(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFound("cannot open {}: no such file", path);
  return std::unique_ptr<MappedFile>(new MemoryMappedFile(path, it->second));
}

Result<std::unique_ptr<WritableFile>> MemoryFileSystem::OpenForWrite(const std::string& path) {
  return std::unique_ptr<WritableFile>(new MemoryWritableFile(this, path));
}

bool MemoryFileSystem::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.count(path) || dirs_.count(path);
}

bool MemoryFileSystem::IsDirectory(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return dirs_.count(path) > 0;
}

Result<uint64_t> MemoryFileSystem::FileSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFound("cannot get size of {}: no such file", path);
  return static_cast<uint64_t>(it->second->size());
}

Result<std::vector<std::string>> MemoryFileSystem::ListDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dirs_.count(path)) return NotFound("cannot list {}: no such directory", path);
  std::vector<std::string> names;
  std::string prefix = path + "/";
  auto add = [&](const std::string& p) {
    if (p.rfind(prefix, 0) != 0) return;
    std::string rest = p.substr(prefix.size());
    if (rest.find('/') == std::string::npos) names.push_back(rest);
  };
  for (auto& [p, _] : files_) add(p);
  for (auto& [p, _] : dirs_) add(p);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Status MemoryFileSystem::MakeDirs(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string d = path; d != "." && d != "/" && !d.empty(); d = Dirname(d)) dirs_[d] = true;
  return Status::Ok();
}

Status MemoryFileSystem::LinkOrCopy(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return NotFound("{}: no such file", from);
  if (files_.count(to) || dirs_.count(to)) return FailedPrecondition("{} already exists", to);
  files_[to] = std::make_shared<std::string>(*it->second);
  return Status::Ok();
}

Status MemoryFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  auto move_prefix = [&](auto& m) {
    std::vector<std::pair<std::string, typename std::decay_t<decltype(m)>::mapped_type>> moved;
    for (auto it = m.begin(); it != m.end();) {
      if (it->first == from || it->first.rfind(from + "/", 0) == 0) {
        moved.emplace_back(to + it->first.substr(from.size()), it->second);
        it = m.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [k, v] : moved) m[k] = v;
    return !moved.empty();
  };
  // Replace whatever was at `to`.
  for (auto it = files_.begin(); it != files_.end();)
    it = (it->first == to || it->first.rfind(to + "/", 0) == 0) ? files_.erase(it) : std::next(it);
  for (auto it = dirs_.begin(); it != dirs_.end();)
    it = (it->first == to || it->first.rfind(to + "/", 0) == 0) ? dirs_.erase(it) : std::next(it);
  bool any = move_prefix(files_);
  any = move_prefix(dirs_) || any;
  if (!any) return NotFound("cannot rename {}: no such file", from);
  return Status::Ok();
}

Status MemoryFileSystem::RemoveAll(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = files_.begin(); it != files_.end();)
    it = (it->first == path || it->first.rfind(path + "/", 0) == 0) ? files_.erase(it)
                                                                    : std::next(it);
  for (auto it = dirs_.begin(); it != dirs_.end();)
    it = (it->first == path || it->first.rfind(path + "/", 0) == 0) ? dirs_.erase(it)
                                                                    : std::next(it);
  return Status::Ok();
}

Result<uint64_t> MemoryFileSystem::FreeSpace(const std::string&) { return free_space_; }

namespace {
class MemoryFileLock : public FileLock {
 public:
  MemoryFileLock(std::mutex* mu, std::set<std::string>* locked, std::string path)
      : mu_(mu), locked_(locked), path_(std::move(path)) {}
  ~MemoryFileLock() override {
    std::lock_guard<std::mutex> l(*mu_);
    locked_->erase(path_);
  }

 private:
  std::mutex* mu_;
  std::set<std::string>* locked_;
  std::string path_;
};
}  // namespace

Result<std::unique_ptr<FileLock>> MemoryFileSystem::TryLock(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (!locked_.insert(path).second) {
    return FailedPrecondition("{} is held by another running anec", path);
  }
  if (!files_.count(path)) files_[path] = std::make_shared<std::string>();
  return std::unique_ptr<FileLock>(new MemoryFileLock(&mu_, &locked_, path));
}

}  // namespace anec
