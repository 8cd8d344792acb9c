// Safetensors reader: single files and sharded checkpoints, memory-mapped.
//
// Format: 8-byte little-endian header length N, N bytes of JSON mapping
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// byte after the header) plus an optional "__metadata__" string map, then the data.
// A sharded checkpoint adds model.safetensors.index.json whose "weight_map" maps each tensor
// name to its shard file (relative to the index).
//
// Every file is opened with FileSystem::Map: nothing is copied or loaded whole. Every header is
// validated on open (header bounds, JSON, dtype, offsets in range and not overlapping, dtype x
// shape = byte length); errors name the file and the tensor.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "io/tensor_source.h"

namespace anec::io {

// Parses a safetensors dtype string ("F32", "BF16", ...). Error names the string.
Result<TensorDType> ParseSafetensorsDType(std::string_view s);
// "F32", "BF16", ...: the safetensors spelling of a dtype.
std::string_view SafetensorsDTypeName(TensorDType t);

// One mapped .safetensors file.
class SafetensorsFile {
 public:
  // Maps and validates `path`.
  static Result<std::unique_ptr<SafetensorsFile>> Open(FileSystem* fs, const std::string& path);
  // Validates an already mapped file (takes ownership).
  static Result<std::unique_ptr<SafetensorsFile>> FromMapped(std::unique_ptr<MappedFile> file);

  const std::string& path() const { return file_->path(); }
  // The "__metadata__" entries (string values only, as the format requires).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors sorted by name.
  std::vector<TensorInfo> List() const;
  bool Has(const std::string& name) const { return tensors_.count(name) > 0; }
  Result<TensorInfo> Info(const std::string& name) const;
  // Data points into the mapping; valid while this object lives.
  Result<TensorData> Read(const std::string& name) const;

 private:
  struct Entry {
    TensorInfo info;
    uint64_t begin = 0;  // absolute offsets in the file
    uint64_t end = 0;
  };
  explicit SafetensorsFile(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}
  Status Parse();

  std::unique_ptr<MappedFile> file_;
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A TensorSource over one file or over the shards of an index.
class SafetensorsSource : public TensorSource {
 public:
  // One .safetensors file.
  static Result<std::unique_ptr<SafetensorsSource>> OpenFile(FileSystem* fs,
                                                             const std::string& path);
  // model.safetensors.index.json and every shard it names. Checks that each shard exists, that
  // each tensor the index maps is in its shard, and that no name appears in two shards.
  static Result<std::unique_ptr<SafetensorsSource>> OpenIndex(FileSystem* fs,
                                                              const std::string& index_path);

  std::vector<TensorInfo> List() const override;
  bool Has(const std::string& name) const override;
  Result<TensorInfo> Info(const std::string& name) const override;
  Result<TensorData> Read(const std::string& name) const override;

  // The file holding `name` ("" if none).
  std::string FileOf(const std::string& name) const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  SafetensorsSource() = default;
  Status AddFile(std::unique_ptr<SafetensorsFile> file);
  std::string SearchedFiles() const;

  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> owner_;  // tensor name -> index in files_
};

}  // namespace anec::io
