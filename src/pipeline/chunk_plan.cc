#include "pipeline/chunk_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "ane/lm_head_function.h"

namespace anec::pipeline {

namespace {
// Program text (model.mlmodel) allowances: the first layer with the chunk's fixed parts, then
// each further whole layer (infer + prefill functions).
constexpr uint64_t kFirstLayerText = 80 * 1024;
constexpr uint64_t kLayerText = 70 * 1024;
}  // namespace

std::string_view TargetName(Target t) { return t == Target::kIOS ? "ios" : "macos"; }

uint64_t TargetBudgetBytes(Target t) {
  return t == Target::kIOS ? 1'000'000'000ull : 2'000'000'000ull;
}

FileBudget TargetBudget(Target t) {
  return {TargetBudgetBytes(t), fmt::format("for --target {}", TargetName(t))};
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

LayerRange AttentionLayers(const ChunkSpan& span) {
  const int64_t first =
      span.begin.part == StackCursor::kAttention ? span.begin.layer : span.begin.layer + 1;
  const int64_t end = span.end.part == StackCursor::kMlp ? span.end.layer + 1 : span.end.layer;
  return {std::min(first, end), end};
}

ChunkSpan LayersSpan(const LayerRange& r) {
  return {{r.first, StackCursor::kAttention, 0}, {r.end, StackCursor::kAttention, 0}};
}

std::vector<ChunkSpan> LayerSpans(const std::vector<LayerRange>& ranges) {
  std::vector<ChunkSpan> out;
  for (const LayerRange& r : ranges) out.push_back(LayersSpan(r));
  return out;
}

std::vector<LayerPart> PartsOf(const ChunkSpan& s, int64_t intermediate) {
  const bool ends_in_mlp = s.end.part == StackCursor::kMlp;
  const int64_t last = ends_in_mlp ? s.end.layer : s.end.layer - 1;
  std::vector<LayerPart> out;
  for (int64_t l = s.begin.layer; l <= last; ++l) {
    const bool starts_in_mlp = l == s.begin.layer && s.begin.part == StackCursor::kMlp;
    LayerPart p;
    p.layer = l;
    p.attention = !starts_in_mlp;
    p.mlp_begin = starts_in_mlp ? s.begin.mlp_begin : 0;
    p.mlp_end = l == s.end.layer && ends_in_mlp ? s.end.mlp_begin : intermediate;
    out.push_back(p);
  }
  return out;
}

std::string DescribeChunk(const ChunkSpan& s, int64_t intermediate, int64_t mlp_slice) {
  if (s.whole_layers()) {
    return s.end.layer - s.begin.layer == 1
               ? fmt::format("layer {}", s.begin.layer)
               : fmt::format("layers {}-{}", s.begin.layer, s.end.layer - 1);
  }
  const int64_t w = mlp_slice > 0 ? mlp_slice : intermediate;
  auto mlp = [](int64_t layer, int64_t a, int64_t b) {
    return fmt::format("layer {} mlp[{}:{})", layer, a, b);
  };
  // Only MLP rows of one layer: one range.
  const bool ends_in_same_mlp =
      (s.end.part == StackCursor::kMlp && s.end.layer == s.begin.layer) ||
      (s.end.part == StackCursor::kAttention && s.end.layer == s.begin.layer + 1);
  if (s.begin.part == StackCursor::kMlp && ends_in_same_mlp) {
    return mlp(s.begin.layer, s.begin.mlp_begin,
               s.end.part == StackCursor::kMlp ? s.end.mlp_begin : intermediate);
  }
  // The piece right after `begin` and the one right before `end`.
  std::string first =
      s.begin.part == StackCursor::kAttention
          ? fmt::format("layer {} attention", s.begin.layer)
          : mlp(s.begin.layer, s.begin.mlp_begin, std::min(s.begin.mlp_begin + w, intermediate));
  std::string last;
  if (s.end.part == StackCursor::kAttention) {
    last = mlp(s.end.layer - 1, std::max<int64_t>(0, intermediate - w), intermediate);
  } else if (s.end.mlp_begin == 0) {
    last = fmt::format("layer {} attention", s.end.layer);
  } else {
    last = mlp(s.end.layer, std::max<int64_t>(0, s.end.mlp_begin - w), s.end.mlp_begin);
  }
  return first == last ? first : first + " .. " + last;
}

uint64_t EstimateMatrixBytes(int64_t rows, int64_t cols, int bits, int group, bool row_scale) {
  const uint64_t n = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  if (bits <= 0) return n * 2;
  const uint64_t groups = static_cast<uint64_t>((rows + group - 1) / std::max(group, 1));
  return (n * static_cast<uint64_t>(bits) + 7) / 8 + groups * (uint64_t{2} << bits) +
         (row_scale ? static_cast<uint64_t>(rows) * 2 : 0);
}

uint64_t SizePlan::largest() const {
  uint64_t m = std::max(embeddings, lm_head);
  for (uint64_t c : chunks) m = std::max(m, c);
  return m;
}

namespace {

// Stored bytes of the pieces of one layer. A whole layer is attention(l) + mlp(l, I, true).
struct PieceBytes {
  const model::ModelSpec& s;
  const LutPlan& lut;

  uint64_t m(model::TensorRole role, int64_t layer, int64_t r, int64_t c) const {
    double bits = lut.ffn_carried_bits;
    if (auto it = lut.matrix_bits.find({role, layer}); it != lut.matrix_bits.end()) {
      bits = it->second;
    }
    if (bits > 0) {
      return static_cast<uint64_t>(
          std::ceil(static_cast<double>(r) * static_cast<double>(c) * bits / 8));
    }
    return EstimateMatrixBytes(r, c, lut.ffn, lut.group, lut.row_scale);
  }
  uint64_t norm() const { return static_cast<uint64_t>(s.hidden_size) * 2; }
  // Input norm, q/k/v/o, biases, q/k norms.
  uint64_t attention(int64_t l) const {
    using model::TensorRole;
    const int64_t q = s.num_heads * s.head_dim, kv = s.num_kv_heads * s.head_dim;
    const int64_t h = s.hidden_size;
    uint64_t b = m(TensorRole::kQProj, l, q, h) + m(TensorRole::kKProj, l, kv, h) +
                 m(TensorRole::kVProj, l, kv, h) + m(TensorRole::kOProj, l, h, q) + norm();
    if (s.attention_bias) b += static_cast<uint64_t>(q + 2 * kv) * 2;
    if (s.qk_norm) b += static_cast<uint64_t>(2 * s.head_dim) * 2;
    return b;
  }
  // gate and up rows, down columns of `rows` intermediate rows; the post-attention norm lives
  // with the slice that computes the MLP input (the one starting at row 0).
  uint64_t mlp(int64_t l, int64_t rows, bool with_norm) const {
    using model::TensorRole;
    const int64_t h = s.hidden_size;
    return m(TensorRole::kGateProj, l, rows, h) + m(TensorRole::kUpProj, l, rows, h) +
           m(TensorRole::kDownProj, l, h, rows) + (with_norm ? norm() : 0);
  }
  // The largest over the layers (matrices of one role may differ in type from layer to layer).
  uint64_t max_attention() const {
    uint64_t b = 0;
    for (int64_t l = 0; l < s.num_layers; ++l) b = std::max(b, attention(l));
    return b;
  }
  uint64_t max_mlp(int64_t rows, bool with_norm) const {
    uint64_t b = 0;
    for (int64_t l = 0; l < s.num_layers; ++l) b = std::max(b, mlp(l, rows, with_norm));
    return b;
  }
  uint64_t part(const LayerPart& p) const {
    uint64_t b = p.attention ? attention(p.layer) : 0;
    if (p.mlp_end > p.mlp_begin) b += mlp(p.layer, p.mlp_end - p.mlp_begin, p.mlp_begin == 0);
    return b;
  }
  // Rotary tables and a generous allowance for program text and alignment: in every chunk file.
  uint64_t fixed(int64_t context) const {
    return 2 * static_cast<uint64_t>(context * s.head_dim) * 2 + kFirstLayerText;
  }
};

}  // namespace

SizePlan EstimateSizes(const model::ModelSpec& spec, const std::vector<ChunkSpan>& chunks,
                       const LutPlan& lut, int64_t context) {
  SizePlan p;
  p.embeddings = EstimateMatrixBytes(spec.vocab_size, spec.hidden_size, lut.embed, lut.group);
  const ane::LmHeadLayout head = ane::LmHeadLayoutOf(spec);
  for (int64_t i = 0; i < head.pieces; ++i) {
    const int64_t rows = head.RealRows(i);  // pad rows are a constant concat, not weights
    double bits = lut.lmhead_carried_bits;
    if (auto it = lut.matrix_bits.find({model::TensorRole::kLmHead, 0});
        it != lut.matrix_bits.end()) {
      bits = it->second;
    }
    p.lm_head +=
        bits > 0
            ? static_cast<uint64_t>(std::ceil(static_cast<double>(rows) *
                                              static_cast<double>(spec.hidden_size) * bits / 8))
            : EstimateMatrixBytes(rows, spec.hidden_size, lut.lmhead, lut.group, lut.row_scale);
  }
  const PieceBytes pieces{spec, lut};
  for (size_t i = 0; i < chunks.size(); ++i) {
    uint64_t b = pieces.fixed(context);
    int64_t whole = 0;
    for (const LayerPart& part : PartsOf(chunks[i], spec.intermediate_size)) {
      b += pieces.part(part);
      whole += part.attention && part.mlp_begin == 0 && part.mlp_end == spec.intermediate_size;
    }
    // Program text grows with the layers: up to ~70 KB per layer for the two functions (measured
    // on a LUT6 conversion: 72.1 KB for a one-layer chunk, 65.8 KB per further layer). The fixed
    // allowance covers the first.
    if (whole > 1) b += static_cast<uint64_t>(whole - 1) * kLayerText;
    if (i + 1 == chunks.size()) b += pieces.norm();  // the final norm
    p.chunks.push_back(b);
  }
  return p;
}

SizePlan EstimateSizes(const model::ModelSpec& spec, const std::vector<LayerRange>& chunks,
                       const LutPlan& lut, int64_t context) {
  return EstimateSizes(spec, LayerSpans(chunks), lut, context);
}

namespace {

struct Piece {
  StackCursor at;  // where the piece starts
  uint64_t bytes = 0;
};

// Chunk starts (indices into `pieces`) when each chunk takes pieces while they fit `cap`.
// Greedy filling gives the fewest contiguous chunks for a given cap. REQUIRES: each piece <= cap.
std::vector<size_t> Pack(const std::vector<Piece>& pieces, uint64_t cap) {
  std::vector<size_t> starts;
  uint64_t used = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (starts.empty() || used + pieces[i].bytes > cap) {
      starts.push_back(i);
      used = 0;
    }
    used += pieces[i].bytes;
  }
  return starts;
}

// The pieces of the whole stack with MLP slices of width w (w divides the intermediate size).
std::vector<Piece> StackPieces(const model::ModelSpec& spec, const PieceBytes& pb, int64_t w) {
  std::vector<Piece> pieces;
  for (int64_t l = 0; l < spec.num_layers; ++l) {
    pieces.push_back({{l, StackCursor::kAttention, 0}, pb.attention(l)});
    for (int64_t i = 0; i < spec.intermediate_size; i += w) {
      pieces.push_back({{l, StackCursor::kMlp, i}, pb.mlp(l, w, i == 0)});
    }
  }
  pieces.back().bytes += pb.norm();  // the final norm rides with the last piece
  return pieces;
}

// The MLP slice width: among equal slices whose width is a multiple of 64 (else of the LUT group,
// else any) and whose pieces fit `room`, the one giving the fewest chunks, then the fewest
// slices. (The fewest slices alone can waste files: 70B fp16 on iOS in 2 slices packs one piece
// per file.) 0: no slice fits.
int64_t MlpSliceWidth(const model::ModelSpec& spec, const PieceBytes& pb, int group,
                      uint64_t room) {
  const int64_t inter = spec.intermediate_size;
  constexpr int64_t kMaxSlices = 1024;  // finer cuts only add program text
  for (int64_t align : {int64_t{64}, int64_t{std::max(group, 1)}, int64_t{1}}) {
    int64_t best_w = 0;
    size_t best_chunks = 0;
    for (int64_t k = 1; k <= std::min(inter, kMaxSlices); ++k) {
      const int64_t w = inter / k;
      if (inter % k != 0 || w % align != 0 || pb.max_mlp(w, true) + pb.norm() > room) continue;
      const size_t chunks = Pack(StackPieces(spec, pb, w), room).size();
      if (best_w == 0 || chunks < best_chunks) {
        best_w = w;
        best_chunks = chunks;
      }
    }
    if (best_w != 0) return best_w;
  }
  return 0;
}

Result<ChunkPlan> PlanPieces(const model::ModelSpec& spec, const LutPlan& lut, int64_t context,
                             const FileBudget& budget) {
  const PieceBytes pb{spec, lut};
  const uint64_t fixed = pb.fixed(context);
  if (fixed + pb.max_attention() > budget.bytes) {
    return InvalidArgument(
        "one attention block alone would make a {} chunk (budget {} {}); use --lut 4, a larger "
        "--max-file-mb, or --target macos",
        HumanBytes(fixed + pb.max_attention()), HumanBytes(budget.bytes), budget.origin);
  }
  // Every chunk holds the fixed part; `room` is what is left for pieces.
  const uint64_t room = budget.bytes - fixed;
  const int64_t w = MlpSliceWidth(spec, pb, lut.group, room);
  if (w == 0) {
    return InvalidArgument("no slice of the MLP fits the budget {} {}; use a larger --max-file-mb",
                           HumanBytes(budget.bytes), budget.origin);
  }
  const std::vector<Piece> pieces = StackPieces(spec, pb, w);
  // The fewest chunks, then the smallest cap that keeps that count: balanced files.
  const size_t n = Pack(pieces, room).size();
  uint64_t lo = 0, hi = room;
  for (const Piece& p : pieces) lo = std::max(lo, p.bytes);
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (Pack(pieces, mid).size() <= n) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const std::vector<size_t> starts = Pack(pieces, lo);
  ChunkPlan plan;
  plan.mlp_slice = w;
  for (size_t c = 0; c < starts.size(); ++c) {
    const StackCursor end =
        c + 1 < starts.size() ? pieces[starts[c + 1]].at : StackCursor{spec.num_layers};
    plan.chunks.push_back({pieces[starts[c]].at, end});
  }
  return plan;
}

}  // namespace

Result<ChunkPlan> PlanChunks(const model::ModelSpec& spec, const LutPlan& lut, int64_t context,
                             const FileBudget& budget) {
  const uint64_t limit = budget.bytes;
  const SizePlan one =
      EstimateSizes(spec, SplitLayers(spec.num_layers, spec.num_layers), lut, context);
  if (one.embeddings > limit) {
    return InvalidArgument(
        "the embeddings model would be {} (budget {} {}); use --lut-embed 6 or 4, or "
        "--target macos",
        HumanBytes(one.embeddings), HumanBytes(limit), budget.origin);
  }
  if (one.lm_head > limit) {
    return InvalidArgument(
        "the LM head model would be {} (budget {} {}); use --lut-lmhead 6 or 4, or "
        "--target macos",
        HumanBytes(one.lm_head), HumanBytes(limit), budget.origin);
  }
  for (int64_t n = 1; n <= spec.num_layers; ++n) {
    std::vector<ChunkSpan> spans = LayerSpans(SplitLayers(spec.num_layers, n));
    SizePlan p = EstimateSizes(spec, spans, lut, context);
    if (*std::max_element(p.chunks.begin(), p.chunks.end()) <= limit) {
      return ChunkPlan{std::move(spans), 0};
    }
  }
  return PlanPieces(spec, lut, context, budget);
}

Result<int64_t> AutoChunkCount(const model::ModelSpec& spec, const LutPlan& lut, int64_t context,
                               Target target) {
  const FileBudget budget = TargetBudget(target);
  ANEC_ASSIGN_OR_RETURN(ChunkPlan plan, PlanChunks(spec, lut, context, budget));
  if (!plan.whole_layers()) {
    const SizePlan one =
        EstimateSizes(spec, SplitLayers(spec.num_layers, spec.num_layers), lut, context);
    return InvalidArgument(
        "one transformer layer alone would be {} (budget {} {}); use --lut 4 or "
        "--target macos",
        HumanBytes(one.chunks.front()), HumanBytes(budget.bytes), budget.origin);
  }
  return static_cast<int64_t>(plan.chunks.size());
}

std::string HumanBytes(uint64_t b) {
  const double d = static_cast<double>(b);
  if (b >= 1'000'000'000ull) return fmt::format("{:.2f} GB", d / 1e9);
  if (b >= 1'000'000ull) return fmt::format("{:.1f} MB", d / 1e6);
  if (b >= 1'000ull) return fmt::format("{:.1f} KB", d / 1e3);
  return fmt::format("{} B", b);
}

}  // namespace anec::pipeline
