#include "io/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace anec::io {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;             // ggml's limit

struct TypeRow {
  GgmlType type;
  const char* name;
  int64_t block_size;
  int64_t block_bytes;
};
constexpr TypeRow kTypes[] = {
    {GgmlType::kF32, "F32", 1, 4},       {GgmlType::kF16, "F16", 1, 2},
    {GgmlType::kQ4_0, "Q4_0", 32, 18},   {GgmlType::kQ4_1, "Q4_1", 32, 20},
    {GgmlType::kQ5_0, "Q5_0", 32, 22},   {GgmlType::kQ5_1, "Q5_1", 32, 24},
    {GgmlType::kQ8_0, "Q8_0", 32, 34},   {GgmlType::kQ2_K, "Q2_K", 256, 84},
    {GgmlType::kQ3_K, "Q3_K", 256, 110}, {GgmlType::kQ4_K, "Q4_K", 256, 144},
    {GgmlType::kQ5_K, "Q5_K", 256, 176}, {GgmlType::kQ6_K, "Q6_K", 256, 210},
    {GgmlType::kI8, "I8", 1, 1},         {GgmlType::kI16, "I16", 1, 2},
    {GgmlType::kI32, "I32", 1, 4},       {GgmlType::kI64, "I64", 1, 8},
    {GgmlType::kF64, "F64", 1, 8},       {GgmlType::kBF16, "BF16", 1, 2},
};

const TypeRow* FindType(uint32_t code) {
  for (const TypeRow& r : kTypes)
    if (static_cast<uint32_t>(r.type) == code) return &r;
  return nullptr;
}

// A bounds-checked cursor over the file bytes.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> b, const std::string& path) : b_(b), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return b_.size() - pos_; }

  template <typename T>
  Status Read(T* out, std::string_view what) {
    if (left() < sizeof(T)) return Truncated(what);
    std::memcpy(out, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  Status ReadString(std::string* out, std::string_view what) {
    uint64_t n = 0;
    ANEC_RETURN_IF_ERROR(Read(&n, what));
    if (n > left()) {
      return Corrupt("{}: {} claims a string of {} bytes at offset {} but only {} bytes remain; "
                     "the file is truncated or not GGUF", path_, what, n, pos_, left());
    }
    out->assign(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return Status::Ok();
  }
  Status Truncated(std::string_view what) const {
    return Corrupt("{}: truncated while reading {} at offset {} (file size {}); re-download the file",
                   path_, what, pos_, b_.size());
  }

 private:
  std::span<const uint8_t> b_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

int ScalarSize(GgufValue::Type t) {
  using T = GgufValue::Type;
  switch (t) {
    case T::kU8: case T::kI8: case T::kBool: return 1;
    case T::kU16: case T::kI16: return 2;
    case T::kU32: case T::kI32: case T::kF32: return 4;
    case T::kU64: case T::kI64: case T::kF64: return 8;
    case T::kString: return 8;  // at least its length field
    case T::kArray: return -1;
  }
  return -1;
}

// Reads one scalar of type t into the right alternative.
Status ReadScalar(Cursor& c, GgufValue::Type t, const std::string& key, int64_t* i, uint64_t* u,
                  double* d, std::string* s, int* which) {
  using T = GgufValue::Type;
  switch (t) {
    case T::kU8: { uint8_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *u = v; *which = 1; break; }
    case T::kI8: { int8_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *i = v; *which = 0; break; }
    case T::kU16: { uint16_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *u = v; *which = 1; break; }
    case T::kI16: { int16_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *i = v; *which = 0; break; }
    case T::kU32: { uint32_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *u = v; *which = 1; break; }
    case T::kI32: { int32_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *i = v; *which = 0; break; }
    case T::kU64: { uint64_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *u = v; *which = 1; break; }
    case T::kI64: { int64_t v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *i = v; *which = 0; break; }
    case T::kF32: { float v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *d = v; *which = 2; break; }
    case T::kF64: { double v{}; ANEC_RETURN_IF_ERROR(c.Read(&v, key)); *d = v; *which = 2; break; }
    case T::kBool: {
      uint8_t v = 0;
      ANEC_RETURN_IF_ERROR(c.Read(&v, key));
      *i = v != 0;
      *which = 0;
      break;
    }
    case T::kString: ANEC_RETURN_IF_ERROR(c.ReadString(s, key)); *which = 3; break;
    case T::kArray: return Internal("nested array");
  }
  return Status::Ok();
}

}  // namespace

bool IsSupportedGgmlType(uint32_t code) { return FindType(code) != nullptr; }

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4, cp = c & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < n) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}
std::string_view GgmlTypeName(GgmlType t) {
  const TypeRow* r = FindType(static_cast<uint32_t>(t));
  return r ? r->name : "unknown";
}
int64_t GgmlBlockSize(GgmlType t) { return FindType(static_cast<uint32_t>(t))->block_size; }
int64_t GgmlBlockBytes(GgmlType t) { return FindType(static_cast<uint32_t>(t))->block_bytes; }

