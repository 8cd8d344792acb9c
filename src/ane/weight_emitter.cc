#include "ane/weight_emitter.h"

#include <cstring>

#include "model/architecture.h"
#include "ane/ggml_blocks.h"
#include "ane/half.h"
#include "ane/int4_blocks.h"
#include "ane/mil_ops.h"
#include "ane/page_release.h"
#include "quant/palettize.h"

namespace anec::ane {

WeightEmitter::WeightEmitter(mil::ProgramBuilder* program, const WeightSource* source,
                             WeightFormat format)
    : program_(program), source_(source), format_(format) {}

Result<mil::Tensor> WeightEmitter::Fp16(const std::string& name, model::TensorRole role,
                                        int64_t layer, int64_t elem_begin, int64_t elem_end,
                                        std::vector<int64_t> shape) {
  if (reuse_ != nullptr) {
    ANEC_ASSIGN_OR_RETURN(mil::Tensor t, reuse_->Get(name));
    if (t.type().shape != shape || t.type().dtype != mil::DType::kFloat16) {
      return FailedPrecondition("reused constant {} is {}, expected fp16 of {} elements", name,
                                t.type().ToString(), elem_end - elem_begin);
    }
    return t;
  }
  if (source_ == nullptr) return Internal("weight {}: no weight source", name);
  ANEC_ASSIGN_OR_RETURN(io::TensorData data, source_->Read(role, layer));
  ANEC_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ToHalfBytes(data, elem_begin, elem_end));
  // The checkpoint pages just converted are not needed again.
  const size_t elem = io::TensorDTypeSize(data.info.dtype);
  if (data.data.size() >= static_cast<size_t>(elem_end) * elem) {
    ReleasePages(data.data.subspan(static_cast<size_t>(elem_begin) * elem,
                                   static_cast<size_t>(elem_end - elem_begin) * elem));
  }
  return mil::Tensor(mil::TensorType{mil::DType::kFloat16, std::move(shape)}, std::move(bytes));
}

mil::Value WeightEmitter::Shared(mil::Function* f, const std::string& name, Result<mil::Tensor> t) {
  if (!t.ok()) {
    program_->Fail(t.status().WithContext("weight " + name));
    return mil::Value();
  }
  mil::Tensor tensor = std::move(t).value();
  emitted_.insert(name);
  return f->SharedConst(
      name, [&tensor] { return tensor; }, name);
}

mil::Value WeightEmitter::Matrix(mil::Function* f, const std::string& name, model::TensorRole role,
                                 int64_t layer, int64_t row_begin, int64_t row_end,
                                 std::vector<int64_t> shape) {
  if (!program_->status().ok()) return mil::Value();
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const int64_t rows = row_end - row_begin;
  if (rows <= 0 || n % rows != 0) {
    program_->Fail(Internal("weight {}: shape does not hold {} rows", name, rows));
    return mil::Value();
  }
  const int64_t cols = n / rows;
  if (emitted_.count(name)) {  // stored by another function of this program: share its blob
    return f->SharedConst(
        name, [] { return mil::Tensor(); }, name);
  }
  mil::Value v;
  if (std::optional<mil::Value> kept = Preserved(f, name, role, layer, row_begin, row_end, shape)) {
    v = *kept;
  } else if (format_.lut_bits > 0) {
    v = Palettized(f, name, role, layer, row_begin, row_end, shape);
  } else {
    v = Shared(f, name, Fp16(name, role, layer, row_begin * cols, row_end * cols, shape));
  }
  if (on_weights_) on_weights_(n);
  return v;
}

mil::Value WeightEmitter::PreservedOp(mil::Function* f, const std::string& name,
                                      const PreservedKind& kind,
                                      const std::vector<mil::Value>& inputs, mil::Value order) {
  preserved_[name] = kind;
  std::vector<mil::NamedArg> args = {{kind.first, inputs[0]}, {kind.second, inputs[1]}};
  if (!kind.third.empty()) args.push_back({kind.third, inputs[2]});
  if (!kind.permuted) return f->Op(kind.op, std::move(args), name);
  // Act-order: the op's columns are in group order; gathering them by the inverse order gives
  // the weight in the checkpoint's input order, W[:, i] = grouped[:, input_order[i]].
  mil::Value grouped = f->Op(kind.op, std::move(args), name + "_grouped");
  return Gather(f, grouped, order, 1, name);
}

