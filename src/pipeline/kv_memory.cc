#include "pipeline/kv_memory.h"

#include <fmt/format.h>

#include <algorithm>

namespace anec::pipeline {

KvMemory EstimateKvMemory(const model::ModelSpec& spec, int64_t context, int64_t batch,
                          ane::KvCacheSharing sharing, const std::vector<LayerRange>& chunks) {
  KvMemory m;
  const int64_t n =
      sharing == ane::KvCacheSharing::kShared ? 1 : static_cast<int64_t>(chunks.size());
  for (int64_t k = 0; k < n; ++k) {
    const LayerRange r = sharing == ane::KvCacheSharing::kShared ? LayerRange{0, spec.num_layers}
                                                                 : chunks[static_cast<size_t>(k)];
    const ane::KvCacheLayout l =
        ane::MakeKvCacheLayout(spec, context, batch, sharing, k, r.first, r.end);
    const uint64_t b = ane::KvCacheBytes(spec, l);
    m.total_bytes += b;
    m.largest_bytes = std::max(m.largest_bytes, b);
    m.rows = l.rows;
    m.ring = l.ring;
    ++m.states;
  }
  return m;
}

std::string HumanBinaryBytes(uint64_t b) {
  const double d = static_cast<double>(b);
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", d / (1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", d / (1ull << 20));
  if (b >= (1ull << 10)) return fmt::format("{:.1f} KiB", d / (1ull << 10));
  return fmt::format("{} B", b);
}

std::string DescribeKvCache(const model::ModelSpec& spec, const ConvertOptions& o,
                            const std::vector<LayerRange>& chunks) {
  const KvMemory shared =
      EstimateKvMemory(spec, o.context, o.batch, ane::KvCacheSharing::kShared, chunks);
  const KvMemory own =
      EstimateKvMemory(spec, o.context, o.batch, ane::KvCacheSharing::kPerChunk, chunks);
  std::string rows = shared.ring ? fmt::format("a ring of {} rows for sliding window {} (not {})",
                                               shared.rows, *spec.sliding_window, o.context)
                                 : fmt::format("{} rows", shared.rows);
  const std::string s = fmt::format(
      "one shared state of {} ({} layers, {}), bound whole by each "
      "of {} chunk(s)",
      HumanBinaryBytes(shared.total_bytes), spec.num_layers, rows, chunks.size());
  const std::string p =
      fmt::format("{} per-chunk states of at most {} ({} in all)", own.states,
                  HumanBinaryBytes(own.largest_bytes), HumanBinaryBytes(own.total_bytes));
  if (o.kv_cache == ane::KvCacheSharing::kShared) {
    return fmt::format("KV cache: {}; --kv-cache per-chunk would give {}", s, p);
  }
  return fmt::format("KV cache (--kv-cache per-chunk): {}, {}; shared would be {}", p, rows, s);
}

}  // namespace anec::pipeline
