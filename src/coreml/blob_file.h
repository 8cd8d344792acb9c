// The Core ML blob file (weights/weight.bin, storage version 2). Format: docs/BLOB_FORMAT.md.
//
// BlobWriter is a builder: Add() blobs, then Finish() (or Abandon()). Blobs stream to the file as
// they are added; only a content hash per blob is kept, so identical blobs are stored once.
// BlobReader validates everything it hands out: a hostile file yields a Status, never a crash.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::coreml {

// Blob dtype codes as stored in the metadata record.
enum class BlobDType : uint32_t {
  kFloat16 = 1, kFloat32 = 2, kUInt8 = 3, kInt8 = 4, kBFloat16 = 5, kInt16 = 6, kUInt16 = 7,
  kInt4 = 8, kUInt1 = 9, kUInt2 = 10, kUInt4 = 11, kUInt3 = 12, kUInt6 = 13, kInt32 = 14,
  kUInt32 = 15,
};

bool IsValidBlobDType(uint32_t code);
int BlobDTypeBits(BlobDType t);  // 16, 32, 8, ..., 3, 6
std::string_view BlobDTypeName(BlobDType t);
// The blob dtype that stores a MIL tensor of `mil_data_type` (MILSpec.DataType enum value, e.g.
// 10 = FLOAT16 -> kFloat16); nullopt for types that are never stored as blobs (bool, int64...).
std::optional<BlobDType> BlobDTypeForMilDataType(int mil_data_type);

inline constexpr uint32_t kBlobSentinel = 0xDEADBEEF;
inline constexpr uint64_t kBlobAlignment = 64;

// Sub-byte packing: LSB-first bit stream, element i at bits [i*bits, i*bits+bits).
// REQUIRES: 1 <= bits <= 8 and every value < 2^bits.
std::vector<uint8_t> PackBits(std::span<const uint8_t> values, int bits);
// Inverse of PackBits. REQUIRES: packed.size() >= ceil(n*bits/8).
std::vector<uint8_t> UnpackBits(std::span<const uint8_t> packed, int bits, size_t n);

class BlobWriter {
 public:
  // Takes ownership of `file`, which must be empty. Nothing appears at its final path until
  // Finish().
  explicit BlobWriter(std::unique_ptr<WritableFile> file);
  ~BlobWriter();  // abandons if not finished
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Appends a blob and returns the offset of its metadata record (what BlobFileValue.offset
  // stores). `data` is the stored bytes (sub-byte types already packed); `num_elements` gives
  // the padding bits for sub-byte types. A blob with the same dtype, element count and bytes as
  // an earlier one is not written again: the earlier offset is returned.
  Result<uint64_t> Add(BlobDType dtype, std::span<const uint8_t> data, uint64_t num_elements);

  uint32_t num_blobs() const { return count_; }
  uint64_t bytes_written() const;
  uint64_t bytes_deduplicated() const { return dedup_bytes_; }

  // Writes the header count and closes the file. REQUIRES: called once, not after Abandon().
  Status Finish();
  // Drops the temporary file.
  void Abandon();

 private:
  std::unique_ptr<WritableFile> file_;
  uint32_t count_ = 0;
  uint64_t dedup_bytes_ = 0;
  uint64_t final_size_ = 0;  // file size once Finish() closed it
  Status status_;
  // content key (dtype, n, 128-bit hash of bytes) -> metadata offset
  std::unordered_map<std::string, uint64_t> seen_;
};

// One blob as read from a file; `data` points into the reader's mapping.
struct Blob {
  BlobDType dtype;
  uint64_t metadata_offset;
  uint64_t data_offset;
  uint64_t size_bytes;
  uint64_t padding_bits;
  std::span<const uint8_t> data;
};

class BlobReader {
 public:
  // Maps and validates the header (size >= 64, version 2). Blobs are validated on Get().
  static Result<BlobReader> Open(FileSystem* fs, const std::string& path);
  // From bytes the caller keeps alive (tests).
  static Result<BlobReader> FromBytes(std::span<const uint8_t> bytes, std::string name);

  uint32_t count() const { return count_; }
  const std::string& path() const { return path_; }

  // The blob whose metadata record is at `metadata_offset`. Checks alignment, sentinel, dtype
  // code, that data lies within the file, and padding bits consistent with the size.
  Result<Blob> Get(uint64_t metadata_offset) const;
  // Get() plus: dtype equals `expected` and the size matches `num_elements` of that dtype.
  Result<Blob> Get(uint64_t metadata_offset, BlobDType expected, uint64_t num_elements) const;
  // Every blob in file order (walks metadata records from offset 64).
  Result<std::vector<Blob>> All() const;

 private:
  std::shared_ptr<MappedFile> file_;  // null when built FromBytes
  std::span<const uint8_t> bytes_;
  std::string path_;
  uint32_t count_ = 0;
};

}  // namespace anec::coreml
