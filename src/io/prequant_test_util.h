// Test helpers for the pre-quantized (GPTQ / AWQ) reader tests: a small in-memory TensorSource
// and nibble packing written independently of prequant_linear.cc. Test-only (included by
// prequant_*_test.cc).
#pragma once

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "base/half.h"
#include "io/tensor_source.h"

namespace anec::io::testing {

class MapSource : public TensorSource {
 public:
  template <typename T>
  void Add(const std::string& name, TensorDType dtype, std::vector<int64_t> shape,
           const std::vector<T>& values) {
    TensorData d;
    d.info.name = name;
    d.info.dtype = dtype;
    d.info.shape = std::move(shape);
    d.owned.resize(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(d.owned.data(), values.data(), d.owned.size());
    tensors_[name] = std::move(d);
  }
  void Remove(const std::string& name) { tensors_.erase(name); }

  std::vector<TensorInfo> List() const override {
    std::vector<TensorInfo> out;
    for (const auto& [name, t] : tensors_) out.push_back(t.info);
    return out;
  }
  bool Has(const std::string& name) const override { return tensors_.count(name) > 0; }
  Result<TensorInfo> Info(const std::string& name) const override {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) return NotFound("no tensor {}", name);
    return it->second.info;
  }
  Result<TensorData> Read(const std::string& name) const override {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) return NotFound("no tensor {}", name);
    TensorData d;
    d.info = it->second.info;
    d.data = std::span<const uint8_t>(it->second.owned.data(), it->second.owned.size());
    return d;
  }

 private:
  std::map<std::string, TensorData> tensors_;
};

// Packs 8 nibbles into one int32: nibble k (bits 4k..4k+3) = v[k].
inline int32_t Word(const uint8_t v[8]) {
  uint32_t w = 0;
  for (int k = 0; k < 8; ++k) w |= static_cast<uint32_t>(v[k] & 0xF) << (4 * k);
  return static_cast<int32_t>(w);
}

// GPTQ layout: q [out][in] -> qweight [in/8][out], word (r, o) holds q[o][8r..8r+7].
inline std::vector<int32_t> PackGptqWeight(const std::vector<std::vector<uint8_t>>& q) {
  size_t out = q.size(), in = q[0].size();
  std::vector<int32_t> packed(in / 8 * out);
  for (size_t r = 0; r < in / 8; ++r) {
    for (size_t o = 0; o < out; ++o) packed[r * out + o] = Word(&q[o][8 * r]);
  }
  return packed;
}

// zeros [groups][out] -> [groups][out/8], natural nibble order (GPTQ).
inline std::vector<int32_t> PackRows(const std::vector<std::vector<uint8_t>>& z) {
  std::vector<int32_t> packed;
  for (const auto& row : z) {
    for (size_t c = 0; c < row.size() / 8; ++c) packed.push_back(Word(&row[8 * c]));
  }
  return packed;
}

inline std::vector<uint16_t> Halves(const std::vector<float>& v) {
  std::vector<uint16_t> h;
  for (float x : v) h.push_back(FloatToHalf(x));
  return h;
}

}  // namespace anec::io::testing
