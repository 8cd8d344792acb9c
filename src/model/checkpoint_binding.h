// BoundCheckpoint: every tensor a ModelSpec needs, resolved by role (and layer) in a
// TensorSource and checked against the spec's shapes before any conversion starts.
//
// Binding fails early with one message naming the tensor, the expected and the actual shape,
// so a wrong checkpoint is rejected before hours of conversion. With tied embeddings the
// kLmHead role resolves to the embedding tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/tensor_source.h"
#include "model/architecture.h"
#include "model/model_spec.h"

namespace anec::model {

class BoundCheckpoint {
 public:
  const ModelSpec& spec() const { return spec_; }
  const ArchitectureTable& table() const { return *table_; }
  const io::TensorSource& source() const { return *source_; }

  // Whether the model has a tensor for `role` (see RoleUsed(); kLmHead is always present,
  // resolving to the embedding when tied).
  bool Has(TensorRole role) const;

  // The checkpoint name bound to `role` at `layer` (layer ignored for non-layer roles). For a
  // role read from a slice of a fused tensor (IsSlice) this is the fused tensor's name.
  // REQUIRES: Has(role) and, for layer roles, 0 <= layer < spec().num_layers; otherwise returns
  // an empty string.
  const std::string& Name(TensorRole role, int64_t layer = 0) const;
  // The checked info (dtype, shape) of the role's tensor (for a slice: the slice's shape). Same
  // REQUIRES; a default TensorInfo if not.
  const io::TensorInfo& Info(TensorRole role, int64_t layer = 0) const;

  // Whether `role` at `layer` is a row range of a fused tensor (ArchitectureTable::fused), so
  // that format-specific raw reads by Name() (GGUF blocks, GPTQ int4) must not be used for it.
  bool IsSlice(TensorRole role, int64_t layer = 0) const;

  // Reads the tensor's bytes (pointing into the source's mapped file when possible; a slice is
  // its rows of the fused tensor).
  // An unbound role or out-of-range layer is a FailedPrecondition error.
  Result<io::TensorData> Read(TensorRole role, int64_t layer = 0) const;
  // Read() then io::ToFloat32().
  Result<std::vector<float>> ReadFloat32(TensorRole role, int64_t layer = 0) const;

  // Checkpoint tensors that no role claimed (e.g. rotary_emb.inv_freq), sorted.
  const std::vector<std::string>& unused_tensors() const { return unused_; }

 private:
  friend Result<BoundCheckpoint> Bind(const ModelSpec& spec, const io::TensorSource& source);
  struct Slot {
    std::string name;
    io::TensorInfo info;
    int64_t row_begin = -1;  // >= 0: rows [row_begin, row_begin + info.shape[0]) of `name`
  };
  const Slot* Find(TensorRole role, int64_t layer) const;

  ModelSpec spec_;
  const ArchitectureTable* table_ = nullptr;
  const io::TensorSource* source_ = nullptr;
  // slots_[role][layer] for layer roles, slots_[role][0] otherwise; empty when unused.
  std::vector<std::vector<Slot>> slots_;
  std::vector<std::string> unused_;
};

// Resolves and checks every tensor `spec` needs. The source must outlive the result.
// Errors: NotFound naming the missing tensor and role; InvalidArgument naming the tensor, the
// expected and the actual shape; InvalidArgument for a non-float weight dtype.
Result<BoundCheckpoint> Bind(const ModelSpec& spec, const io::TensorSource& source);

}  // namespace anec::model
