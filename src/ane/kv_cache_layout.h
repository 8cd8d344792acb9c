// KvCacheLayout: which KV-cache state a chunk function reads and writes, and its shape.
//
// The state is fp16 [2 * layers, kv_heads, rows, head_dim]: keys of layer l at slice
// l - first_layer, values at layers + (l - first_layer). Two choices are independent:
//  - sharing: ANEMLL's contract is one state for the whole model ("model_model_kv_cache_0", every
//    chunk binds all of it); --kv-cache per-chunk gives chunk k its own state
//    "model_model_kv_cache_{k-1}" holding only the layers whose attention it runs.
//  - rows: the context, or, for a sliding-window model whose window is shorter than the context,
//    a ring of RingRows() rows. Position p then lives in row p mod rows; the host passes
//    current_pos = (first position of the call) mod rows and a causal_mask over the rows that
//    knows which position each row holds (docs/ANE_LAYERS.md, "Sliding window").
#pragma once

#include <cstdint>
#include <string>

#include "model/model_spec.h"

namespace anec::ane {

enum class KvCacheSharing { kShared, kPerChunk };

struct KvCacheLayout {
  std::string state_name;
  int64_t rows = 0;         // cache rows per layer
  int64_t first_layer = 0;  // global index of the layer stored at slice 0
  int64_t layers = 0;       // layers held by the state
  bool ring = false;        // rows < context: row = position mod rows
};

// Rows of a ring that stays correct for prefill batches of `batch` tokens starting at multiples
// of `batch` and for single-token steps: at least window + batch - 1 (a zero-padded batch may
// overwrite rows up to batch - 1 positions ahead; those must hold positions already out of every
// later query's window), rounded up to a multiple of `batch` so an aligned batch never wraps.
// REQUIRES: window >= 1, batch >= 1.
int64_t RingRows(int64_t window, int64_t batch);

// The cache rows for `spec` at `context`: the ring when spec.sliding_window is set and the ring
// is shorter than the context, else the context.
int64_t KvCacheRows(const model::ModelSpec& spec, int64_t context, int64_t batch);

// "model_model_kv_cache_0" when shared; "model_model_kv_cache_{chunk_index}" per chunk.
std::string KvStateName(KvCacheSharing sharing, int64_t chunk_index);

// The layout of chunk `chunk_index` (0-based) whose attention blocks are layers
// [first_layer, end_layer). REQUIRES: 0 <= first_layer <= end_layer <= spec.num_layers.
KvCacheLayout MakeKvCacheLayout(const model::ModelSpec& spec, int64_t context, int64_t batch,
                                KvCacheSharing sharing, int64_t chunk_index, int64_t first_layer,
                                int64_t end_layer);

// Bytes of the state: 2 * layers * kv_heads * rows * head_dim fp16 values.
uint64_t KvCacheBytes(const model::ModelSpec& spec, const KvCacheLayout& layout);

}  // namespace anec::ane
