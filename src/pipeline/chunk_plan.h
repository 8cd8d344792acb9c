// Chunk planning: which layers go in which FFN chunk, and how big every file will be.
//
// `--chunks N` spreads L layers as evenly as possible: the first L % N chunks get one layer more,
// so no layer is ever dropped. `--chunks auto` picks the smallest N for which every file
// (embeddings, each chunk, LM head) fits the per-model budget of the target: 1 GB (10^9 bytes)
// for iOS, 2 GB for macOS. Sizes are estimated from tensor shapes and LUT bits (fp16 tables of
// 2^bits entries per group of rows included).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/model_spec.h"

namespace anec::pipeline {

enum class Target { kIOS, kMacOS };
std::string_view TargetName(Target t);  // "ios", "macos"
uint64_t TargetBudgetBytes(Target t);   // 1e9, 2e9

struct LayerRange {
  int64_t first = 0;
  int64_t end = 0;  // exclusive
  int64_t count() const { return end - first; }
};

// REQUIRES: 1 <= chunks <= layers.
std::vector<LayerRange> SplitLayers(int64_t layers, int64_t chunks);

struct LutPlan {
  int embed = 0;  // 0 = fp16
  int ffn = 0;
  int lmhead = 0;
  int group = 8;
};

// Estimated stored bytes of one [rows, cols] matrix at `bits` (0 = fp16).
uint64_t EstimateMatrixBytes(int64_t rows, int64_t cols, int bits, int group);

struct SizePlan {
  uint64_t embeddings = 0;
  uint64_t lm_head = 0;
  std::vector<uint64_t> chunks;  // one per chunk (weights shared by infer and prefill once)
  uint64_t largest() const;
};

SizePlan EstimateSizes(const model::ModelSpec& spec, const std::vector<LayerRange>& chunks,
                       const LutPlan& lut, int64_t context);

// The smallest chunk count whose files all fit `target`'s budget. Error when even one layer per
// chunk (or the embeddings / LM head alone) does not fit, naming the file and its size.
Result<int64_t> AutoChunkCount(const model::ModelSpec& spec, const LutPlan& lut, int64_t context,
                               Target target);

// "1.23 GB", "456.7 MB", "12.0 KB".
std::string HumanBytes(uint64_t bytes);

}  // namespace anec::pipeline
