#include "model/checkpoint_binding.h"

#include <fmt/ranges.h>

#include <set>

namespace anec::model {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::string FusedPartNames(const FusedTensor& f) {
  std::vector<std::string_view> names;
  for (TensorRole r : f.parts) names.push_back(TensorRoleName(r));
  return fmt::format("{}", fmt::join(names, "+"));
}

bool IsFloat(io::TensorDType t) {
  return t == io::TensorDType::kF32 || t == io::TensorDType::kF16 || t == io::TensorDType::kBF16;
}

}  // namespace

bool BoundCheckpoint::Has(TensorRole role) const {
  const size_t r = static_cast<size_t>(role);
  return r < slots_.size() && !slots_[r].empty();
}

const BoundCheckpoint::Slot* BoundCheckpoint::Find(TensorRole role, int64_t layer) const {
  if (!Has(role)) return nullptr;
  const auto& slots = slots_[static_cast<size_t>(role)];
  if (!IsLayerRole(role)) return &slots[0];
  if (layer < 0 || layer >= static_cast<int64_t>(slots.size())) return nullptr;
  return &slots[static_cast<size_t>(layer)];
}

const std::string& BoundCheckpoint::Name(TensorRole role, int64_t layer) const {
  static const std::string kEmpty;
  const Slot* s = Find(role, layer);
  return s ? s->name : kEmpty;
}

const io::TensorInfo& BoundCheckpoint::Info(TensorRole role, int64_t layer) const {
  static const io::TensorInfo kNone;
  const Slot* s = Find(role, layer);
  return s ? s->info : kNone;
}

bool BoundCheckpoint::IsSlice(TensorRole role, int64_t layer) const {
  const Slot* s = Find(role, layer);
  return s != nullptr && s->row_begin >= 0;
}

Result<io::TensorData> BoundCheckpoint::Read(TensorRole role, int64_t layer) const {
  const Slot* s = Find(role, layer);
  if (s == nullptr) {
    if (!Has(role)) {
      return FailedPrecondition("role {} is not used by this {} model", TensorRoleName(role),
                                ArchitectureName(spec_.architecture));
    }
    return FailedPrecondition("role {}: layer {} is out of range [0, {})", TensorRoleName(role),
                              layer, spec_.num_layers);
  }
  ANEC_ASSIGN_OR_RETURN(io::TensorData whole, source_->Read(s->name));
  if (s->row_begin < 0) return whole;
  // Row-major: a row range is one contiguous byte range. Bind() checked the fused shape.
  const size_t row_bytes =
      static_cast<size_t>(s->info.shape[1]) * io::TensorDTypeSize(whole.info.dtype);
  const size_t begin = static_cast<size_t>(s->row_begin) * row_bytes;
  const size_t size = static_cast<size_t>(s->info.shape[0]) * row_bytes;
  if (begin + size > whole.data.size()) {
    return Internal("tensor {}: {} bytes read, rows {}..{} need {}", s->name, whole.data.size(),
                    s->row_begin, s->row_begin + s->info.shape[0], begin + size);
  }
  io::TensorData part;
  part.info = s->info;
  part.info.dtype = whole.info.dtype;  // a GGUF source may present another type than Info()
  if (whole.owned.empty()) {
    part.data = whole.data.subspan(begin, size);
  } else {
    part.owned.assign(whole.data.begin() + static_cast<std::ptrdiff_t>(begin),
                      whole.data.begin() + static_cast<std::ptrdiff_t>(begin + size));
    part.data = part.owned;
  }
  return part;
}

Result<std::vector<float>> BoundCheckpoint::ReadFloat32(TensorRole role, int64_t layer) const {
  ANEC_ASSIGN_OR_RETURN(io::TensorData data, Read(role, layer));
  return io::ToFloat32(data);
}

