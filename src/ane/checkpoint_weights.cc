// CheckpointWeights (declared in weight_source.h) lives in its own file so that code using only
// MemoryWeightSource does not need the checkpoint binding library.
#include "ane/weight_source.h"
#include "model/checkpoint_binding.h"

namespace anec::ane {

Result<io::TensorData> CheckpointWeights::Read(model::TensorRole role, int64_t layer) const {
  return ckpt_->Read(role, layer);
}

}  // namespace anec::ane
