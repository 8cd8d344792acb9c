#include "io/safetensors.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "io/json_message.h"

namespace anec::io {
namespace {

using nlohmann::json;

struct DTypeSpelling {
  std::string_view name;
  TensorDType dtype;
};
constexpr DTypeSpelling kDTypes[] = {
    {"F32", TensorDType::kF32}, {"F16", TensorDType::kF16}, {"BF16", TensorDType::kBF16},
    {"I8", TensorDType::kI8},   {"U8", TensorDType::kU8},   {"I32", TensorDType::kI32},
    {"I64", TensorDType::kI64}, {"F64", TensorDType::kF64}, {"BOOL", TensorDType::kBool},
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Reads a JSON integer >= 0 (safetensors shapes and offsets are unsigned).
bool GetUnsigned(const json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

// A shard name from an index must stay inside the checkpoint folder.
bool IsSafeRelativeName(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    std::string_view part(name.data() + start, slash - start);
    if (part == "..") return false;
    start = slash + 1;
  }
  return true;
}

}  // namespace

Result<TensorDType> ParseSafetensorsDType(std::string_view s) {
  for (const auto& d : kDTypes) {
    if (d.name == s) return d.dtype;
  }
  std::vector<std::string_view> names;
  for (const auto& d : kDTypes) names.push_back(d.name);
  return Unsupported("unknown dtype \"{}\"; supported: {}", s, fmt::join(names, ", "));
}

std::string_view SafetensorsDTypeName(TensorDType t) {
  for (const auto& d : kDTypes) {
    if (d.dtype == t) return d.name;
  }
  return "?";
}

// ---- SafetensorsFile ----

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(FileSystem* fs,
                                                               const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(auto mapped, fs->Map(path));
  return FromMapped(std::move(mapped));
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromMapped(
    std::unique_ptr<MappedFile> file) {
  std::unique_ptr<SafetensorsFile> st(new SafetensorsFile(std::move(file)));
  ANEC_RETURN_IF_ERROR(st->Parse());
  return st;
}

Status SafetensorsFile::Parse() {
  const std::string& p = file_->path();
  std::span<const uint8_t> bytes = file_->bytes();
  if (bytes.size() < 8) {
    return Corrupt(
        "{}: file is {} bytes, too short for the 8-byte header length of a safetensors "
        "file; the download may be truncated",
        p, bytes.size());
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[static_cast<size_t>(i)];
  if (header_len > bytes.size() - 8) {
    return Corrupt(
        "{}: header length {} runs past the end of the file ({} bytes); the file is "
        "truncated or not a safetensors file",
        p, header_len, bytes.size());
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_start;
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  json header = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) {
    return Corrupt("{}: the {}-byte header is not valid JSON; the file is damaged", p, header_len);
  }
  if (!header.is_object()) {
    return Corrupt("{}: the header is JSON {} but must be an object of tensors", p,
                   header.type_name());
  }

  std::vector<const Entry*> by_offset;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) {
        return Corrupt("{}: __metadata__ is JSON {}, expected an object of strings", p,
                       v.type_name());
      }
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return Corrupt("{}: __metadata__ entry \"{}\" is JSON {}, expected a string", p, m.key(),
                         m.value().type_name());
        }
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets")) {
      return Corrupt("{}: tensor {}: expected an object with dtype, shape and data_offsets", p,
                     name);
    }
    const json& jd = v["dtype"];
    if (!jd.is_string()) {
      return Corrupt("{}: tensor {}: dtype is JSON {}, expected a string", p, name, jd.type_name());
    }
    Result<TensorDType> dtype = ParseSafetensorsDType(jd.get<std::string>());
    if (!dtype.ok()) return dtype.status().WithContext(fmt::format("{}: tensor {}", p, name));