Result<BoundCheckpoint> Bind(const ModelSpec& spec, const io::TensorSource& source) {
  if (spec.num_layers <= 0) {
    return InvalidArgument("cannot bind a checkpoint to a model with {} layers", spec.num_layers);
  }
  BoundCheckpoint b;
  b.spec_ = spec;
  b.table_ = &GetArchitectureTable(spec.architecture);
  b.source_ = &source;
  b.slots_.resize(AllTensorRoles().size());

  std::set<std::string> claimed;
  auto bind_one = [&](TensorRole role, int64_t layer) -> Result<BoundCheckpoint::Slot> {
    // A tied LM head reads the embedding matrix.
    const TensorRole stored =
        (role == TensorRole::kLmHead && spec.tie_word_embeddings) ? TensorRole::kEmbedding : role;
    std::string name = TensorNameFor(*b.table_, stored, layer);
    if (name.empty()) {
      return Internal("architecture {} has no tensor name for role {}", b.table_->name,
                      TensorRoleName(stored));
    }
    // The text model of a vision + text checkpoint: its tensors carry a prefix.
    for (const std::string& candidate : NameCandidates(*b.table_, name)) {
      if (source.Has(candidate)) {
        name = candidate;
        break;
      }
    }
    const FusedTensor* fused = FindFusedTensor(*b.table_, stored);
    if (!source.Has(name) && fused != nullptr) {
      std::string fused_name = FillLayerPattern(fused->pattern, layer);
      if (source.Has(fused_name)) {
        ANEC_ASSIGN_OR_RETURN(io::TensorInfo whole, source.Info(fused_name));
        const std::vector<int64_t> expected = ExpectedShape(spec, role);
        int64_t rows = 0, begin = 0;
        for (TensorRole part : fused->parts) {
          if (part == stored) begin = rows;
          rows += ExpectedShape(spec, part)[0];
        }
        if (whole.shape != std::vector<int64_t>{rows, expected[1]}) {
          return InvalidArgument(
              "tensor {} (roles {}) has shape {} but the model config implies [{}, {}]; the "
              "weights do not match the config",
              fused_name, FusedPartNames(*fused), ShapeString(whole.shape), rows, expected[1]);
        }
        if (!IsFloat(whole.dtype)) {
          return InvalidArgument("tensor {} (roles {}) has dtype {}; expected f32, f16 or bf16",
                                 fused_name, FusedPartNames(*fused),
                                 io::TensorDTypeName(whole.dtype));
        }
        claimed.insert(fused_name);
        io::TensorInfo info = whole;
        info.shape = expected;
        return BoundCheckpoint::Slot{std::move(fused_name), std::move(info), begin};
      }
    }
    if (!source.Has(name)) {
      std::string hint;
      if (role == TensorRole::kLmHead) {
        hint =
            "; if the model ties its LM head to the embeddings, set tie_word_embeddings: true "
            "in config.json";
      }
      return NotFound("checkpoint has no tensor {} (role {}{}) needed by this {} model{}", name,
                      TensorRoleName(role),
                      IsLayerRole(role) ? fmt::format(", layer {}", layer) : std::string(),
                      b.table_->name, hint);
    }
    ANEC_ASSIGN_OR_RETURN(io::TensorInfo info, source.Info(name));
    const std::vector<int64_t> expected = ExpectedShape(spec, role);
    if (info.shape != expected) {
      return InvalidArgument(
          "tensor {} (role {}) has shape {} but the model config implies {}; the weights do not "
          "match the config",
          name, TensorRoleName(role), ShapeString(info.shape), ShapeString(expected));
    }
    if (!IsFloat(info.dtype)) {
      return InvalidArgument("tensor {} (role {}) has dtype {}; expected f32, f16 or bf16", name,
                             TensorRoleName(role), io::TensorDTypeName(info.dtype));
    }
    claimed.insert(name);
    return BoundCheckpoint::Slot{std::move(name), std::move(info)};
  };

  for (TensorRole role : AllTensorRoles()) {
    if (role != TensorRole::kLmHead && !RoleUsed(spec, role)) continue;
    auto& slots = b.slots_[static_cast<size_t>(role)];
    const int64_t count = IsLayerRole(role) ? spec.num_layers : 1;
    for (int64_t layer = 0; layer < count; ++layer) {
      ANEC_ASSIGN_OR_RETURN(auto slot, bind_one(role, layer));
      slots.push_back(std::move(slot));
    }
  }
  for (const io::TensorInfo& info : source.List()) {
    if (!claimed.count(info.name)) b.unused_.push_back(info.name);
  }
  return b;
}

}  // namespace anec::model