std::optional<mil::Value> WeightEmitter::Preserved(mil::Function* f, const std::string& name,
                                                   model::TensorRole role, int64_t layer,
                                                   int64_t row_begin, int64_t row_end,
                                                   const std::vector<int64_t>& shape) {
  static const PreservedKind kShiftScale{"constexpr_blockwise_shift_scale", "data", "scale", "",
                                         false};
  static const PreservedKind kLut{"constexpr_lut_to_dense", "indices", "lut", "", false};
  static const PreservedKind kInt4{"constexpr_blockwise_shift_scale", "data", "scale", "offset",
                                   false};
  static const PreservedKind kInt4Permuted{"constexpr_blockwise_shift_scale", "data", "scale",
                                           "offset", true};
  const std::string order_name = name + "_input_order";
  auto base_of = [&](const PreservedKind& k) { return k.permuted ? name + "_grouped" : name; };
  auto params = [](const PreservedKind& k) {
    std::vector<std::string> p = {k.first, k.second};
    if (!k.third.empty()) p.push_back(k.third);
    return p;
  };
  // Already in this program (the other function): share its blobs.
  if (auto it = preserved_.find(name); it != preserved_.end()) {
    const PreservedKind k = it->second;
    std::vector<mil::Value> in;
    for (const std::string& p : params(k)) {
      const std::string key = base_of(k) + "_" + p;
      in.push_back(f->SharedConst(
          key, [] { return mil::Tensor(); }, key));
    }
    mil::Value order;
    if (k.permuted) {
      order = f->SharedConst(
          order_name, [] { return mil::Tensor(); }, order_name);
    }
    return PreservedOp(f, name, k, in, order);
  }
  if (reuse_ != nullptr) {
    // The bytes an earlier step stored, whichever form they took.
    for (const PreservedKind* k : {&kInt4Permuted, &kInt4, &kShiftScale, &kLut}) {
      const std::string base = base_of(*k);
      if (!reuse_->Has(base + "_" + k->first)) continue;
      if (!k->third.empty() && !reuse_->Has(base + "_" + k->third)) continue;
      if (k->permuted && !reuse_->Has(order_name)) continue;
      std::vector<mil::Value> in;
      for (const std::string& p : params(*k)) {
        Result<mil::Tensor> t = reuse_->Get(base + "_" + p);
        // uint4 shift-scale data is only written with its offset (GGUF data is int4/int8): an
        // offset the index cannot see must not be dropped silently.
        if (k == &kShiftScale && p == k->first && t.ok() && t->type().dtype == mil::DType::kUInt4) {
          t = FailedPrecondition(
              "reused constant {}_data is uint4 but {}_offset is not stored "
              "in the blob file; rerun without --restart",
              base, base);
        }
        in.push_back(Shared(f, base + "_" + p, std::move(t)));
      }
      mil::Value order;
      if (k->permuted) order = Shared(f, order_name, reuse_->Get(order_name));
      return PreservedOp(f, name, *k, in, order);
    }
    return std::nullopt;
  }
  if (source_ == nullptr) return std::nullopt;
  auto raw = source_->ReadRaw(role, layer);
  if (!raw.ok()) {
    program_->Fail(raw.status().WithContext("weight " + name));
    return mil::Value();
  }
  if (!raw->has_value()) {
    auto int4 = source_->ReadInt4(role, layer);
    if (!int4.ok()) {
      program_->Fail(int4.status().WithContext("weight " + name));
      return mil::Value();
    }
    if (!int4->has_value()) return std::nullopt;
    auto enc = EncodeInt4Blockwise(**int4, row_begin, row_end, shape);
    if (!enc.ok()) {
      program_->Fail(enc.status().WithContext("weight " + name));
      return mil::Value();
    }
    const PreservedKind& k = enc->input_order.empty() ? kInt4 : kInt4Permuted;
    const std::string base = base_of(k);
    std::vector<mil::Value> in = {Shared(f, base + "_data", std::move(enc->data)),
                                  Shared(f, base + "_scale", std::move(enc->scale)),
                                  Shared(f, base + "_offset", std::move(enc->offset))};
    mil::Value order;
    if (k.permuted) {
      const int64_t in_features = static_cast<int64_t>(enc->input_order.size());
      order = Shared(f, order_name, mil::Tensor::I32({in_features}, enc->input_order));
    }
    return PreservedOp(f, name, k, in, order);
  }
  const io::GgufRawTensor& t = **raw;
  if (t.shape.size() != 2) {
    program_->Fail(Internal("weight {}: raw GGUF blocks are not 2-D", name));
    return mil::Value();
  }
  auto enc = EncodeGgmlBlocks(t.type, t.bytes, t.shape[0], t.shape[1], row_begin, row_end, shape);
  if (!enc.ok()) {
    program_->Fail(enc.status().WithContext("weight " + name));
    return mil::Value();
  }
  const PreservedKind& k = enc->op == kLut.op ? kLut : kShiftScale;
  return PreservedOp(f, name, k,
                     {Shared(f, name + "_" + k.first, std::move(enc->first)),
                      Shared(f, name + "_" + k.second, std::move(enc->second))},
                     mil::Value());
}

