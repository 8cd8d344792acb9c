#include "io/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace anec::io {

std::string EncodeSafetensors(const std::vector<SafetensorsEntry>& entries,
                              const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps tensors in data order, which makes files easy to inspect.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafetensorsEntry& e : entries) {
    header[e.info.name] = {{"dtype", SafetensorsDTypeName(e.info.dtype)},
                           {"shape", e.info.shape},
                           {"data_offsets", {offset, offset + e.data.size()}}};
    offset += e.data.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out += text;
  for (const SafetensorsEntry& e : entries) {
    out.append(reinterpret_cast<const char*>(e.data.data()), e.data.size());
  }
  return out;
}

Status SafetensorsWriter::Add(const TensorInfo& info, std::span<const uint8_t> data) {
  if (done_) return FailedPrecondition("{}: Add() after Finish() or Abandon()", path_);
  if (info.name == "__metadata__" || info.name.empty()) {
    return InvalidArgument("{}: \"{}\" cannot be a tensor name", path_, info.name);
  }
  for (const SafetensorsEntry& e : entries_) {
    if (e.info.name == info.name)
      return InvalidArgument("{}: tensor {} added twice", path_, info.name);
  }
  for (int64_t d : info.shape) {
    if (d < 0) return InvalidArgument("{}: tensor {} has a negative dimension", path_, info.name);
  }
  const uint64_t expected =
      static_cast<uint64_t>(info.num_elements()) * TensorDTypeSize(info.dtype);
  if (data.size() != expected) {
    return InvalidArgument("{}: tensor {} has {} bytes, expected {} for its dtype and shape", path_,
                           info.name, data.size(), expected);
  }
  entries_.push_back({info, std::vector<uint8_t>(data.begin(), data.end())});
  return Status::Ok();
}

Status SafetensorsWriter::Finish() {
  if (done_) return FailedPrecondition("{}: Finish() called twice or after Abandon()", path_);
  done_ = true;
  Status s = fs_->WriteFileAtomic(path_, EncodeSafetensors(entries_, metadata_));
  entries_.clear();
  return s;
}

void SafetensorsWriter::Abandon() {
  done_ = true;
  entries_.clear();
}

}  // namespace anec::io
