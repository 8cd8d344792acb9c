#include "pipeline/chunk_plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "ane/lm_head_function.h"

namespace anec::pipeline {

std::string_view TargetName(Target t) { return t == Target::kIOS ? "ios" : "macos"; }

uint64_t TargetBudgetBytes(Target t) {
  return t == Target::kIOS ? 1'000'000'000ull : 2'000'000'000ull;
}

std::vector<LayerRange> SplitLayers(int64_t layers, int64_t chunks) {
  std::vector<LayerRange> out;
  const int64_t base = layers / chunks, extra = layers % chunks;
  int64_t first = 0;
  for (int64_t i = 0; i < chunks; ++i) {
    const int64_t n = base + (i < extra ? 1 : 0);
    out.push_back({first, first + n});
    first += n;
  }
  return out;
}

uint64_t EstimateMatrixBytes(int64_t rows, int64_t cols, int bits, int group) {
  const uint64_t n = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  if (bits <= 0) return n * 2;
  const uint64_t groups = static_cast<uint64_t>((rows + group - 1) / std::max(group, 1));
  return (n * static_cast<uint64_t>(bits) + 7) / 8 + groups * (uint64_t{2} << bits);
}

uint64_t SizePlan::largest() const {
  uint64_t m = std::max(embeddings, lm_head);
  for (uint64_t c : chunks) m = std::max(m, c);
  return m;
}

namespace {

uint64_t LayerBytes(const model::ModelSpec& s, const LutPlan& lut) {
  const int64_t q = s.num_heads * s.head_dim, kv = s.num_kv_heads * s.head_dim;
  const int64_t h = s.hidden_size, inter = s.intermediate_size;
  auto m = [&](int64_t r, int64_t c) { return EstimateMatrixBytes(r, c, lut.ffn, lut.group); };
  uint64_t b = m(q, h) + 2 * m(kv, h) + m(h, q) + 2 * m(inter, h) + m(h, inter);
  b += 2 * static_cast<uint64_t>(h) * 2;  // two norms
  if (s.attention_bias) b += static_cast<uint64_t>(q + 2 * kv) * 2;
  if (s.qk_norm) b += static_cast<uint64_t>(2 * s.head_dim) * 2;
  return b;
}

}  // namespace

SizePlan EstimateSizes(const model::ModelSpec& spec, const std::vector<LayerRange>& chunks,
                       const LutPlan& lut, int64_t context) {
  SizePlan p;
  p.embeddings = EstimateMatrixBytes(spec.vocab_size, spec.hidden_size, lut.embed, lut.group);
  for (int64_t rows : ane::LmHeadPieces(spec.vocab_size)) {
    p.lm_head += EstimateMatrixBytes(rows, spec.hidden_size, lut.lmhead, lut.group);
  }
  const uint64_t layer = LayerBytes(spec, lut);
  const uint64_t rope = 2 * static_cast<uint64_t>(context * spec.head_dim) * 2;
  const uint64_t program = 64 * 1024;  // program text, alignment: a generous allowance
  for (size_t i = 0; i < chunks.size(); ++i) {
    uint64_t b = layer * static_cast<uint64_t>(chunks[i].count()) + rope + program;
    if (i + 1 == chunks.size()) b += static_cast<uint64_t>(spec.hidden_size) * 2;
    p.chunks.push_back(b);
  }
  return p;
}

Result<int64_t> AutoChunkCount(const model::ModelSpec& spec, const LutPlan& lut, int64_t context,
                               Target target) {
  const uint64_t budget = TargetBudgetBytes(target);
  SizePlan one = EstimateSizes(spec, SplitLayers(spec.num_layers, spec.num_layers), lut, context);
  if (one.embeddings > budget) {
    return InvalidArgument(
        "the embeddings model would be {} (budget {} for --target {}); use --lut-embed 6 or 4, or "
        "--target macos",
        HumanBytes(one.embeddings), HumanBytes(budget), TargetName(target));
  }
  if (one.lm_head > budget) {
    return InvalidArgument(
        "the LM head model would be {} (budget {} for --target {}); use --lut-lmhead 6 or 4, or "
        "--target macos",
        HumanBytes(one.lm_head), HumanBytes(budget), TargetName(target));
  }
  for (int64_t n = 1; n <= spec.num_layers; ++n) {
    SizePlan p = EstimateSizes(spec, SplitLayers(spec.num_layers, n), lut, context);
    if (*std::max_element(p.chunks.begin(), p.chunks.end()) <= budget) return n;
  }
  return InvalidArgument(
      "one transformer layer alone would be {} (budget {} for --target {}); use --lut 4 or "
      "--target macos",
      HumanBytes(one.chunks.front()), HumanBytes(budget), TargetName(target));
}

std::string HumanBytes(uint64_t b) {
  const double d = static_cast<double>(b);
  if (b >= 1'000'000'000ull) return fmt::format("{:.2f} GB", d / 1e9);
  if (b >= 1'000'000ull) return fmt::format("{:.1f} MB", d / 1e6);
  if (b >= 1'000ull) return fmt::format("{:.1f} KB", d / 1e3);
  return fmt::format("{} B", b);
}

}  // namespace anec::pipeline
