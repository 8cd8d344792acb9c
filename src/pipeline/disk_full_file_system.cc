#include "pipeline/disk_full_file_system.h"

namespace anec::pipeline {
namespace {

class DiskFullWritableFile : public WritableFile {
 public:
  DiskFullWritableFile(DiskFullFileSystem* fs, std::string path, std::unique_ptr<WritableFile> f)
      : fs_(fs), path_(std::move(path)), f_(std::move(f)) {}
  Status Append(std::span<const uint8_t> data) override {
    ANEC_RETURN_IF_ERROR(fs_->Write("cannot write", path_));
    return f_->Append(data);
  }
  uint64_t size() const override { return f_->size(); }
  Status PatchAt(uint64_t offset, std::span<const uint8_t> data) override {
    ANEC_RETURN_IF_ERROR(fs_->Write("cannot write", path_));
    return f_->PatchAt(offset, data);
  }
  Status Close() override {
    ANEC_RETURN_IF_ERROR(fs_->Write("cannot close", path_));
    return f_->Close();
  }

 private:
  DiskFullFileSystem* fs_;
  std::string path_;
  std::unique_ptr<WritableFile> f_;  // destroyed unclosed on failure: abandoned, as on disk
};

}  // namespace

Status DiskFullFileSystem::Write(const std::string& what, const std::string& path) {
  const uint64_t n = ++writes_;
  const uint64_t at = fail_at_;
  std::lock_guard<std::mutex> lock(mu_);
  write_kinds_.push_back(what);
  if (at != 0 && n >= at) {
    full_ = true;
    if (first_failed_kind_.empty()) first_failed_kind_ = what;
    return NoSpace("{} {}: No space left on device", what, path);
  }
  return Status::Ok();
}

std::vector<std::string> DiskFullFileSystem::write_kinds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return write_kinds_;
}

std::string DiskFullFileSystem::first_failed_kind() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_failed_kind_;
}

Result<std::unique_ptr<WritableFile>> DiskFullFileSystem::OpenForWrite(const std::string& path) {
  ANEC_RETURN_IF_ERROR(Write("cannot create", path));
  ANEC_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, base_->OpenForWrite(path));
  return std::unique_ptr<WritableFile>(new DiskFullWritableFile(this, path, std::move(f)));
}

Status DiskFullFileSystem::MakeDirs(const std::string& path) {
  // Folders that already exist cost nothing (the conversion re-creates its folders freely).
  if (base_->IsDirectory(path)) return Status::Ok();
  ANEC_RETURN_IF_ERROR(Write("cannot create folder", path));
  return base_->MakeDirs(path);
}

Status DiskFullFileSystem::Rename(const std::string& from, const std::string& to) {
  ANEC_RETURN_IF_ERROR(Write("cannot rename into place", to));
  return base_->Rename(from, to);
}

Status DiskFullFileSystem::RemoveAll(const std::string& path) {
  // Removing frees space; a full disk never refuses it.
  return base_->RemoveAll(path);
}

Status DiskFullFileSystem::LinkOrCopy(const std::string& from, const std::string& to) {
  ANEC_RETURN_IF_ERROR(Write("cannot link", to));
  return base_->LinkOrCopy(from, to);
}

Result<uint64_t> DiskFullFileSystem::FreeSpace(const std::string& path) {
  if (full_ && fail_at_ != 0) return uint64_t{0};
  return base_->FreeSpace(path);
}

}  // namespace anec::pipeline