int64_t GgufTensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {dims.rbegin(), dims.rend()}; }

Result<GgufFile> GgufFile::Open(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, fs->Map(path));
  GgufFile f;
  f.file_ = std::move(mapped);
  f.bytes_ = f.file_->bytes();
  f.path_ = path;
  ANEC_RETURN_IF_ERROR(f.Parse());
  return f;
}

Result<GgufFile> GgufFile::FromBytes(std::span<const uint8_t> bytes, std::string name) {
  GgufFile f;
  f.bytes_ = bytes;
  f.path_ = std::move(name);
  ANEC_RETURN_IF_ERROR(f.Parse());
  return f;
}

Status GgufFile::Parse() {
  Cursor c(bytes_, path_);
  uint32_t magic;
  if (bytes_.size() < 4) return Corrupt("{}: {} bytes is too small to be a GGUF file", path_, bytes_.size());
  ANEC_RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (magic != kGgufMagic) {
    return Corrupt("{}: not a GGUF file (magic {:#010x}, expected \"GGUF\")", path_, magic);
  }
  ANEC_RETURN_IF_ERROR(c.Read(&version_, "version"));
  if (version_ != 2 && version_ != 3) {
    return Unsupported("{}: GGUF version {} is not supported (anec reads versions 2 and 3); "
                       "re-convert the model with a current llama.cpp", path_, version_);
  }
  uint64_t n_tensors, n_kv;
  ANEC_RETURN_IF_ERROR(c.Read(&n_tensors, "tensor count"));
  ANEC_RETURN_IF_ERROR(c.Read(&n_kv, "metadata count"));
  // Each KV needs >= 8 (key length) + 4 (type) + 1 bytes; each tensor >= 8 + 4 + 4 + 8.
  if (n_kv > c.left() / 13) return Corrupt("{}: metadata count {} is impossible for a file of {} bytes", path_, n_kv, bytes_.size());
  if (n_tensors > c.left() / 24) return Corrupt("{}: tensor count {} is impossible for a file of {} bytes", path_, n_tensors, bytes_.size());

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    ANEC_RETURN_IF_ERROR(c.ReadString(&key, fmt::format("metadata key #{}", k)));
    uint32_t type_code;
    ANEC_RETURN_IF_ERROR(c.Read(&type_code, key));
    if (type_code > 12) return Corrupt("{}: metadata key '{}' has unknown value type {}", path_, key, type_code);
    GgufValue v;
    v.type = static_cast<GgufValue::Type>(type_code);
    int64_t i = 0; uint64_t u = 0; double d = 0; std::string s; int which = 0;
    if (v.type == GgufValue::Type::kArray) {
      uint32_t et;
      uint64_t count;
      ANEC_RETURN_IF_ERROR(c.Read(&et, key));
      ANEC_RETURN_IF_ERROR(c.Read(&count, key));
      if (et > 12 || et == 9) {
        return Corrupt("{}: metadata array '{}' has unsupported element type {}", path_, key, et);
      }
      v.element_type = static_cast<GgufValue::Type>(et);
      if (count > c.left() / ScalarSize(v.element_type)) {
        return Corrupt("{}: metadata array '{}' claims {} elements but only {} bytes remain", path_, key, count, c.left());
      }
      std::vector<int64_t> vi; std::vector<uint64_t> vu; std::vector<double> vd; std::vector<std::string> vs;
      for (uint64_t e = 0; e < count; ++e) {
        ANEC_RETURN_IF_ERROR(ReadScalar(c, v.element_type, key, &i, &u, &d, &s, &which));
        switch (which) {
          case 0: vi.push_back(i); break;
          case 1: vu.push_back(u); break;
          case 2: vd.push_back(d); break;
          default: vs.push_back(std::move(s)); break;
        }
      }
      using T = GgufValue::Type;
      T et_t = v.element_type;
      if (et_t == T::kString) v.value = std::move(vs);
      else if (et_t == T::kF32 || et_t == T::kF64) v.value = std::move(vd);
      else if (et_t == T::kU8 || et_t == T::kU16 || et_t == T::kU32 || et_t == T::kU64) v.value = std::move(vu);
      else v.value = std::move(vi);
    } else {
      ANEC_RETURN_IF_ERROR(ReadScalar(c, v.type, key, &i, &u, &d, &s, &which));
      switch (which) {
        case 0: v.value = i; break;
        case 1: v.value = u; break;
        case 2: v.value = d; break;
        default: v.value = std::move(s); break;
      }
    }
    if (!metadata_.emplace(key, std::move(v)).second) {
      return Corrupt("{}: metadata key '{}' appears twice", path_, key);
    }
  }

  if (Has("general.alignment")) {
    ANEC_ASSIGN_OR_RETURN(int64_t a, GetInt("general.alignment"));
    if (a <= 0 || (a & (a - 1)) != 0 || a > 65536) {
      return Corrupt("{}: general.alignment is {}, expected a power of two", path_, a);
    }
    alignment_ = static_cast<uint64_t>(a);
  }

  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensorInfo info;
    ANEC_RETURN_IF_ERROR(c.ReadString(&info.name, fmt::format("tensor #{} name", t)));
    uint32_t n_dims;
    ANEC_RETURN_IF_ERROR(c.Read(&n_dims, info.name));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Corrupt("{}: tensor '{}' has {} dimensions, expected 1 to {}", path_, info.name, n_dims, kMaxDims);
    }
    uint64_t total = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim;
      ANEC_RETURN_IF_ERROR(c.Read(&dim, info.name));
      if (dim == 0 || dim > (uint64_t{1} << 40) || total > (uint64_t{1} << 42) / dim) {
        return Corrupt("{}: tensor '{}' has an impossible dimension {}", path_, info.name, dim);
      }
      total *= dim;
      info.dims.push_back(static_cast<int64_t>(dim));
    }
    uint32_t type_code;
    ANEC_RETURN_IF_ERROR(c.Read(&type_code, info.name));
    const TypeRow* row = FindType(type_code);
    if (row == nullptr) {
      return Unsupported("{}: tensor '{}' has ggml type {}, which anec does not read (supported: "
                         "F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K I8-I64 F64); "
                         "use a GGUF quantized with one of these", path_, info.name, type_code);
    }
    info.type = row->type;
    ANEC_RETURN_IF_ERROR(c.Read(&info.offset, info.name));
    if (info.dims[0] % row->block_size != 0) {
      return Corrupt("{}: tensor '{}' row length {} is not a multiple of the {} block size {}",
                     path_, info.name, info.dims[0], row->name, row->block_size);
    }
    info.num_bytes = total / row->block_size * row->block_bytes;
    if (!tensor_index_.emplace(info.name, tensors_.size()).second) {
      return Corrupt("{}: tensor '{}' appears twice", path_, info.name);
    }
    tensors_.push_back(std::move(info));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > bytes_.size()) {
    return Corrupt("{}: truncated before the tensor data section (offset {}, size {})", path_, data_offset_, bytes_.size());
  }
  uint64_t data_size = bytes_.size() - data_offset_;
  for (const GgufTensorInfo& t : tensors_) {
    if (t.offset % alignment_ != 0) {
      return Corrupt("{}: tensor '{}' data offset {} is not aligned to {}", path_, t.name, t.offset, alignment_);
    }
    if (t.offset > data_size || t.num_bytes > data_size - t.offset) {
      return Corrupt("{}: tensor '{}' data [{}, {}) lies beyond the end of the file's data ({} bytes); "
                     "the file is truncated", path_, t.name, t.offset, t.offset + t.num_bytes, data_size);
    }
  }
  return Status::Ok();
}

