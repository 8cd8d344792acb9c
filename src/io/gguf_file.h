// GGUF file reader (versions 2 and 3). Format: docs/GGUF_FORMAT.md.
//
// GgufFile maps the file, parses the header, every metadata value and every tensor descriptor, and
// validates all of it up front (counts, string and array sizes, tensor types, shapes, offsets,
// alignment, data within the file), so later accesses cannot go out of bounds. Tensor data is not
// copied: TensorBytes() points into the mapping. Dequantization lives in gguf_dequant.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::io {

// ggml tensor types anec reads (the numbering is the format's).
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14,
  kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kBF16 = 30,
};
bool IsSupportedGgmlType(uint32_t code);
// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF). GGUF strings are raw bytes; whatever is written into JSON (tokenizer.json,
// config.json) must pass this first, as nlohmann::json cannot serialize anything else.
bool IsValidUtf8(std::string_view s);
std::string_view GgmlTypeName(GgmlType t);
// Elements per block and bytes per block (1 element for plain types).
int64_t GgmlBlockSize(GgmlType t);
int64_t GgmlBlockBytes(GgmlType t);

// A metadata value. Arrays hold one vector of the element type (arrays of arrays are rejected).
struct GgufValue {
  enum class Type : uint32_t {
    kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
    kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
  };
  Type type = Type::kU32;
  Type element_type = Type::kU32;  // for arrays
  // Scalars: integers (all widths, bool) as int64 or uint64, floats as double, or a string.
  std::variant<int64_t, uint64_t, double, std::string, std::vector<int64_t>, std::vector<uint64_t>,
               std::vector<double>, std::vector<std::string>>
      value;
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  // GGUF dims, innermost first (ne[0] is the contiguous dimension).
  std::vector<int64_t> dims;
  uint64_t offset = 0;  // relative to the data section
  uint64_t num_bytes = 0;
  int64_t num_elements() const;
  // PyTorch-style shape, outermost first (reverse of dims).
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  static Result<GgufFile> Open(FileSystem* fs, const std::string& path);
  // From bytes the caller keeps alive (tests).
  static Result<GgufFile> FromBytes(std::span<const uint8_t> bytes, std::string name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }

  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  bool Has(const std::string& key) const { return metadata_.count(key) > 0; }
  // Typed getters: error names the file and key, and what type was expected.
  Result<int64_t> GetInt(const std::string& key) const;  // any integer type or bool
  Result<double> GetFloat(const std::string& key) const;  // any numeric type
  Result<std::string> GetString(const std::string& key) const;
  Result<std::vector<std::string>> GetStringArray(const std::string& key) const;
  Result<std::vector<int64_t>> GetIntArray(const std::string& key) const;
  Result<std::vector<double>> GetFloatArray(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(const std::string& name) const;
  std::span<const uint8_t> TensorBytes(const GgufTensorInfo& t) const;

 private:
  Status Parse();
  std::shared_ptr<MappedFile> file_;
  std::span<const uint8_t> bytes_;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace anec::io
