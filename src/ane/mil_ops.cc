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

Value Neg(Function* f, Value x, const std::string& name) { return ScaleBy(f, x, -1.0f, name); }

Value ScaleBy(Function* f, Value x, float s, const std::string& name) {
  return f->Op("mul", {{"x", x}, {"y", Tensor::F16({}, {s})}}, name);
}

}  // namespace anec::ane
