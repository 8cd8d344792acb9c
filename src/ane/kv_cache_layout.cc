#include "ane/kv_cache_layout.h"

#include <fmt/format.h>

namespace anec::ane {

int64_t RingRows(int64_t window, int64_t batch) {
  const int64_t need = window + batch - 1;
  return (need + batch - 1) / batch * batch;
}

int64_t KvCacheRows(const model::ModelSpec& spec, int64_t context, int64_t batch) {
  if (!spec.sliding_window || *spec.sliding_window >= context) return context;
  const int64_t ring = RingRows(*spec.sliding_window, batch);
  return ring < context ? ring : context;
}

std::string KvStateName(KvCacheSharing sharing, int64_t chunk_index) {
  return fmt::format("model_model_kv_cache_{}",
                     sharing == KvCacheSharing::kShared ? 0 : chunk_index);
}

KvCacheLayout MakeKvCacheLayout(const model::ModelSpec& spec, int64_t context, int64_t batch,
                                KvCacheSharing sharing, int64_t chunk_index, int64_t first_layer,
                                int64_t end_layer) {
  KvCacheLayout k;
  k.state_name = KvStateName(sharing, chunk_index);
  k.rows = KvCacheRows(spec, context, batch);
  k.ring = k.rows < context;
  if (sharing == KvCacheSharing::kShared) {
    k.first_layer = 0;
    k.layers = spec.num_layers;
  } else {
    k.first_layer = first_layer;
    k.layers = end_layer - first_layer;
  }
  return k;
}

uint64_t KvCacheBytes(const model::ModelSpec& spec, const KvCacheLayout& layout) {
  return 2ull * static_cast<uint64_t>(layout.layers) * static_cast<uint64_t>(spec.num_kv_heads) *
         static_cast<uint64_t>(layout.rows) * static_cast<uint64_t>(spec.head_dim) * 2ull;
}

}  // namespace anec::ane
