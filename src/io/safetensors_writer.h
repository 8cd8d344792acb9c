// SafetensorsWriter: writes a .safetensors file (the format SafetensorsFile reads).
//
// Lifecycle: Add() each tensor, then Finish() (writes atomically through FileSystem) or
// Abandon(). The header needs every offset before the first data byte, so added bytes are kept
// until Finish(); this writer is meant for small files (test inputs, small exported tensors).
// EncodeSafetensors() gives the same bytes in memory.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "io/tensor_source.h"

namespace anec::io {

struct SafetensorsEntry {
  TensorInfo info;
  std::vector<uint8_t> data;
};

// Header JSON padded with spaces so the data starts 8-byte aligned, then the data in the given
// order. REQUIRES: each entry's data.size() == num_elements * dtype size (checked by Add()).
std::string EncodeSafetensors(const std::vector<SafetensorsEntry>& entries,
                              const std::map<std::string, std::string>& metadata = {});

class SafetensorsWriter {
 public:
  SafetensorsWriter(FileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}

  // Copies the tensor. Errors: a duplicate name, "__metadata__" as a name, or a byte length that
  // does not match dtype x shape.
  Status Add(const TensorInfo& info, std::span<const uint8_t> data);
  void SetMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  // Writes the file. REQUIRES: called at most once, not after Abandon().
  Status Finish();
  // Drops everything; nothing is written.
  void Abandon();

 private:
  FileSystem* fs_;
  std::string path_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  bool done_ = false;
};

}  // namespace anec::io
