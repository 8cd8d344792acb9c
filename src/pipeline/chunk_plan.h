// Chunk planning: which pieces of the layer stack go in which FFN chunk, and how big every file
// will be.
//
// `--chunks N` spreads L layers as evenly as possible: the first L % N chunks get one layer more,
// so no layer is ever dropped. `--chunks auto` picks the smallest N for which every file
// (embeddings, each chunk, LM head) fits the per-file budget: 1 GB (10^9 bytes) for iOS, 2 GB for
// macOS, or `--max-file-mb`. Sizes are estimated from tensor shapes and LUT bits (fp16 tables of
// 2^bits entries per group of rows included).
//
// When one layer alone exceeds the budget, the plan splits layers: a layer's pieces are its
// attention block, then its MLP in equal slices of the intermediate dimension, and a chunk covers
// a contiguous run of pieces [begin, end) of the whole stack (docs/PIPELINE.md, "Plan pieces").
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "model/model_spec.h"

namespace anec::pipeline {

enum class Target { kIOS, kMacOS };
std::string_view TargetName(Target t);  // "ios", "macos"
uint64_t TargetBudgetBytes(Target t);   // 1e9, 2e9

// The largest size any one file may have, and where that limit came from (for messages).
struct FileBudget {
  uint64_t bytes = 0;
  std::string origin;  // "for --target ios", "from --max-file-mb 0.5"
};
FileBudget TargetBudget(Target t);

struct LayerRange {
  int64_t first = 0;
  int64_t end = 0;  // exclusive
  int64_t count() const { return end - first; }
};

// REQUIRES: 1 <= chunks <= layers.
std::vector<LayerRange> SplitLayers(int64_t layers, int64_t chunks);

// A point in the layer stack between two pieces: before layer `layer`'s attention block
// (kAttention), or inside its MLP before intermediate row `mlp_begin` (kMlp; mlp_begin 0 = right
// after the attention block). Canonical form: a kMlp point has 0 <= mlp_begin < intermediate; the
// point after a layer's last MLP row is the next layer's kAttention point (layer L = the end).
struct StackCursor {
  enum Part { kAttention = 0, kMlp = 1 };
  int64_t layer = 0;
  Part part = kAttention;
  int64_t mlp_begin = 0;  // kMlp only; 0 for kAttention
  friend auto operator<=>(const StackCursor&, const StackCursor&) = default;
};

// One FFN chunk: the pieces in [begin, end).
struct ChunkSpan {
  StackCursor begin, end;
  bool whole_layers() const {
    return begin.part == StackCursor::kAttention && end.part == StackCursor::kAttention;
  }
};
ChunkSpan LayersSpan(const LayerRange& r);
// The layers whose attention block `span` runs (empty for a slice of one MLP): the KV cache
// layers a per-chunk state holds.
LayerRange AttentionLayers(const ChunkSpan& span);
std::vector<ChunkSpan> LayerSpans(const std::vector<LayerRange>& ranges);

// What a chunk runs of one layer: its attention block or not, then MLP rows [mlp_begin, mlp_end)
// (mlp_begin == mlp_end: no MLP rows).
struct LayerPart {
  int64_t layer = 0;
  bool attention = true;
  int64_t mlp_begin = 0, mlp_end = 0;
};
// The layers `span` touches, in order. REQUIRES: span.begin < span.end, both canonical.
std::vector<LayerPart> PartsOf(const ChunkSpan& span, int64_t intermediate);

struct ChunkPlan {
  std::vector<ChunkSpan> chunks;
  int64_t mlp_slice = 0;  // width of the MLP slices when layers are split; 0: whole layers
  bool whole_layers() const { return mlp_slice == 0; }
};

// "layers 0-3" / "layer 4 mlp[2752:5504) .. layer 5 attention": the first and the last piece.
std::string DescribeChunk(const ChunkSpan& span, int64_t intermediate, int64_t mlp_slice);

struct LutPlan {
  int embed = 0;  // 0 = fp16
  int ffn = 0;
  int lmhead = 0;
  int group = 8;
  // --lut-row-scale: palettized FFN and LM-head matrices get per-output-channel scales
  // (quant::LutConfig::row_scale), applied by a mul after each matmul (2 bytes per row).
  bool row_scale = false;
  // > 0: the FFN matrices are carried pre-quantized (GPTQ/AWQ int4) at this many stored bits per
  // weight, scales and zero points included; sizes use it instead of `ffn`. Planning only.
  // (GGUF --preserve-quant: the layers' mean, for messages; matrix_bits has the sizes.)
  double ffn_carried_bits = 0;
  double lmhead_carried_bits = 0;  // the same for the LM head
  // Stored bits per weight of single matrices by (role, layer), the LM head as (kLmHead, 0):
  // GGUF --preserve-quant, where each matrix is carried at its own type's size or converted at
  // the LUT bits / fp16. A matrix it names overrides the two fields above. Planning only.
  std::map<std::pair<model::TensorRole, int64_t>, double> matrix_bits;
};

// Estimated stored bytes of one [rows, cols] matrix at `bits` (0 = fp16).
// `row_scale`: one fp16 per row more when palettized (LutPlan::row_scale).
uint64_t EstimateMatrixBytes(int64_t rows, int64_t cols, int bits, int group,
                             bool row_scale = false);

struct SizePlan {
  uint64_t embeddings = 0;
  uint64_t lm_head = 0;
  std::vector<uint64_t> chunks;  // one per chunk (weights shared by infer and prefill once)
  uint64_t largest() const;
};

SizePlan EstimateSizes(const model::ModelSpec& spec, const std::vector<ChunkSpan>& chunks,
                       const LutPlan& lut, int64_t context);
SizePlan EstimateSizes(const model::ModelSpec& spec, const std::vector<LayerRange>& chunks,
                       const LutPlan& lut, int64_t context);

// The plan for `--chunks auto`: the fewest whole-layer chunks whose files all fit `budget`; when
// one layer alone does not fit, the fewest chunks of pieces (MLP cut into the fewest equal slices
// that fit, their width a multiple of 64 if possible, else of the LUT group), balanced so the
// largest file is as small as that count allows. Error when the embeddings, the LM head or one
// attention block alone does not fit, naming the file, its size and what to change.
Result<ChunkPlan> PlanChunks(const model::ModelSpec& spec, const LutPlan& lut, int64_t context,
                             const FileBudget& budget);

// The smallest whole-layer chunk count whose files all fit `target`'s budget. Error when even one
// layer per chunk (or the embeddings / LM head alone) does not fit, naming the file and its size.
Result<int64_t> AutoChunkCount(const model::ModelSpec& spec, const LutPlan& lut, int64_t context,
                               Target target);

// "1.23 GB", "456.7 MB", "12.0 KB".
std::string HumanBytes(uint64_t bytes);

}  // namespace anec::pipeline
