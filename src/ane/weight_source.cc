#include "ane/weight_source.h"

#include <cstring>
#include <random>

namespace anec::ane {

void MemoryWeightSource::Set(model::TensorRole role, int64_t layer, std::vector<int64_t> shape,
                             std::vector<float> values) {
  tensors_[{static_cast<int>(role), layer}] = Entry{std::move(shape), std::move(values)};
}

const std::vector<float>* MemoryWeightSource::Values(model::TensorRole role, int64_t layer) const {
  auto it = tensors_.find({static_cast<int>(role), layer});
  if (it == tensors_.end() && role == model::TensorRole::kLmHead) {
    it = tensors_.find({static_cast<int>(model::TensorRole::kEmbedding), 0});
  }
  return it == tensors_.end() ? nullptr : &it->second.values;
}

Result<io::TensorData> MemoryWeightSource::Read(model::TensorRole role, int64_t layer) const {
  auto it = tensors_.find({static_cast<int>(role), layer});
  if (it == tensors_.end() && role == model::TensorRole::kLmHead) {
    it = tensors_.find({static_cast<int>(model::TensorRole::kEmbedding), 0});
  }
  if (it == tensors_.end()) {
    return NotFound("memory weights: no tensor for role {} layer {}", static_cast<int>(role),
                    layer);
  }
  io::TensorData t;
  t.info.name = "role" + std::to_string(static_cast<int>(role)) + ".layer" + std::to_string(layer);
  t.info.dtype = io::TensorDType::kF32;
  t.info.shape = it->second.shape;
  // Points at the stored floats: no copy, valid while the source lives.
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(it->second.values.data()),
                                    it->second.values.size() * sizeof(float));
  return t;
}

namespace {

std::vector<int64_t> ShapeOf(const model::ModelSpec& s, model::TensorRole role) {
  using R = model::TensorRole;
  const int64_t q = s.num_heads * s.head_dim, kv = s.num_kv_heads * s.head_dim;
  switch (role) {
    case R::kEmbedding:
    case R::kLmHead:
      return {s.vocab_size, s.hidden_size};
    case R::kFinalNorm:
    case R::kInputNorm:
    case R::kPostAttnNorm:
    case R::kAttnOutNorm:
    case R::kMlpOutNorm:
      return {s.hidden_size};
    case R::kQProj:
      return {q, s.hidden_size};
    case R::kKProj:
    case R::kVProj:
      return {kv, s.hidden_size};
    case R::kOProj:
      return {s.hidden_size, q};
    case R::kQBias:
      return {q};
    case R::kKBias:
    case R::kVBias:
      return {kv};
    case R::kQNorm:
    case R::kKNorm:
      return {s.head_dim};
    case R::kGateProj:
    case R::kUpProj:
      return {s.intermediate_size, s.hidden_size};
    case R::kDownProj:
      return {s.hidden_size, s.intermediate_size};
  }
  return {};
}

}  // namespace

MemoryWeightSource RandomWeights(const model::ModelSpec& spec, uint64_t seed, float scale) {
  using R = model::TensorRole;
  MemoryWeightSource src;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  auto fill = [&](R role, int64_t layer) {
    std::vector<int64_t> shape = ShapeOf(spec, role);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    const bool is_norm = role == R::kFinalNorm || role == R::kInputNorm ||
                         role == R::kPostAttnNorm || role == R::kQNorm || role == R::kKNorm ||
                         role == R::kAttnOutNorm || role == R::kMlpOutNorm;
    for (float& x : v) x = is_norm ? 1.0f + 0.2f * uni(rng) : scale * uni(rng);
    src.Set(role, layer, std::move(shape), std::move(v));
  };
  fill(R::kEmbedding, 0);
  fill(R::kFinalNorm, 0);
  if (!spec.tie_word_embeddings) fill(R::kLmHead, 0);
  for (int64_t l = 0; l < spec.num_layers; ++l) {
    for (R r : {R::kInputNorm, R::kPostAttnNorm, R::kQProj, R::kKProj, R::kVProj, R::kOProj,
                R::kGateProj, R::kUpProj, R::kDownProj}) {
      fill(r, l);
    }
    if (spec.attention_bias) {
      for (R r : {R::kQBias, R::kKBias, R::kVBias}) fill(r, l);
    }
    if (spec.qk_norm) {
      for (R r : {R::kQNorm, R::kKNorm}) fill(r, l);
    }
    if (spec.sandwich_norms) {
      for (R r : {R::kAttnOutNorm, R::kMlpOutNorm}) fill(r, l);
    }
  }
  return src;
}

}  // namespace anec::ane
