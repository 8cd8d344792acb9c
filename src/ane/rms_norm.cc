#include "ane/rms_norm.h"

#include "ane/mil_ops.h"

namespace anec::ane {

mil::Value AneRmsNorm(mil::Function* f, mil::Value x, int32_t axis, mil::Value gamma, double eps,
                      const std::string& name) {
  if (!x.valid()) return x;
  const std::vector<int64_t> shape = x.type().shape;
  const int64_t n = shape[static_cast<size_t>(axis)];
  mil::Value neg = Neg(f, x, name + "_neg");
  mil::Value both = f->Concat({x, neg}, axis, name + "_concat");
  mil::Value normed = LayerNorm(f, both, {axis}, static_cast<float>(eps), name + "_ln");
  std::vector<int32_t> begin(shape.size(), 0), end;
  for (int64_t d : shape) end.push_back(static_cast<int32_t>(d));
  end[static_cast<size_t>(axis)] = static_cast<int32_t>(n);
  mil::Value half = SliceStatic(f, normed, begin, end, name + "_half");
  return f->Mul(half, gamma, name);
}

}  // namespace anec::ane