    const json& js = v["shape"];
    if (!js.is_array()) {
      return Corrupt("{}: tensor {}: shape is JSON {}, expected an array of integers", p, name,
                     js.type_name());
    }
    Entry e;
    e.info.name = name;
    e.info.dtype = *dtype;
    // Counts bytes with overflow checks: a hostile shape must not wrap around to a small size.
    // The element count of the non-zero dimensions must also fit int64_t, as every reader of the
    // shape multiplies it out (TensorInfo::num_elements): a zero last does not make
    // [2^32, 2^31 + 1, 0] safe.
    uint64_t nbytes = TensorDTypeSize(*dtype);
    uint64_t elements = 1;
    bool overflow = false, elements_overflow = false;
    for (const json& d : js) {
      uint64_t dim = 0;
      if (!GetUnsigned(d, &dim) ||
          dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Corrupt("{}: tensor {}: shape {} has an entry that is not a non-negative integer", p,
                       name, JsonForMessage(js));
      }
      e.info.shape.push_back(static_cast<int64_t>(dim));
      if (dim != 0 && nbytes > std::numeric_limits<uint64_t>::max() / dim) overflow = true;
      nbytes *= dim;
      if (dim != 0) {
        if (elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim) {
          elements_overflow = true;
        }
        elements *= dim;
      }
    }
    const json& jo = v["data_offsets"];
    uint64_t begin = 0, end = 0;
    if (!jo.is_array() || jo.size() != 2 || !GetUnsigned(jo[0], &begin) ||
        !GetUnsigned(jo[1], &end) || begin > end) {
      return Corrupt(
          "{}: tensor {}: data_offsets {} must be two integers [begin, end] with "
          "begin <= end",
          p, name, JsonForMessage(jo));
    }
    if (end > data_size) {
      return Corrupt(
          "{}: tensor {}: data_offsets [{}, {}] run past the end of the data section "
          "({} bytes); the file is truncated or damaged",
          p, name, begin, end, data_size);
    }
    if (overflow || nbytes != end - begin) {
      return Corrupt(
          "{}: tensor {}: dtype {} x shape {} needs {} bytes but data_offsets [{}, {}] "
          "hold {}",
          p, name, SafetensorsDTypeName(*dtype), ShapeString(e.info.shape),
          overflow ? std::string("more than 2^64") : std::to_string(nbytes), begin, end,
          end - begin);
    }
    if (elements_overflow) {
      return Corrupt("{}: tensor {}: the dimensions of shape {} multiply past 2^63; the header "
                     "is damaged, re-download the file", p, name, JsonForMessage(js));
    }
    e.begin = data_start + begin;
    e.end = data_start + end;
    auto [slot, inserted] = tensors_.emplace(name, std::move(e));
    (void)inserted;  // the JSON object already has unique keys
    by_offset.push_back(&slot->second);
  }

  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry* prev = by_offset[i - 1];
    const Entry* cur = by_offset[i];
    if (cur->begin < prev->end) {
      return Corrupt("{}: tensors {} (bytes [{}, {})) and {} (bytes [{}, {})) overlap", p,
                     prev->info.name, prev->begin - data_start, prev->end - data_start,
                     cur->info.name, cur->begin - data_start, cur->end - data_start);
    }
  }
  return Status::Ok();
}

std::vector<TensorInfo> SafetensorsFile::List() const {
  std::vector<TensorInfo> out;
  out.reserve(tensors_.size());
  for (const auto& [name, e] : tensors_) out.push_back(e.info);
  return out;
}

Result<TensorInfo> SafetensorsFile::Info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return NotFound("tensor {} is not in {}", name, path());
  return it->second.info;
}

Result<TensorData> SafetensorsFile::Read(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return NotFound("tensor {} is not in {}", name, path());
  TensorData t;
  t.info = it->second.info;
  t.data = file_->bytes().subspan(it->second.begin, it->second.end - it->second.begin);
  return t;
}

// ---- SafetensorsSource ----

