#include "coreml/blob_file.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace anec::coreml {
namespace {

constexpr uint64_t kHeaderSize = 64;
constexpr uint64_t kMetadataSize = 64;
constexpr uint32_t kStorageVersion = 2;

// Little-endian field access. The format is little-endian; so are all hosts anec targets, but
// going through bytes keeps unaligned reads of hostile offsets well defined.
void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t AlignUp(uint64_t x) { return (x + kBlobAlignment - 1) / kBlobAlignment * kBlobAlignment; }

// Packed size of `n` elements of `bits` each; false on overflow.
bool PackedSize(uint64_t n, int bits, uint64_t* size) {
  unsigned __int128 total_bits = static_cast<unsigned __int128>(n) * static_cast<unsigned>(bits);
  unsigned __int128 bytes = (total_bits + 7) / 8;
  if (bytes > UINT64_MAX) return false;
  *size = static_cast<uint64_t>(bytes);
  return true;
}

uint64_t PaddingBits(uint64_t n, int bits) {
  if (bits >= 8) return 0;
  uint64_t used = (n % 8) * static_cast<uint64_t>(bits) % 8;  // n*bits mod 8 without overflow
  return (8 - used) % 8;
}

// Content hash for dedup. Hand-written (no hashing library in the Debian set we use) as two
// independent 64-bit lanes over 8-byte words, each with its own multiplier, rotation and seed,
// then a strong final mix. 128 bits make an accidental collision between distinct weights
// negligible; the key also carries the dtype, element count and size.
uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::array<uint64_t, 2> Hash128(std::span<const uint8_t> data) {
  uint64_t a = 0x243f6a8885a308d3ULL ^ data.size();
  uint64_t b = 0x13198a2e03707344ULL + data.size() * 0x9e3779b97f4a7c15ULL;
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    a = Rotl(a ^ (w * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
    b = Rotl(b + (w ^ 0xc2b2ae3d27d4eb4fULL), 27) * 0x165667b19e3779f9ULL + 0x52dce729;
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < data.size(); ++k) tail |= uint64_t{data[i + k]} << (8 * k);
  a = Mix(a ^ tail ^ 0xa0761d6478bd642fULL);
  b = Mix(b + tail * 0xe7037ed1a0b428dbULL);
  return {Mix(a ^ Rotl(b, 17)), Mix(b + a)};
}

}  // namespace

bool IsValidBlobDType(uint32_t code) { return code >= 1 && code <= 15; }

int BlobDTypeBits(BlobDType t) {
  switch (t) {
    case BlobDType::kFloat16:
    case BlobDType::kBFloat16:
    case BlobDType::kInt16:
    case BlobDType::kUInt16:
      return 16;
    case BlobDType::kFloat32:
    case BlobDType::kInt32:
    case BlobDType::kUInt32:
      return 32;
    case BlobDType::kUInt8:
    case BlobDType::kInt8:
      return 8;
    case BlobDType::kInt4:
    case BlobDType::kUInt4:
      return 4;
    case BlobDType::kUInt1:
      return 1;
    case BlobDType::kUInt2:
      return 2;
    case BlobDType::kUInt3:
      return 3;
    case BlobDType::kUInt6:
      return 6;
  }
  return 0;
}

std::string_view BlobDTypeName(BlobDType t) {
  switch (t) {
    case BlobDType::kFloat16:
      return "fp16";
    case BlobDType::kFloat32:
      return "fp32";
    case BlobDType::kUInt8:
      return "uint8";
    case BlobDType::kInt8:
      return "int8";
    case BlobDType::kBFloat16:
      return "bf16";
    case BlobDType::kInt16:
      return "int16";
    case BlobDType::kUInt16:
      return "uint16";
    case BlobDType::kInt4:
      return "int4";
    case BlobDType::kUInt1:
      return "uint1";
    case BlobDType::kUInt2:
      return "uint2";
    case BlobDType::kUInt4:
      return "uint4";
    case BlobDType::kUInt3:
      return "uint3";
    case BlobDType::kUInt6:
      return "uint6";
    case BlobDType::kInt32:
      return "int32";
    case BlobDType::kUInt32:
      return "uint32";
  }
  return "invalid";
}

std::optional<BlobDType> BlobDTypeForMilDataType(int mil_data_type) {
  switch (mil_data_type) {
    case 10:
      return BlobDType::kFloat16;
    case 11:
      return BlobDType::kFloat32;
    case 13:
      return BlobDType::kBFloat16;
    case 21:
      return BlobDType::kInt8;
    case 22:
      return BlobDType::kInt16;
    case 23:
      return BlobDType::kInt32;
    case 25:
      return BlobDType::kInt4;
    case 31:
      return BlobDType::kUInt8;
    case 32:
      return BlobDType::kUInt16;
    case 33:
      return BlobDType::kUInt32;
    case 35:
      return BlobDType::kUInt4;
    case 36:
      return BlobDType::kUInt2;
    case 37:
      return BlobDType::kUInt1;
    case 38:
      return BlobDType::kUInt6;
    case 39:
      return BlobDType::kUInt3;
    default:
      return std::nullopt;
  }
}

std::vector<uint8_t> PackBits(std::span<const uint8_t> values, int bits) {
  assert(bits >= 1 && bits <= 8);
  if (bits == 8) return {values.begin(), values.end()};
  uint64_t size = 0;
  PackedSize(values.size(), bits, &size);
  std::vector<uint8_t> out(size, 0);
  const uint32_t mask = (1u << bits) - 1;
  uint64_t bit = 0;
  for (uint8_t v : values) {
    uint32_t shifted = (v & mask) << (bit % 8);  // at most 15 bits: spans two bytes at most
    out[bit / 8] |= static_cast<uint8_t>(shifted);
    if (shifted >> 8) out[bit / 8 + 1] |= static_cast<uint8_t>(shifted >> 8);
    bit += static_cast<uint64_t>(bits);
  }
  return out;
}

std::vector<uint8_t> UnpackBits(std::span<const uint8_t> packed, int bits, size_t n) {
  assert(bits >= 1 && bits <= 8);
  std::vector<uint8_t> out(n);
  if (bits == 8) {
    std::copy_n(packed.begin(), std::min(n, packed.size()), out.begin());
    return out;
  }
  const uint32_t mask = (1u << bits) - 1;
  uint64_t bit = 0;
  for (size_t i = 0; i < n; ++i, bit += static_cast<uint64_t>(bits)) {
    size_t byte = bit / 8;
    if (byte >= packed.size()) break;  // REQUIRES violated: leave the rest zero, never overread
    uint32_t window = packed[byte];
    if (byte + 1 < packed.size()) window |= uint32_t{packed[byte + 1]} << 8;
    out[i] = static_cast<uint8_t>((window >> (bit % 8)) & mask);
  }
  return out;
}

// ---- BlobWriter ----

BlobWriter::BlobWriter(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {
  if (!file_) {
    status_ = Internal("BlobWriter: no file");
    return;
  }
  if (file_->size() != 0) {
    status_ =
        Internal("BlobWriter: the weight file must start empty, it has {} bytes", file_->size());
    return;
  }
  std::array<uint8_t, kHeaderSize> header{};
  PutU32(header.data(), 0);  // count, patched by Finish()
  PutU32(header.data() + 4, kStorageVersion);
  status_ = file_->Append(header);
}

BlobWriter::~BlobWriter() { Abandon(); }

uint64_t BlobWriter::bytes_written() const { return file_ ? file_->size() : final_size_; }

Result<uint64_t> BlobWriter::Add(BlobDType dtype, std::span<const uint8_t> data,
                                 uint64_t num_elements) {
  if (!status_.ok()) return status_;
  if (!file_) return FailedPrecondition("BlobWriter::Add after Finish() or Abandon()");
  if (!IsValidBlobDType(static_cast<uint32_t>(dtype))) {
    return InvalidArgument("BlobWriter::Add: dtype code {} is not a blob dtype (1..15)",
                           static_cast<uint32_t>(dtype));
  }
  const int bits = BlobDTypeBits(dtype);
  uint64_t expected = 0;
  if (!PackedSize(num_elements, bits, &expected) || expected != data.size()) {
    return InvalidArgument(
        "BlobWriter::Add: {} {} elements need {} bytes ({} bits each, packed), got {} bytes",
        num_elements, BlobDTypeName(dtype), expected, bits, data.size());
  }
  if (count_ == UINT32_MAX) return InvalidArgument("BlobWriter::Add: more than 2^32-1 blobs");

  std::array<uint64_t, 2> h = Hash128(data);
  std::string key(4 + 8 + 8 + 16, '\0');
  PutU32(reinterpret_cast<uint8_t*>(key.data()), static_cast<uint32_t>(dtype));
  PutU64(reinterpret_cast<uint8_t*>(key.data()) + 4, num_elements);
  PutU64(reinterpret_cast<uint8_t*>(key.data()) + 12, data.size());
  PutU64(reinterpret_cast<uint8_t*>(key.data()) + 20, h[0]);
  PutU64(reinterpret_cast<uint8_t*>(key.data()) + 28, h[1]);
  if (auto it = seen_.find(key); it != seen_.end()) {
    dedup_bytes_ += data.size();
    return it->second;
  }

  const uint64_t metadata_offset = AlignUp(file_->size());
  static const std::array<uint8_t, kBlobAlignment> kZeros{};
  Status s =
      file_->Append(std::span<const uint8_t>(kZeros.data(), metadata_offset - file_->size()));
  std::array<uint8_t, kMetadataSize> meta{};
  PutU32(meta.data(), kBlobSentinel);
  PutU32(meta.data() + 4, static_cast<uint32_t>(dtype));
  PutU64(meta.data() + 8, data.size());
  PutU64(meta.data() + 16, metadata_offset + kMetadataSize);
  PutU64(meta.data() + 24, PaddingBits(num_elements, bits));
  if (s.ok()) s = file_->Append(meta);
  if (s.ok()) s = file_->Append(data);
  if (!s.ok()) {
    status_ = s;
    return s;
  }
  ++count_;
  seen_.emplace(std::move(key), metadata_offset);
  return metadata_offset;
}

Status BlobWriter::Finish() {
  if (!status_.ok()) {
    Abandon();
    return status_;
  }
  if (!file_) return FailedPrecondition("BlobWriter::Finish called twice or after Abandon()");
  std::array<uint8_t, 4> count{};
  PutU32(count.data(), count_);
  Status s = file_->PatchAt(0, count);
  final_size_ = file_->size();
  if (s.ok()) s = file_->Close();
  file_.reset();
  if (!s.ok()) status_ = s;
  return s;
}

void BlobWriter::Abandon() { file_.reset(); }

// ---- BlobReader ----

Result<BlobReader> BlobReader::Open(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, fs->Map(path));
  std::shared_ptr<MappedFile> shared(std::move(mapped));
  ANEC_ASSIGN_OR_RETURN(BlobReader reader, FromBytes(shared->bytes(), path));
  reader.file_ = std::move(shared);
  return reader;
}

Result<BlobReader> BlobReader::FromBytes(std::span<const uint8_t> bytes, std::string name) {
  if (bytes.size() < kHeaderSize) {
    return Corrupt(
        "{}: weight file is {} bytes, shorter than the 64-byte header; the file is truncated, "
        "re-run the conversion",
        name, bytes.size());
  }
  const uint32_t count = GetU32(bytes.data());
  const uint32_t version = GetU32(bytes.data() + 4);
  if (version != kStorageVersion) {
    return Unsupported("{}: weight file header has storage version {}, expected 2", name, version);
  }
  // Every blob needs at least its 64-byte metadata record, so the count is bounded by the size.
  const uint64_t max_blobs = (bytes.size() - kHeaderSize) / kMetadataSize;
  if (count > max_blobs) {
    return Corrupt("{}: header says {} blobs but a {}-byte file holds at most {}; truncated file?",
                   name, count, bytes.size(), max_blobs);
  }
  BlobReader r;
  r.bytes_ = bytes;
  r.path_ = std::move(name);
  r.count_ = count;
  return r;
}

Result<Blob> BlobReader::Get(uint64_t metadata_offset) const {
  const uint64_t file_size = bytes_.size();
  if (metadata_offset % kBlobAlignment != 0 || metadata_offset < kHeaderSize) {
    return Corrupt("{}: blob offset {} is not a 64-byte aligned offset past the header", path_,
                   metadata_offset);
  }
  if (metadata_offset > file_size || file_size - metadata_offset < kMetadataSize) {
    return Corrupt("{}: blob offset {} lies past the end of the {}-byte weight file", path_,
                   metadata_offset, file_size);
  }
  const uint8_t* m = bytes_.data() + metadata_offset;
  const uint32_t sentinel = GetU32(m);
  if (sentinel != kBlobSentinel) {
    return Corrupt("{}: blob at offset {} has sentinel 0x{:08X}, expected 0xDEADBEEF", path_,
                   metadata_offset, sentinel);
  }
  const uint32_t code = GetU32(m + 4);
  if (!IsValidBlobDType(code)) {
    return Corrupt("{}: blob at offset {} has unknown dtype code {} (valid: 1..15)", path_,
                   metadata_offset, code);
  }
  Blob b;
  b.dtype = static_cast<BlobDType>(code);
  b.metadata_offset = metadata_offset;
  b.size_bytes = GetU64(m + 8);
  b.data_offset = GetU64(m + 16);
  b.padding_bits = GetU64(m + 24);
  if (b.data_offset % kBlobAlignment != 0 || b.data_offset < metadata_offset + kMetadataSize) {
    return Corrupt(
        "{}: blob at offset {} has data offset {}, expected a 64-byte aligned offset "
        "after its metadata (>= {})",
        path_, metadata_offset, b.data_offset, metadata_offset + kMetadataSize);
  }
  if (b.data_offset > file_size || b.size_bytes > file_size - b.data_offset) {
    return Corrupt(
        "{}: blob at offset {} claims {} bytes at offset {}, past the end of the "
        "{}-byte file; truncated file?",
        path_, metadata_offset, b.size_bytes, b.data_offset, file_size);
  }
  const int bits = BlobDTypeBits(b.dtype);
  const bool padding_ok =
      bits >= 8 ? b.padding_bits == 0
                : b.padding_bits < 8 && (b.size_bytes > 0 || b.padding_bits == 0) &&
                      (b.size_bytes * 8 - b.padding_bits) % static_cast<uint64_t>(bits) == 0;
  if (!padding_ok) {
    return Corrupt(
        "{}: blob at offset {} ({}, {} bytes) has {} padding bits, which no element "
        "count of {}-bit values gives",
        path_, metadata_offset, BlobDTypeName(b.dtype), b.size_bytes, b.padding_bits, bits);
  }
  if (bits >= 8 && b.size_bytes % static_cast<uint64_t>(bits / 8) != 0) {
    return Corrupt("{}: blob at offset {} ({}) is {} bytes, not a multiple of the element size",
                   path_, metadata_offset, BlobDTypeName(b.dtype), b.size_bytes);
  }
  b.data = bytes_.subspan(b.data_offset, b.size_bytes);
  return b;
}

Result<Blob> BlobReader::Get(uint64_t metadata_offset, BlobDType expected,
                             uint64_t num_elements) const {
  ANEC_ASSIGN_OR_RETURN(Blob b, Get(metadata_offset));
  if (b.dtype != expected) {
    return Corrupt("{}: blob at offset {} holds {} data but the program expects {}", path_,
                   metadata_offset, BlobDTypeName(b.dtype), BlobDTypeName(expected));
  }
  const int bits = BlobDTypeBits(expected);
  uint64_t size = 0;
  if (!PackedSize(num_elements, bits, &size) || size != b.size_bytes ||
      PaddingBits(num_elements, bits) != b.padding_bits) {
    return Corrupt(
        "{}: blob at offset {} is {} bytes with {} padding bits, but {} {} elements "
        "need {} bytes with {} padding bits",
        path_, metadata_offset, b.size_bytes, b.padding_bits, num_elements, BlobDTypeName(expected),
        size, PaddingBits(num_elements, bits));
  }
  return b;
}

Result<std::vector<Blob>> BlobReader::All() const {
  std::vector<Blob> blobs;
  blobs.reserve(count_);  // bounded by the file size in FromBytes
  uint64_t offset = kHeaderSize;
  for (uint32_t i = 0; i < count_; ++i) {
    Result<Blob> b = Get(offset);
    if (!b.ok()) return b.status().WithContext(fmt::format("blob {} of {}", i + 1, count_));
    offset = AlignUp(b->data_offset + b->size_bytes);
    blobs.push_back(*b);
  }
  const uint64_t end =
      blobs.empty() ? kHeaderSize : blobs.back().data_offset + blobs.back().size_bytes;
  if (end != bytes_.size()) {
    return Corrupt(
        "{}: {} bytes follow the last of the {} blobs the header counts; header count "
        "wrong or file damaged",
        path_, bytes_.size() - std::min<uint64_t>(end, bytes_.size()), count_);
  }
  return blobs;
}

}  // namespace anec::coreml
