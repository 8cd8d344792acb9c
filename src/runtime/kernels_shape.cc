// Data movement kernels: they copy bytes, so they work for every dtype.
#include <algorithm>
#include <cstring>

#include "runtime/kernels.h"
#include "runtime/lut_weight.h"
#include "runtime/op_context.h"
#include "runtime/strided_copy.h"

namespace anec::runtime {
namespace {

struct SliceSpec {
  std::vector<int64_t> start, step, count;
  std::vector<bool> squeeze;
};

// Python slice semantics per axis (what Core ML's slice_by_index follows).
Result<SliceSpec> ResolveSlice(const OpContext& ctx, const Shape& x) {
  const size_t r = x.size();
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> begin, ctx.Ints("begin"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> end, ctx.Ints("end"));
  std::vector<int64_t> stride(r, 1);
  if (ctx.Has("stride")) { ANEC_ASSIGN_OR_RETURN(stride, ctx.Ints("stride")); }
  ANEC_ASSIGN_OR_RETURN(std::vector<bool> begin_mask, ctx.BoolsOr("begin_mask", r, false));
  ANEC_ASSIGN_OR_RETURN(std::vector<bool> end_mask, ctx.BoolsOr("end_mask", r, false));
  ANEC_ASSIGN_OR_RETURN(std::vector<bool> squeeze_mask, ctx.BoolsOr("squeeze_mask", r, false));
  if (begin.size() != r || end.size() != r || stride.size() != r) {
    return InvalidArgument("begin/end/stride must have {} values (rank of x {}), found {}/{}/{}", r,
                           ShapeString(x), begin.size(), end.size(), stride.size());
  }
  SliceSpec s;
  for (size_t k = 0; k < r; ++k) {
    const int64_t len = x[k];
    if (squeeze_mask[k]) {
      int64_t b = begin_mask[k] ? 0 : begin[k];
      if (b < 0) b += len;
      if (b < 0 || b >= len) {
        return InvalidArgument("squeezed index {} is out of range for axis {} of size {}",
                               begin[k], k, len);
      }
      s.start.push_back(b);
      s.step.push_back(1);
      s.count.push_back(1);
      s.squeeze.push_back(true);
      continue;
    }
    int64_t st = stride[k];
    if (st == 0) return InvalidArgument("stride of axis {} is 0", k);
    auto norm = [&](int64_t v, bool masked, bool is_begin) {
      if (masked) return is_begin ? (st > 0 ? 0 : len - 1) : (st > 0 ? len : -1);
      if (v < 0) v += len;
      if (st > 0) return std::clamp<int64_t>(v, 0, len);
      return std::clamp<int64_t>(v, -1, len - 1);
    };
    int64_t b = norm(begin[k], begin_mask[k], true);
    int64_t e = norm(end[k], end_mask[k], false);
    int64_t n = st > 0 ? (e > b ? (e - b + st - 1) / st : 0) : (b > e ? (b - e - st - 1) / (-st) : 0);
    s.start.push_back(b);
    s.step.push_back(st);
    s.count.push_back(n);
    s.squeeze.push_back(false);
  }
  return s;
}

// Strided view parameters of a slice into a tensor of `shape`.
void SliceWalk(const SliceSpec& s, const Shape& shape, int64_t* base, std::vector<int64_t>* steps) {
  std::vector<int64_t> strides = Strides(shape);
  *base = 0;
  steps->clear();
  for (size_t k = 0; k < shape.size(); ++k) {
    *base += s.start[k] * strides[k];
    steps->push_back(s.step[k] * strides[k]);
  }
}

// dst element d + i = src element s + i * step for i < count (elements of type T).
template <typename T>
void CopyStrided(const uint8_t* src, int64_t s, int64_t step, int64_t count, uint8_t* dst,
                 int64_t d) {
  for (int64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, src + (s + i * step) * static_cast<int64_t>(sizeof(T)), sizeof(T));
    std::memcpy(dst + (d + i) * static_cast<int64_t>(sizeof(T)), &v, sizeof(T));
  }
}

// The elements of x at base + sum_k i_k steps[k] for i < counts, densely in out_shape. Large
// copies (transposes of a prefill's activations) are split over the pool along the first axis
// with more than one index; each part writes its own rows.
Tensor GatherStrided(const Tensor& x, const std::vector<int64_t>& counts, int64_t base,
                     const std::vector<int64_t>& steps, Shape out_shape, ThreadPool* pool) {
  Tensor out = Tensor::Uninitialized(x.dtype(), std::move(out_shape));
  const size_t es = ElementSize(x.dtype());
  const uint8_t* src = x.bytes();
  uint8_t* dst = out.mutable_bytes();
  auto copy = [&](const std::vector<int64_t>& part, int64_t part_base, int64_t dense0) {
    ForEachRow(part, part_base, steps, [&](int64_t d, int64_t s, int64_t count, int64_t step) {
      d += dense0;
      if (step == 1) {
        std::memcpy(dst + d * es, src + s * es, static_cast<size_t>(count) * es);
      } else if (es == 2) {  // fp16 rows of a transpose: typed loads, not a memcpy per element
        CopyStrided<uint16_t>(src, s, step, count, dst, d);
      } else if (es == 4) {
        CopyStrided<uint32_t>(src, s, step, count, dst, d);
      } else {
        for (int64_t i = 0; i < count; ++i) {
          std::memcpy(dst + (d + i) * es, src + (s + i * step) * es, es);
        }
      }
    });
  };
  size_t axis = 0;
  while (axis < counts.size() && counts[axis] == 1) ++axis;
  if (pool == nullptr || out.size() < 32768 || axis + 1 >= counts.size()) {
    copy(counts, base, 0);
    return out;
  }
  const int64_t below = out.size() / counts[axis];  // elements per index of `axis`
  pool->ParallelFor(counts[axis], 1, [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> part = counts;
    part[axis] = hi - lo;
    copy(part, base + lo * steps[axis], lo * below);
  });
  return out;
}

// True when the slice is one contiguous range of x: unit counts up to some axis a, then a
// unit step on a, then whole axes.
bool IsContiguousSlice(const SliceSpec& s, const Shape& shape) {
  size_t k = 0;
  while (k < shape.size() && s.count[k] == 1) ++k;
  if (k == shape.size()) return true;
  if (s.step[k] != 1) return false;
  for (++k; k < shape.size(); ++k) {
    if (s.start[k] != 0 || s.step[k] != 1 || s.count[k] != shape[k]) return false;
  }
  return true;
}

Status SliceByIndex(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(SliceSpec s, ResolveSlice(ctx, x.shape()));
  int64_t base;
  std::vector<int64_t> steps;
  SliceWalk(s, x.shape(), &base, &steps);
  Shape out_shape;
  for (size_t k = 0; k < s.count.size(); ++k) {
    if (!s.squeeze[k]) out_shape.push_back(s.count[k]);
  }
  if (x.dtype() != DType::kString && NumElements(s.count) > 0 && IsContiguousSlice(s, x.shape())) {
    // A layer's K or V out of the KV cache: a view, not a copy. It holds the buffer while alive,
    // so an in-place slice_update of the state (which needs the store and its x to be the only
    // holders) falls back to a copy instead of changing what the view shows.
    ctx.AddOutput(x.SubView(static_cast<size_t>(base) * ElementSize(x.dtype()), out_shape));
    return Status::Ok();
  }
  ctx.AddOutput(GatherStrided(x, s.count, base, steps, out_shape, ctx.pool()));
  return Status::Ok();
}

Status SliceBySize(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> begin, ctx.Ints("begin"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> size, ctx.Ints("size"));
  const size_t r = x.shape().size();
  if (begin.size() != r || size.size() != r) {
    return InvalidArgument("begin/size must have {} values for x {}", r, x.TypeString());
  }
  SliceSpec s;
  for (size_t k = 0; k < r; ++k) {
    int64_t b = begin[k] < 0 ? begin[k] + x.shape()[k] : begin[k];
    int64_t n = size[k] == -1 ? x.shape()[k] - b : size[k];
    if (b < 0 || n < 0 || b + n > x.shape()[k]) {
      return InvalidArgument("slice begin {} size {} is out of range for axis {} of size {}",
                             begin[k], size[k], k, x.shape()[k]);
    }
    s.start.push_back(b);
    s.step.push_back(1);
    s.count.push_back(n);
  }
  int64_t base;
  std::vector<int64_t> steps;
  SliceWalk(s, x.shape(), &base, &steps);
  ctx.AddOutput(GatherStrided(x, s.count, base, steps, s.count, ctx.pool()));
  return Status::Ok();
}

// x with x[slice] = update. Updates the state buffer in place when the program marked the op
// (result written straight back to the state it was read from) and nobody else holds it.
Status SliceUpdate(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.op().in_place_state_update ? ctx.TakeInput("x")
                                                                  : ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(Tensor update, ctx.Input("update"));
  ANEC_ASSIGN_OR_RETURN(SliceSpec s, ResolveSlice(ctx, x.shape()));
  Shape expect;
  for (size_t k = 0; k < s.count.size(); ++k) {
    if (!s.squeeze[k]) expect.push_back(s.count[k]);
  }
  if (update.dtype() != x.dtype() || NumElements(expect) != update.size()) {
    return InvalidArgument("update {} does not match the slice {} of x {}", update.TypeString(),
                           ShapeString(expect), x.TypeString());
  }
  bool in_place = false;
  if (ctx.op().in_place_state_update && ctx.states() != nullptr && x.writable()) {
    for (auto& [name, buffer] : *ctx.states()) {
      // Exactly two owners: the store and `x` (taken from its dead slot).
      if (buffer.SharesStorageWith(x) && x.storage_use_count() == 2) in_place = true;
    }
  }
  Tensor out = in_place ? x : x.Clone();
  int64_t base;
  std::vector<int64_t> steps;
  SliceWalk(s, x.shape(), &base, &steps);
  const size_t es = ElementSize(x.dtype());
  uint8_t* dst = out.mutable_bytes();
  const uint8_t* src = update.bytes();
  ForEachRun(s.count, base, steps, [&](int64_t d, int64_t o, int64_t run) {
    std::memcpy(dst + o * es, src + d * es, static_cast<size_t>(run) * es);
  });
  ctx.AddOutput(std::move(out));
  return Status::Ok();
}

Status Transpose(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> perm, ctx.Ints("perm"));
  if (static_cast<int64_t>(perm.size()) != x.rank()) {
    return InvalidArgument("perm has {} values for x {}", perm.size(), x.TypeString());
  }
  std::vector<int64_t> strides = Strides(x.shape());
  std::vector<bool> seen(perm.size(), false);
  Shape out_shape;
  std::vector<int64_t> steps;
  for (int64_t& p : perm) {
    ANEC_ASSIGN_OR_RETURN(p, NormalizeAxis(p, x.rank()));
    if (seen[static_cast<size_t>(p)]) return InvalidArgument("perm repeats axis {}", p);
    seen[static_cast<size_t>(p)] = true;
    out_shape.push_back(x.dim(p));
    steps.push_back(strides[static_cast<size_t>(p)]);
  }
  ctx.AddOutput(GatherStrided(x, out_shape, 0, steps, out_shape, ctx.pool()));
  return Status::Ok();
}

