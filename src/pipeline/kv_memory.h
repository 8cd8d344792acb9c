// KV-cache memory of a conversion plan, for the plan printout and the docs: how big the state(s)
// are under --kv-cache shared (ANEMLL's one state, bound whole by every chunk) and per-chunk
// (each chunk binds only its own layers), and the ring a sliding window allows.
#pragma once

#include <string>
#include <vector>

#include "pipeline/chunk_plan.h"
#include "pipeline/convert_options.h"

namespace anec::pipeline {

struct KvMemory {
  int64_t states = 0;          // 1 when shared, else one per chunk
  uint64_t total_bytes = 0;    // all states together
  uint64_t largest_bytes = 0;  // the most any one chunk binds
  int64_t rows = 0;            // cache rows per layer
  bool ring = false;
};

// `chunks`: the layers whose attention each chunk runs (AttentionLayers of the plan's spans).
KvMemory EstimateKvMemory(const model::ModelSpec& spec, int64_t context, int64_t batch,
                          ane::KvCacheSharing sharing, const std::vector<LayerRange>& chunks);

// One line, e.g. "KV cache: shared state 256.0 MiB (64 layers x 1024 rows), bound whole by each
// of 13 chunks; --kv-cache per-chunk: 13 states of at most 20.0 MiB (256.0 MiB in all)".
std::string DescribeKvCache(const model::ModelSpec& spec, const ConvertOptions& o,
                            const std::vector<LayerRange>& chunks);

// "256.0 MiB", "3.5 KiB" (binary units: state sizes are powers of two).
std::string HumanBinaryBytes(uint64_t bytes);

}  // namespace anec::pipeline
