#include "ane/mil_ops.h"

namespace anec::ane {

Tensor I32s(const std::vector<int32_t>& v) {
  return Tensor::I32({static_cast<int64_t>(v.size())}, v);
}

Tensor Bools(const std::vector<bool>& v) {
  return Tensor::Bool({static_cast<int64_t>(v.size())}, v);
}

namespace {
std::vector<mil::NamedArg> SliceMasks(size_t rank) {
  std::vector<bool> f(rank, false);
  return {{"stride", I32s(std::vector<int32_t>(rank, 1))},
          {"begin_mask", Bools(f)},
          {"end_mask", Bools(f)},
          {"squeeze_mask", Bools(f)}};
}
}  // namespace

Value SliceStatic(Function* f, Value x, const std::vector<int32_t>& begin,
                  const std::vector<int32_t>& end, const std::string& name) {
  std::vector<mil::NamedArg> args = {{"x", x}, {"begin", I32s(begin)}, {"end", I32s(end)}};
  for (auto& a : SliceMasks(begin.size())) args.push_back(std::move(a));
  return f->Op("slice_by_index", std::move(args), name);
}

Value SliceDynamic(Function* f, Value x, Value begin, Value end, const std::string& name) {
  const size_t rank = static_cast<size_t>(x.valid() ? x.type().shape.size() : 0);
  std::vector<mil::NamedArg> args = {{"x", x}, {"begin", begin}, {"end", end}};
  for (auto& a : SliceMasks(rank)) args.push_back(std::move(a));
  return f->Op("slice_by_index", std::move(args), name);
}

Value SliceUpdate(Function* f, Value x, Value update, Value begin, Value end,
                  const std::string& name) {
  const size_t rank = static_cast<size_t>(x.valid() ? x.type().shape.size() : 0);
  std::vector<mil::NamedArg> args = {{"x", x}, {"update", update}, {"begin", begin}, {"end", end}};
  for (auto& a : SliceMasks(rank)) args.push_back(std::move(a));
  return f->Op("slice_update", std::move(args), name);
}

Value ExpandDims(Function* f, Value x, const std::vector<int32_t>& axes, const std::string& name) {
  return f->Op("expand_dims", {{"x", x}, {"axes", I32s(axes)}}, name);
}

Value Squeeze(Function* f, Value x, const std::vector<int32_t>& axes, const std::string& name) {
  return f->Op("squeeze", {{"x", x}, {"axes", I32s(axes)}}, name);
}

Value Gather(Function* f, Value x, Value indices, int32_t axis, const std::string& name) {
  return f->Op("gather",
               {{"x", x},
                {"indices", indices},
                {"axis", Tensor::ScalarI32(axis)},
                {"batch_dims", Tensor::ScalarI32(0)},
                {"validate_indices", Tensor::ScalarBool(false)}},
               name);
}

Value LayerNorm(Function* f, Value x, const std::vector<int32_t>& axes, float epsilon,
                const std::string& name) {
  return f->Op("layer_norm",
               {{"x", x}, {"axes", I32s(axes)}, {"epsilon", Tensor::F16({}, {epsilon})}}, name);
}

Value Silu(Function* f, Value x, const std::string& name) {
  return f->Op("silu", {{"x", x}}, name);
}

Value GeluTanh(Function* f, Value x, const std::string& name) {
  return f->Op("gelu", {{"x", x}, {"mode", Tensor::ScalarString("TANH_APPROXIMATION")}}, name);
}

Value SoftmaxAne(Function* f, Value x, int32_t axis, const std::string& name) {
  Value max = f->Op("reduce_max",
                    {{"x", x}, {"axes", I32s({axis})}, {"keep_dims", Tensor::ScalarBool(true)}},
                    name + "_max");
  Value e = f->Op("exp", {{"x", f->Sub(x, max, name + "_shifted")}}, name + "_exp");
  Value sum = f->Op("reduce_sum",
                    {{"x", e}, {"axes", I32s({axis})}, {"keep_dims", Tensor::ScalarBool(true)}},
                    name + "_sum");
  return f->RealDiv(e, sum, name);
}

Value ToChannelsFirst(Function* f, Value x, const std::string& name) {
  return ExpandDims(f, f->Transpose(x, {0, 2, 1}, name + "_t"), {2}, name);
}

Value FromChannelsFirst(Function* f, Value x, const std::string& name) {
  return f->Transpose(Squeeze(f, x, {2}, name + "_sq"), {0, 2, 1}, name);
}

Value GatherRows(Function* f, Value table, Value indices, const std::string& name) {
  constexpr int64_t kInt16Rows = 32767;
  if (table.valid() && indices.valid() && table.type().shape[0] <= kInt16Rows) {
    indices = f->Cast(indices, mil::DType::kInt16, name + "_idx16");
  }
  return Gather(f, table, indices, 0, name);
}

Value Neg(Function* f, Value x, const std::string& name) { return ScaleBy(f, x, -1.0f, name); }

Value ScaleBy(Function* f, Value x, float s, const std::string& name) {
  return f->Op("mul", {{"x", x}, {"y", Tensor::F16({}, {s})}}, name);
}

}  // namespace anec::ane