Result<int64_t> GgufFile::GetInt(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return NotFound("{}: metadata key '{}' is missing", path_, key);
  if (auto* i = std::get_if<int64_t>(&it->second.value)) return *i;
  if (auto* u = std::get_if<uint64_t>(&it->second.value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Corrupt("{}: metadata '{}' = {} is too large", path_, key, *u);
    return static_cast<int64_t>(*u);
  }
  return InvalidArgument("{}: metadata '{}' is not an integer", path_, key);
}

Result<double> GgufFile::GetFloat(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return NotFound("{}: metadata key '{}' is missing", path_, key);
  if (auto* d = std::get_if<double>(&it->second.value)) return *d;
  if (auto* i = std::get_if<int64_t>(&it->second.value)) return static_cast<double>(*i);
  if (auto* u = std::get_if<uint64_t>(&it->second.value)) return static_cast<double>(*u);
  return InvalidArgument("{}: metadata '{}' is not a number", path_, key);
}

Result<std::string> GgufFile::GetString(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return NotFound("{}: metadata key '{}' is missing", path_, key);
  if (auto* s = std::get_if<std::string>(&it->second.value)) return *s;
  return InvalidArgument("{}: metadata '{}' is not a string", path_, key);
}

Result<std::vector<std::string>> GgufFile::GetStringArray(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return NotFound("{}: metadata key '{}' is missing", path_, key);
  if (auto* s = std::get_if<std::vector<std::string>>(&it->second.value)) return *s;
  return InvalidArgument("{}: metadata '{}' is not an array of strings", path_, key);
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return NotFound("{}: metadata key '{}' is missing", path_, key);
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second.value)) return *v;
  if (auto* v = std::get_if<std::vector<uint64_t>>(&it->second.value)) {
    std::vector<int64_t> out;
    for (uint64_t x : *v) out.push_back(static_cast<int64_t>(x));
    return out;
  }
  return InvalidArgument("{}: metadata '{}' is not an array of integers", path_, key);
}

Result<std::vector<double>> GgufFile::GetFloatArray(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return NotFound("{}: metadata key '{}' is missing", path_, key);
  if (auto* v = std::get_if<std::vector<double>>(&it->second.value)) return *v;
  return InvalidArgument("{}: metadata '{}' is not an array of floats", path_, key);
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::TensorBytes(const GgufTensorInfo& t) const {
  return bytes_.subspan(data_offset_ + t.offset, t.num_bytes);
}

}  // namespace anec::io