Status SafetensorsSource::AddFile(std::unique_ptr<SafetensorsFile> file) {
  const size_t index = files_.size();
  for (const TensorInfo& info : file->List()) {
    auto [it, inserted] = owner_.emplace(info.name, index);
    if (!inserted) {
      return Corrupt("tensor {} appears in two shards, {} and {}; the checkpoint is inconsistent",
                     info.name, files_[it->second]->path(), file->path());
    }
  }
  files_.push_back(std::move(file));
  return Status::Ok();
}

Result<std::unique_ptr<SafetensorsSource>> SafetensorsSource::OpenFile(FileSystem* fs,
                                                                       const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(fs, path));
  std::unique_ptr<SafetensorsSource> src(new SafetensorsSource());
  ANEC_RETURN_IF_ERROR(src->AddFile(std::move(file)));
  return src;
}

Result<std::unique_ptr<SafetensorsSource>> SafetensorsSource::OpenIndex(
    FileSystem* fs, const std::string& index_path) {
  ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(index_path));
  json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object()) {
    return Corrupt("{}: not a JSON object; expected a safetensors index with a weight_map",
                   index_path);
  }
  if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
    return Corrupt("{}: missing \"weight_map\" object (tensor name -> shard file)", index_path);
  }
  const json& weight_map = index["weight_map"];
  std::map<std::string, std::string> tensor_to_shard;
  std::set<std::string> shards;
  for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
    if (!it.value().is_string()) {
      return Corrupt("{}: weight_map entry {} is JSON {}, expected a shard file name", index_path,
                     it.key(), it.value().type_name());
    }
    std::string shard = it.value().get<std::string>();
    if (!IsSafeRelativeName(shard)) {
      return Corrupt(
          "{}: weight_map entry {} names shard \"{}\", which is not a file inside the "
          "checkpoint folder",
          index_path, it.key(), shard);
    }
    tensor_to_shard[it.key()] = shard;
    shards.insert(shard);
  }
  if (shards.empty()) return Corrupt("{}: weight_map is empty", index_path);

  const std::string dir = Dirname(index_path);
  std::unique_ptr<SafetensorsSource> src(new SafetensorsSource());
  std::map<std::string, size_t> shard_index;
  for (const std::string& shard : shards) {
    const std::string path = JoinPath(dir, shard);
    if (!fs->Exists(path)) {
      return NotFound("{} names shard {}, but {} does not exist; download the missing shard",
                      index_path, shard, path);
    }
    ANEC_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(fs, path));
    shard_index[shard] = src->files_.size();
    ANEC_RETURN_IF_ERROR(src->AddFile(std::move(file)));
  }
  for (const auto& [name, shard] : tensor_to_shard) {
    auto it = src->owner_.find(name);
    if (it == src->owner_.end() || it->second != shard_index[shard]) {
      return Corrupt(
          "{} maps tensor {} to {}, but that shard does not contain it{}", index_path, name, shard,
          it == src->owner_.end() ? std::string(" (nor does any other shard)")
                                  : fmt::format(" (it is in {})", src->files_[it->second]->path()));
    }
  }
  return src;
}

std::vector<TensorInfo> SafetensorsSource::List() const {
  std::vector<TensorInfo> out;
  out.reserve(owner_.size());
  for (const auto& [name, index] : owner_) out.push_back(*files_[index]->Info(name));
  return out;
}

bool SafetensorsSource::Has(const std::string& name) const { return owner_.count(name) > 0; }

std::string SafetensorsSource::SearchedFiles() const {
  std::vector<std::string> paths;
  for (const auto& f : files_) paths.push_back(f->path());
  return fmt::format("{}", fmt::join(paths, ", "));
}

Result<TensorInfo> SafetensorsSource::Info(const std::string& name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) return NotFound("tensor {} not found in {}", name, SearchedFiles());
  return files_[it->second]->Info(name);
}

Result<TensorData> SafetensorsSource::Read(const std::string& name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) return NotFound("tensor {} not found in {}", name, SearchedFiles());
  return files_[it->second]->Read(name);
}

std::string SafetensorsSource::FileOf(const std::string& name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? std::string() : files_[it->second]->path();
}

}  // namespace anec::io