int LutGroupFor(int64_t rows, int group) {
  for (int g = group; g > 1; --g) {
    if (rows % g == 0) return g;
  }
  return 1;
}

static Result<mil::DType> IndexDType(int bits) {
  switch (bits) {
    case 1:
      return mil::DType::kUInt1;
    case 2:
      return mil::DType::kUInt2;
    case 3:
      return mil::DType::kUInt3;
    case 4:
      return mil::DType::kUInt4;
    case 6:
      return mil::DType::kUInt6;
    case 8:
      return mil::DType::kUInt8;
    default:
      return InvalidArgument("LUT bits {} not supported; use 1, 2, 3, 4, 6 or 8", bits);
  }
}

// An MLP matrix split across files by a plan (FeedForwardSlice: layers_L_<proj>_<begin>_<end>)
// has no statistics of its own: calibration measures the whole model. A gate / up slice takes
// rows of the whole matrix, so it has the whole matrix's input columns; a down slice takes
// columns [begin, end), so it has that range of them (copied into *storage).
const std::vector<float>* WeightEmitter::WholeMatrixColumns(model::TensorRole role, int64_t layer,
                                                            const ColumnRange* columns,
                                                            std::vector<float>* storage) const {
  if (role != model::TensorRole::kGateProj && role != model::TensorRole::kUpProj &&
      role != model::TensorRole::kDownProj) {
    return nullptr;
  }
  // FeedForward names the whole matrices by their roles' names (layers_L_gate_proj, ...).
  const std::vector<float>* whole =
      importance_->Find(LayerWeightName(layer, model::TensorRoleName(role)));
  if (whole == nullptr || columns == nullptr) return whole;
  const auto [first, last] = *columns;
  if (first < 0 || last > static_cast<int64_t>(whole->size()) || first >= last) return nullptr;
  storage->assign(whole->begin() + first, whole->begin() + last);
  return storage;
}