Status Reshape(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ctx.Ints("shape"));
  // 0 copies the matching dim of x counted from the right (iOS17 rule); -1 is inferred.
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) {
      int64_t from_right = static_cast<int64_t>(shape.size() - i);
      int64_t j = x.rank() - from_right;
      shape[i] = j >= 0 ? x.dim(j) : 1;
    }
  }
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) return InvalidArgument("shape {} has more than one -1", fmt::join(shape, ","));
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      return InvalidArgument("shape {} has a negative dim", fmt::join(shape, ","));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) shape[static_cast<size_t>(infer)] = known == 0 ? 0 : x.size() / known;
  if (NumElements(shape) != x.size()) {
    return InvalidArgument("cannot reshape {} to {}", x.TypeString(), ShapeString(shape));
  }
  ctx.AddOutput(x.Reshaped(shape));
  return Status::Ok();
}

Status ExpandDims(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.Ints("axes"));
  int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> is_new(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) {
    ANEC_ASSIGN_OR_RETURN(int64_t na, NormalizeAxis(a, out_rank));
    if (is_new[static_cast<size_t>(na)]) return InvalidArgument("axes repeat {}", na);
    is_new[static_cast<size_t>(na)] = true;
  }
  Shape out;
  int64_t j = 0;
  for (int64_t k = 0; k < out_rank; ++k) out.push_back(is_new[static_cast<size_t>(k)] ? 1 : x.dim(j++));
  ctx.AddOutput(x.Reshaped(out));
  return Status::Ok();
}