mil::Value WeightEmitter::Palettized(mil::Function* f, const std::string& name,
                                     model::TensorRole role, int64_t layer, int64_t row_begin,
                                     int64_t row_end, const std::vector<int64_t>& shape,
                                     const ColumnRange* columns) {
  const int64_t rows = row_end - row_begin;
  const int64_t cols = shape.size() >= 2 ? shape[1] : 1;
  const int group = LutGroupFor(rows, format_.lut_group);
  int lut_bits = format_.lut_bits;
  const PlannedLut* planned = nullptr;
  if (bits_plan_ != nullptr) {
    if (auto it = bits_plan_->find({role, layer}); it != bits_plan_->end()) {
      planned = &it->second;
      lut_bits = planned->bits;
    }
  }
  auto idx_dtype = IndexDType(lut_bits);
  if (!idx_dtype.ok()) {
    program_->Fail(idx_dtype.status());
    return mil::Value();
  }
  // lut: [rows/group, 1, ..., 1, 2^bits, 1] (rank = weight rank + 2).
  std::vector<int64_t> lut_shape(shape.size() + 2, 1);
  lut_shape[0] = rows / group;
  lut_shape[shape.size()] = int64_t{1} << lut_bits;
  const std::string idx_name = name + "_indices", lut_name = name + "_lut";
  mil::Value indices, lut;
  if (emitted_.count(idx_name)) {
    indices = f->SharedConst(
        idx_name, [] { return mil::Tensor(); }, idx_name);
    lut = f->SharedConst(
        lut_name, [] { return mil::Tensor(); }, lut_name);
  } else if (reuse_ != nullptr) {
    // Exactly the bytes an earlier step stored: never palettized twice.
    indices = Shared(f, idx_name, reuse_->Get(idx_name));
    lut = Shared(f, lut_name, reuse_->Get(lut_name));
  } else {
    auto half = columns != nullptr
                    ? Fp16Columns(name, role, layer, *columns, {rows, cols})
                    : Fp16(name, role, layer, row_begin * cols, row_end * cols, {rows, cols});
    if (!half.ok()) {
      program_->Fail(half.status().WithContext("weight " + name));
      return mil::Value();
    }
    std::span<const uint8_t> raw = half->bytes();
    std::vector<uint16_t> bits(raw.size() / 2);
    std::memcpy(bits.data(), raw.data(), bits.size() * 2);
    quant::LutConfig cfg;
    cfg.bits = lut_bits;
    cfg.group_size = group;
    cfg.threads = 0;  // all cores: the pipeline converts one matrix at a time
    cfg.row_scale = format_.lut_row_scale;
    if (planned != nullptr && row_begin == 0 && columns == nullptr) {
      // The plan measured the whole matrix; Palettize checks that it is this one.
      cfg.tables = planned->tables;
      cfg.tables_input_hash = planned->tables_input_hash;
      cfg.row_scales = planned->row_scales;
    }
    std::span<const float> importance;
    std::vector<float> per_element, slice_columns;
    if (importance_ != nullptr) {
      const std::vector<float>* imp = importance_->Find(name);
      if (imp == nullptr) imp = WholeMatrixColumns(role, layer, columns, &slice_columns);
      if (imp != nullptr && static_cast<int64_t>(imp->size()) == cols) {
        importance = *imp;
        ++weighted_;
        if (role == model::TensorRole::kLmHead && !importance_->lm_head_rows.empty()) {
          // Output side too: each vocabulary row by how likely the model predicts it.
          per_element.resize(static_cast<size_t>(rows * cols));
          for (int64_t r = 0; r < rows; ++r) {
            const float rw = importance_->LmHeadRowWeight(row_begin + r);
            for (int64_t c = 0; c < cols; ++c) {
              per_element[static_cast<size_t>(r * cols + c)] = rw * (*imp)[static_cast<size_t>(c)];
            }
          }
          importance = per_element;
        }
      } else {
        ++unweighted_;
      }
    }
    auto pal = quant::Palettize(bits, rows, cols, cfg, importance, name);
    if (!pal.ok()) {
      // No silent fallback to fp16: a failed palettization stops the conversion.
      program_->Fail(pal.status().WithContext("palettizing " + name));
      return mil::Value();
    }
    if (pal->reused_tables) ++planned_tables_used_;
    indices = Shared(f, idx_name, mil::Tensor::UInt(*idx_dtype, shape, pal->indices));
    lut = Shared(f, lut_name, mil::Tensor::F16Bits(lut_shape, pal->lut_fp16));
    if (!pal->row_scale_fp16.empty()) {
      row_scales_[name + "_row_scale"] = mil::Tensor::F16Bits({1, rows, 1, 1}, pal->row_scale_fp16);
    }
  }
  return f->Op("constexpr_lut_to_dense", {{"indices", indices}, {"lut", lut}}, name);
}

bool WeightEmitter::HasRowScale(const std::string& weight_name) const {
  const std::string key = weight_name + "_row_scale";
  return row_scales_.count(key) > 0 || emitted_.count(key) > 0 ||
         (reuse_ != nullptr && reuse_->Has(key));
}

mil::Value WeightEmitter::ScaleOutput(mil::Function* f, const std::string& weight_name,
                                      mil::Value conv_out, const std::string& op_name) {
  if (!program_->status().ok()) return conv_out;
  const std::string key = weight_name + "_row_scale";
  mil::Value scale;
  if (auto cached = row_scale_values_.find({f, key}); cached != row_scale_values_.end()) {
    scale = cached->second;
  } else if (auto pending = row_scales_.find(key); pending != row_scales_.end()) {
    scale = Shared(f, key, std::move(pending->second));
    row_scales_.erase(pending);
  } else if (emitted_.count(key)) {  // stored by another function of this program
    scale = f->SharedConst(
        key, [] { return mil::Tensor(); }, key);
  } else if (reuse_ != nullptr && reuse_->Has(key)) {
    scale = Shared(f, key, reuse_->Get(key));
  } else {
    return conv_out;  // not palettized with row scales
  }
  row_scale_values_[{f, key}] = scale;
  return f->Mul(conv_out, scale, op_name);
}