Status Squeeze(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(auto maybe_axes, ctx.OptionalInts("axes"));
  // Unwrapped here: GCC 12 -O3 warns falsely (-Wmaybe-uninitialized) on the optional's vector.
  const bool all_unit = !maybe_axes.has_value();
  const std::vector<int64_t> axes = maybe_axes.value_or(std::vector<int64_t>{});
  std::vector<bool> drop(static_cast<size_t>(x.rank()), false);
  if (all_unit) {
    for (int64_t k = 0; k < x.rank(); ++k) drop[static_cast<size_t>(k)] = x.dim(k) == 1;
  } else {
    for (int64_t a : axes) {
      ANEC_ASSIGN_OR_RETURN(int64_t na, NormalizeAxis(a, x.rank()));
      if (x.dim(na) != 1) return InvalidArgument("cannot squeeze axis {} of {}", na, x.TypeString());
      drop[static_cast<size_t>(na)] = true;
    }
  }
  Shape out;
  for (int64_t k = 0; k < x.rank(); ++k) {
    if (!drop[static_cast<size_t>(k)]) out.push_back(x.dim(k));
  }
  ctx.AddOutput(x.Reshaped(out));
  return Status::Ok();
}

Status Identity(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ctx.AddOutput(std::move(x));
  return Status::Ok();
}