Result<mil::Tensor> WeightEmitter::Fp16Columns(const std::string& name, model::TensorRole role,
                                               int64_t layer, ColumnRange columns,
                                               std::vector<int64_t> shape) {
  const auto [begin, end] = columns;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (reuse_ != nullptr) return Fp16(name, role, layer, 0, n, std::move(shape));
  if (source_ == nullptr) return Internal("weight {}: no weight source", name);
  ANEC_ASSIGN_OR_RETURN(io::TensorData data, source_->Read(role, layer));
  const std::vector<int64_t>& full = data.info.shape;
  if (full.size() != 2 || begin < 0 || end > full[1] || n != full[0] * (end - begin)) {
    return Internal("weight {}: columns [{}, {}) of every row do not fit {} as {} elements", name,
                    begin, end, data.info.name, n);
  }
  std::vector<uint8_t> bytes;
  bytes.reserve(static_cast<size_t>(n) * 2);
  for (int64_t r = 0; r < full[0]; ++r) {
    ANEC_ASSIGN_OR_RETURN(std::vector<uint8_t> row,
                          ToHalfBytes(data, r * full[1] + begin, r * full[1] + end));
    bytes.insert(bytes.end(), row.begin(), row.end());
  }
  return mil::Tensor(mil::TensorType{mil::DType::kFloat16, std::move(shape)}, std::move(bytes));
}

mil::Value WeightEmitter::MatrixColumns(mil::Function* f, const std::string& name,
                                        model::TensorRole role, int64_t layer, int64_t col_begin,
                                        int64_t col_end, std::vector<int64_t> shape) {
  if (!program_->status().ok()) return mil::Value();
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const int64_t cols = col_end - col_begin;
  if (cols <= 0 || shape.size() < 2 || shape[1] != cols || n % cols != 0) {
    program_->Fail(Internal("weight {}: shape does not hold {} columns", name, cols));
    return mil::Value();
  }
  if (emitted_.count(name)) {  // stored by another function of this program: share its blob
    return f->SharedConst(
        name, [] { return mil::Tensor(); }, name);
  }
  if (reuse_ == nullptr && source_ != nullptr) {
    auto raw = source_->ReadRaw(role, layer);
    if (!raw.ok() || raw->has_value()) {
      program_->Fail(
          raw.ok() ? InvalidArgument("weight {}: a column slice of GGUF blocks kept by "
                                     "--preserve-quant is not supported; drop --preserve-quant or "
                                     "raise --max-file-mb so that MLPs stay whole",
                                     name)
                   : raw.status().WithContext("weight " + name));
      return mil::Value();
    }
    // Likewise GPTQ/AWQ int4 groups: a column slice would silently fall back to dequantized fp16.
    auto int4 = source_->ReadInt4(role, layer);
    if (!int4.ok() || int4->has_value()) {
      program_->Fail(
          int4.ok() ? InvalidArgument("weight {}: a column slice of GPTQ/AWQ int4 groups is not "
                                      "supported; raise --max-file-mb so that MLPs stay whole, or "
                                      "convert with --no-preserve-quant",
                                      name)
                    : int4.status().WithContext("weight " + name));
      return mil::Value();
    }
  }
  const ColumnRange range{col_begin, col_end};
  mil::Value v = format_.lut_bits > 0
                     ? Palettized(f, name, role, layer, 0, n / cols, shape, &range)
                     : Shared(f, name, Fp16Columns(name, role, layer, range, shape));
  if (on_weights_) on_weights_(n);
  return v;
}

mil::Value WeightEmitter::Vector(mil::Function* f, const std::string& name, model::TensorRole role,
                                 int64_t layer, std::vector<int64_t> shape, double add,
                                 double mul) {
  if (!program_->status().ok()) return mil::Value();
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (emitted_.count(name))
    return f->SharedConst(
        name, [] { return mil::Tensor(); }, name);
  Result<mil::Tensor> t = Fp16(name, role, layer, 0, n, shape);
  if (t.ok() && (add != 0.0 || mul != 1.0) && reuse_ == nullptr) {
    std::span<const uint8_t> in = t->bytes();
    std::vector<uint16_t> bits(static_cast<size_t>(n));
    for (size_t i = 0; i < bits.size(); ++i) {
      uint16_t b;
      std::memcpy(&b, in.data() + 2 * i, 2);
      bits[i] = FloatToHalf(static_cast<float>((static_cast<double>(HalfToFloat(b)) + add) * mul));
    }
    t = mil::Tensor::F16Bits(shape, bits);
  }
  return Shared(f, name, std::move(t));
}

}  // namespace anec::ane

namespace anec::ane {
std::string LayerWeightName(int64_t layer, std::string_view tag) {
  return "layers_" + std::to_string(layer) + "_" + std::string(tag);
}
}  // namespace anec::ane