Status Concat(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(std::vector<Tensor> values, ctx.InputList("values"));
  ANEC_ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis"));
  ANEC_ASSIGN_OR_RETURN(bool interleave, ctx.BoolOr("interleave", false));
  if (interleave) return Unsupported("concat with interleave=true");
  if (values.empty()) return InvalidArgument("concat needs at least one value");
  const Tensor& first = values[0];
  ANEC_ASSIGN_OR_RETURN(axis, NormalizeAxis(axis, first.rank()));
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(axis)] = 0;
  for (const Tensor& v : values) {
    bool same = v.dtype() == first.dtype() && v.rank() == first.rank();
    for (int64_t k = 0; same && k < v.rank(); ++k) same = k == axis || v.dim(k) == first.dim(k);
    if (!same) {
      return InvalidArgument("concat values {} and {} differ off axis {}", first.TypeString(),
                             v.TypeString(), axis);
    }
    out_shape[static_cast<size_t>(axis)] += v.dim(axis);
  }
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= first.dim(k);
  for (int64_t k = axis + 1; k < first.rank(); ++k) inner *= first.dim(k);
  Tensor out = Tensor::Uninitialized(first.dtype(), out_shape);
  const size_t es = ElementSize(first.dtype());
  const int64_t out_row = out_shape[static_cast<size_t>(axis)] * inner;
  int64_t col = 0;
  for (const Tensor& v : values) {
    const int64_t row = v.dim(axis) * inner;
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(out.mutable_bytes() + (o * out_row + col) * es, v.bytes() + o * row * es,
                  static_cast<size_t>(row) * es);
    }
    col += row;
  }
  ctx.AddOutput(std::move(out));
  return Status::Ok();
}

Status Split(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis"));
  ANEC_ASSIGN_OR_RETURN(axis, NormalizeAxis(axis, x.rank()));
  const int64_t len = x.dim(axis);
  std::vector<int64_t> sizes;
  if (ctx.Has("split_sizes")) {
    ANEC_ASSIGN_OR_RETURN(sizes, ctx.Ints("split_sizes"));
  } else {
    ANEC_ASSIGN_OR_RETURN(int64_t n, ctx.Int("num_splits"));
    if (n <= 0) return InvalidArgument("num_splits must be positive, got {}", n);
    int64_t per = (len + n - 1) / n;
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::min(per, len - i * per));
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (total != len) {
    return InvalidArgument("split sizes {} do not add up to axis {} of {}", fmt::join(sizes, ","),
                           axis, x.TypeString());
  }
  std::vector<int64_t> strides = Strides(x.shape());
  int64_t at = 0;
  for (int64_t s : sizes) {
    Shape piece = x.shape();
    piece[static_cast<size_t>(axis)] = s;
    ctx.AddOutput(GatherStrided(x, piece, at * strides[static_cast<size_t>(axis)], strides, piece,
                                ctx.pool()));
    at += s;
  }
  return Status::Ok();
}

}  // namespace

void RegisterShapeKernels(KernelTable* t) {
  (*t)["slice_by_index"] = SliceByIndex;
  (*t)["slice_by_size"] = SliceBySize;
  (*t)["slice_update"] = SliceUpdate;
  (*t)["transpose"] = Transpose;
  (*t)["reshape"] = Reshape;
  (*t)["expand_dims"] = ExpandDims;
  (*t)["squeeze"] = Squeeze;
  (*t)["identity"] = Identity;
  (*t)["concat"] = Concat;
  (*t)["split"] = Split;
}

}  // namespace anec::runtime
