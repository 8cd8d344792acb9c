// Shape ops: concat, split, slice_by_index, slice_by_size, slice_update, transpose, reshape,
// expand_dims, squeeze, gather, band_part, fill.
#include <algorithm>
#include <set>

#include "mil/op_registry.h"

namespace anec::mil {

namespace {

constexpr DType kF16 = DType::kFloat16, kF32 = DType::kFloat32, kI32 = DType::kInt32,
                kBool = DType::kBool, kI8 = DType::kInt8, kU8 = DType::kUInt8,
                kI16 = DType::kInt16, kU16 = DType::kUInt16;

ParamSpec Req(std::string n) { return {std::move(n), true, false, ParamKind::kTensor}; }
ParamSpec OptConst(std::string n) { return {std::move(n), false, true, ParamKind::kTensor}; }
ParamSpec ReqConst(std::string n) { return {std::move(n), true, true, ParamKind::kTensor}; }

using Types = Result<std::vector<TensorType>>;

Status DataDType(OpCall& c, const std::string& p) {
  if (c.opset() >= Opset::kIOS17) {
    return c.ExpectDType(p, {kF16, kF32, kI8, kI16, kI32, kU8, kU16, kBool});
  }
  return c.ExpectDType(p, {kF16, kF32, kI32, kBool});
}

Status IndexDType(OpCall& c, const std::string& p) {
  if (c.opset() >= Opset::kIOS17) return c.ExpectDType(p, {kI8, kI16, kI32});
  return c.ExpectDType(p, {kI32});
}

int64_t Rank(OpCall& c, const std::string& p) {
  return static_cast<int64_t>(c.In(p).type().shape.size());
}

Result<std::vector<int64_t>> Axes(OpCall& c, const std::string& p, int64_t rank) {
  ANEC_ASSIGN_OR_RETURN(auto axes, c.Ints(p));
  std::set<int64_t> seen;
  for (int64_t& a : axes) {
    auto n = NormalizeAxis(a, rank);
    if (!n || seen.count(*n)) {
      return c.Error(p, fmt::format("expected distinct axes in [{}, {}), found {}", -rank, rank,
                                    ShapeString(axes)));
    }
    seen.insert(*n);
    a = *n;
  }
  return axes;
}

Types InferConcat(OpCall& c) {
  std::vector<Value> vs = c.Tuple("values");
  c.Default("interleave", Tensor::ScalarBool(false));
  ANEC_ASSIGN_OR_RETURN(int64_t axis, c.Int("axis"));
  ANEC_ASSIGN_OR_RETURN(bool interleave, c.Bool("interleave"));
  const TensorType& first = vs[0].type();
  int64_t rank = static_cast<int64_t>(first.shape.size());
  auto ax = NormalizeAxis(axis, rank);
  if (!ax) return c.Error("axis", fmt::format("expected an axis in [{}, {}), found {}", -rank, rank, axis));
  std::vector<int64_t> out = first.shape;
  out[*ax] = 0;
  for (size_t i = 0; i < vs.size(); ++i) {
    const TensorType& t = vs[i].type();
    bool ok = t.dtype == first.dtype && t.shape.size() == first.shape.size();
    for (int64_t d = 0; ok && d < rank; ++d) {
      if (d != *ax && t.shape[d] != first.shape[d]) ok = false;
      if (interleave && t.shape[d] != first.shape[d]) ok = false;
    }
    if (!ok) {
      return c.Error("values", fmt::format("element {} '{}' is {}; expected dtype {} and shape {} "
                                           "except on axis {}{}",
                                           i, vs[i].name(), t.ToString(), DTypeName(first.dtype),
                                           ShapeString(first.shape), *ax,
                                           interleave ? " (interleave: equal shapes)" : ""));
    }
    out[*ax] += t.shape[*ax];
  }
  return std::vector<TensorType>{{first.dtype, out}};
}

Types InferSplit(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32, kBool}));
  const TensorType& x = c.In("x").type();
  int64_t rank = static_cast<int64_t>(x.shape.size());
  ANEC_ASSIGN_OR_RETURN(int64_t axis, c.Int("axis"));
  auto ax = NormalizeAxis(axis, rank);
  if (!ax) return c.Error("axis", fmt::format("expected an axis in [{}, {}), found {}", -rank, rank, axis));
  int64_t dim = x.shape[*ax];
  std::vector<int64_t> sizes;
  if (c.Has("num_splits") == c.Has("split_sizes")) {
    return c.Error("num_splits", "expected exactly one of 'num_splits' and 'split_sizes'");
  }
  if (c.Has("num_splits")) {
    ANEC_ASSIGN_OR_RETURN(int64_t n, c.Int("num_splits"));
    if (n <= 0 || dim % n != 0) {
      return c.Error("num_splits", fmt::format("expected a divisor of dimension {} of {}, found {}",
                                               *ax, x.ToString(), n));
    }
    sizes.assign(static_cast<size_t>(n), dim / n);
  } else {
    ANEC_ASSIGN_OR_RETURN(sizes, c.Ints("split_sizes"));
    int64_t sum = 0;
    for (int64_t s : sizes) sum += s;
    if (sizes.empty() || sum != dim ||
        std::any_of(sizes.begin(), sizes.end(), [](int64_t s) { return s <= 0; })) {
      return c.Error("split_sizes", fmt::format("expected positive sizes summing to {}, found {}",
                                                dim, ShapeString(sizes)));
    }
  }
  std::vector<TensorType> out;
  for (int64_t s : sizes) {
    TensorType t = x;
    t.shape[*ax] = s;
    out.push_back(t);
  }
  return out;
}

struct SliceSpec {
  std::vector<int64_t> begin, end, stride;
  std::vector<bool> begin_mask, end_mask, squeeze_mask;
  bool begin_known = true, end_known = true;
};

// Fills the optional slice parameters and reads them.
Result<SliceSpec> ReadSlice(OpCall& c, int64_t rank) {
  std::vector<int32_t> ones(rank, 1);
  std::vector<bool> no(rank, false);
  c.Default("stride", Tensor::I32({rank}, ones));
  c.Default("begin_mask", Tensor::Bool({rank}, no));
  c.Default("end_mask", Tensor::Bool({rank}, no));
  c.Default("squeeze_mask", Tensor::Bool({rank}, no));
  ANEC_RETURN_IF_ERROR(IndexDType(c, "begin"));
  ANEC_RETURN_IF_ERROR(IndexDType(c, "end"));
  ANEC_RETURN_IF_ERROR(c.SameDType("end", "begin"));
  ANEC_RETURN_IF_ERROR(c.SameDType("stride", "begin"));
  SliceSpec s;
  for (const char* p : {"begin", "end"}) {
    if (c.In(p).type().shape != std::vector<int64_t>{rank}) {
      return c.Error(p, fmt::format("expected shape [{}] (rank of 'x'), found {}", rank,
                                    c.In(p).type().ToString()));
    }
  }
  s.begin_known = c.In("begin").constant() != nullptr;
  s.end_known = c.In("end").constant() != nullptr;
  if (s.begin_known) { ANEC_ASSIGN_OR_RETURN(s.begin, c.Ints("begin")); }
  if (s.end_known) { ANEC_ASSIGN_OR_RETURN(s.end, c.Ints("end")); }
  ANEC_ASSIGN_OR_RETURN(s.stride, c.Ints("stride"));
  ANEC_ASSIGN_OR_RETURN(s.begin_mask, c.Bools("begin_mask"));
  ANEC_ASSIGN_OR_RETURN(s.end_mask, c.Bools("end_mask"));
  ANEC_ASSIGN_OR_RETURN(s.squeeze_mask, c.Bools("squeeze_mask"));
  for (const char* p : {"stride", "begin_mask", "end_mask", "squeeze_mask"}) {
    if (c.In(p).type().shape != std::vector<int64_t>{rank}) {
      return c.Error(p, fmt::format("expected shape [{}], found {}", rank, c.In(p).type().ToString()));
    }
  }
  for (int64_t st : s.stride) {
    if (st == 0) return c.Error("stride", "expected non-zero strides, found 0");
  }
  return s;
}

// Output dims of a slice, as coremltools' shape solver computes them; -1 for a dim that depends
// on a non-constant begin/end.
Result<std::vector<int64_t>> SliceShape(OpCall& c, const std::vector<int64_t>& x, SliceSpec s) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (s.squeeze_mask[i]) continue;
    int64_t st = s.stride[i], dim = x[i];
    if (s.begin_mask[i] && s.end_mask[i]) {
      out.push_back((dim + std::abs(st) - 1) / std::abs(st));
      continue;
    }
    std::optional<int64_t> b, e;
    if (s.begin_known) b = s.begin[i];
    if (s.end_known) e = s.end[i];
    if (!s.begin_mask[i] && !s.end_mask[i] && b && e) {
      std::optional<int64_t> o;
      if (*b >= 0 && *e >= 0 && st > 0) {
        if (*e < *b) {
          return c.Error("end", fmt::format("dimension {}: end {} < begin {} with stride {}", i,
                                            *e, *b, st));
        }
        o = std::max<int64_t>(0, (*e - *b + st - 1) / st);
      }
      if (*b < 0 && *e < 0 && st < 0) {
        if (*b < *e) {
          return c.Error("end", fmt::format("dimension {}: begin {} < end {} with stride {}", i,
                                            *b, *e, st));
        }
        int64_t num = *b - *e - st - 1, den = -st;  // Python floor division of -(num) by st
        o = std::max<int64_t>(0, num / den);
      }
      if (o && (*o == 0 || *o == 1)) {
        out.push_back(*o);
        continue;
      }
    }
    if (!s.begin_mask[i] && s.end_mask[i] && b &&
        ((*b == 0 && st < 0) || (*b == -1 && st > 0))) {
      out.push_back(1);
      continue;
    }
    if (dim == 1) {
      out.push_back(1);
      continue;
    }
    if ((!b && !s.begin_mask[i]) || (!e && !s.end_mask[i])) {
      out.push_back(-1);
      continue;
    }
    int64_t bi = b ? (*b < 0 ? std::max<int64_t>(0, *b + dim) : *b) : 0;
    int64_t ei = e ? (*e < 0 ? std::max<int64_t>(0, *e + dim) : *e) : 0;
    int64_t low = st > 0 ? 0 : -1, high = st > 0 ? dim : dim - 1;
    int64_t bidx = st > 0 ? bi : ei, eidx = st > 0 ? ei : bi;
    bool bm = st > 0 ? s.begin_mask[i] : s.end_mask[i];
    bool em = st > 0 ? s.end_mask[i] : s.begin_mask[i];
    if (bm) bidx = low;
    eidx = em ? high : std::min(eidx, high);
    int64_t diff = eidx - bidx, as = std::abs(st);
    int64_t num = diff > 0 ? (diff + as - 1) / as : -((-diff) / as);
    out.push_back(std::max<int64_t>(0, num));
  }
  return out;
}

Types InferSliceByIndex(OpCall& c) {
  ANEC_RETURN_IF_ERROR(DataDType(c, "x"));
  const TensorType& x = c.In("x").type();
  ANEC_ASSIGN_OR_RETURN(SliceSpec s, ReadSlice(c, static_cast<int64_t>(x.shape.size())));
  ANEC_ASSIGN_OR_RETURN(auto shape, SliceShape(c, x.shape, s));
  for (int64_t d : shape) {
    if (d < 0) {
      return c.Error(s.begin_known ? "end" : "begin",
                     "expected a constant (static shapes only); use slice_by_size for a "
                     "dynamic begin");
    }
  }
  return std::vector<TensorType>{{x.dtype, shape}};
}

Types InferSliceUpdate(OpCall& c) {
  ANEC_RETURN_IF_ERROR(DataDType(c, "x"));
  ANEC_RETURN_IF_ERROR(c.SameDType("update", "x"));
  const TensorType& x = c.In("x").type();
  const TensorType& u = c.In("update").type();
  ANEC_ASSIGN_OR_RETURN(SliceSpec s, ReadSlice(c, static_cast<int64_t>(x.shape.size())));
  ANEC_ASSIGN_OR_RETURN(auto shape, SliceShape(c, x.shape, s));
  bool ok = shape.size() == u.shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || shape[i] == u.shape[i];
  if (!ok) {
    std::string expected = ShapeString(shape);
    return c.Error("update", fmt::format("expected shape {} (the slice of 'x' {}; -1 = any), found {}",
                                         expected, x.ToString(), u.ToString()));
  }
  if (u.shape.empty()) return c.Error("update", "expected rank >= 1, found a scalar");
  return std::vector<TensorType>{x};
}

Types InferSliceBySize(OpCall& c) {
  ANEC_RETURN_IF_ERROR(DataDType(c, "x"));
  ANEC_RETURN_IF_ERROR(IndexDType(c, "begin"));
  ANEC_RETURN_IF_ERROR(c.SameDType("size", "begin"));
  const TensorType& x = c.In("x").type();
  int64_t rank = static_cast<int64_t>(x.shape.size());
  for (const char* p : {"begin", "size"}) {
    if (c.In(p).type().shape != std::vector<int64_t>{rank}) {
      return c.Error(p, fmt::format("expected shape [{}], found {}", rank, c.In(p).type().ToString()));
    }
  }
  ANEC_ASSIGN_OR_RETURN(auto size, c.Ints("size"));
  std::vector<int64_t> begin;
  if (c.In("begin").constant()) { ANEC_ASSIGN_OR_RETURN(begin, c.Ints("begin")); }
  for (int64_t i = 0; i < rank; ++i) {
    int64_t b = begin.empty() ? 0 : begin[i];
    if (size[i] == -1) {
      if (begin.empty()) return c.Error("size", "size -1 needs a constant 'begin'");
      size[i] = x.shape[i] - b;
    }
    if (size[i] < 0 || b < 0 || b + size[i] > x.shape[i]) {
      return c.Error("size", fmt::format("dimension {}: begin {} + size {} exceeds {}", i, b,
                                         size[i], x.ToString()));
    }
  }
  return std::vector<TensorType>{{x.dtype, size}};
}

Types InferTranspose(OpCall& c) {
  ANEC_RETURN_IF_ERROR(DataDType(c, "x"));
  const TensorType& x = c.In("x").type();
  int64_t rank = Rank(c, "x");
  ANEC_ASSIGN_OR_RETURN(auto perm, Axes(c, "perm", rank));
  if (static_cast<int64_t>(perm.size()) != rank) {
    return c.Error("perm", fmt::format("expected a permutation of {} axes, found {}", rank,
                                       ShapeString(perm)));
  }
  std::vector<int64_t> out;
  for (int64_t p : perm) out.push_back(x.shape[p]);
  return std::vector<TensorType>{{x.dtype, out}};
}

Types InferReshape(OpCall& c) {
  ANEC_RETURN_IF_ERROR(DataDType(c, "x"));
  ANEC_RETURN_IF_ERROR(IndexDType(c, "shape"));
  const TensorType& x = c.In("x").type();
  ANEC_ASSIGN_OR_RETURN(auto shape, c.Ints("shape"));
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && infer < 0) {
      infer = static_cast<int64_t>(i);
    } else if (shape[i] <= 0) {
      return c.Error("shape", fmt::format("expected positive dims and at most one -1, found {}",
                                          ShapeString(shape)));
    } else {
      known *= shape[i];
    }
  }
  int64_t n = x.num_elements();
  if (infer >= 0) {
    if (n % known != 0) {
      return c.Error("shape", fmt::format("cannot infer -1: {} elements of {} not divisible by {}",
                                          n, x.ToString(), known));
    }
    shape[infer] = n / known;
  } else if (known != n) {
    return c.Error("shape", fmt::format("expected {} elements (as 'x' {}), found shape {}", n,
                                        x.ToString(), ShapeString(shape)));
  }
  return std::vector<TensorType>{{x.dtype, shape}};
}

Types InferExpandDims(OpCall& c) {
  ANEC_RETURN_IF_ERROR(DataDType(c, "x"));
  const TensorType& x = c.In("x").type();
  int64_t out_rank = Rank(c, "x") + static_cast<int64_t>(c.In("axes").type().num_elements());
  ANEC_ASSIGN_OR_RETURN(auto axes, Axes(c, "axes", out_rank));
  std::vector<int64_t> out(out_rank, 1);
  std::set<int64_t> ax(axes.begin(), axes.end());
  size_t j = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    if (!ax.count(i)) out[i] = x.shape[j++];
  }
  return std::vector<TensorType>{{x.dtype, out}};
}

Types InferSqueeze(OpCall& c) {
  ANEC_RETURN_IF_ERROR(DataDType(c, "x"));
  const TensorType& x = c.In("x").type();
  std::set<int64_t> ax;
  if (c.Has("axes")) {
    ANEC_ASSIGN_OR_RETURN(auto axes, Axes(c, "axes", Rank(c, "x")));
    for (int64_t a : axes) {
      if (x.shape[a] != 1) {
        return c.Error("axes", fmt::format("axis {} of {} has size {}, expected 1", a,
                                           x.ToString(), x.shape[a]));
      }
      ax.insert(a);
    }
  } else {  // default: every size-1 dim (coremltools leaves 'axes' unset)
    for (size_t i = 0; i < x.shape.size(); ++i) {
      if (x.shape[i] == 1) ax.insert(static_cast<int64_t>(i));
    }
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (!ax.count(static_cast<int64_t>(i))) out.push_back(x.shape[i]);
  }
  return std::vector<TensorType>{{x.dtype, out}};
}

Types InferGather(OpCall& c) {
  if (c.opset() >= Opset::kIOS17) {
    ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32, kI16, kU16, kI8, kU8}));
    ANEC_RETURN_IF_ERROR(c.ExpectDType("indices", {kI32, kI16, kU16, kI8, kU8}));
    c.Default("validate_indices", Tensor::ScalarBool(false));
  } else {
    ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32}));
    ANEC_RETURN_IF_ERROR(c.ExpectDType("indices", {kI32, kI16, kU16}));
    if (c.Has("validate_indices")) {
      return c.Error("validate_indices", "expected nothing: this input needs opset iOS17+");
    }
  }
  c.Default("axis", Tensor::ScalarI32(0));
  c.Default("batch_dims", Tensor::ScalarI32(0));
  const TensorType& x = c.In("x").type();
  const TensorType& idx = c.In("indices").type();
  int64_t rank = Rank(c, "x");
  ANEC_ASSIGN_OR_RETURN(int64_t axis, c.Int("axis"));
  ANEC_ASSIGN_OR_RETURN(int64_t batch_dims, c.Int("batch_dims"));
  auto ax = NormalizeAxis(axis, rank);
  if (!ax) return c.Error("axis", fmt::format("expected an axis in [{}, {}), found {}", -rank, rank, axis));
  int64_t irank = static_cast<int64_t>(idx.shape.size());
  if (batch_dims < 0) batch_dims += irank;
  if (batch_dims < 0 || batch_dims > *ax || batch_dims > irank) {
    return c.Error("batch_dims", fmt::format("expected 0..min(axis {}, indices rank {}), found {}",
                                             *ax, irank, batch_dims));
  }
  for (int64_t i = 0; i < batch_dims; ++i) {
    if (x.shape[i] != idx.shape[i]) {
      return c.Error("indices", fmt::format("batch dim {} is {}, expected {} as 'x'", i,
                                            idx.shape[i], x.shape[i]));
    }
  }
  std::vector<int64_t> out(x.shape.begin(), x.shape.begin() + *ax);
  out.insert(out.end(), idx.shape.begin() + batch_dims, idx.shape.end());
  out.insert(out.end(), x.shape.begin() + *ax + 1, x.shape.end());
  return std::vector<TensorType>{{x.dtype, out}};
}

Types InferBandPart(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("x", {kF16, kF32, kI32, kBool}));
  c.Default("lower", Tensor::ScalarI32(-1));
  c.Default("upper", Tensor::ScalarI32(-1));
  ANEC_RETURN_IF_ERROR(c.Int("lower").status());
  ANEC_RETURN_IF_ERROR(c.Int("upper").status());
  if (Rank(c, "x") < 2) {
    return c.Error("x", fmt::format("expected rank >= 2, found {}", c.In("x").type().ToString()));
  }
  return std::vector<TensorType>{c.In("x").type()};
}

Types InferFill(OpCall& c) {
  ANEC_RETURN_IF_ERROR(c.ExpectDType("shape", {kI32}));
  c.Default("value", Tensor::ScalarF32(0.f));
  ANEC_RETURN_IF_ERROR(c.ExpectDType("value", {kF16, kF32, kI32, kBool}));
  ANEC_RETURN_IF_ERROR(c.ExpectRank("value", 0));
  ANEC_ASSIGN_OR_RETURN(auto shape, c.Ints("shape"));
  for (int64_t d : shape) {
    if (d <= 0) return c.Error("shape", fmt::format("expected positive dims, found {}", ShapeString(shape)));
  }
  return std::vector<TensorType>{{c.In("value").type().dtype, shape}};
}

}  // namespace

void RegisterShapeOps(OpRegistry& r) {
  r.Register({"concat", Opset::kIOS16,
              {{"values", true, false, ParamKind::kTuple}, ReqConst("axis"), OptConst("interleave")},
              InferConcat});
  r.Register({"split", Opset::kIOS16,
              {Req("x"), OptConst("num_splits"), OptConst("split_sizes"), ReqConst("axis")},
              InferSplit});
  std::vector<ParamSpec> slice = {Req("x"), Req("begin"), Req("end"), OptConst("stride"),
                                  OptConst("begin_mask"), OptConst("end_mask"),
                                  OptConst("squeeze_mask")};
  r.Register({"slice_by_index", Opset::kIOS16, slice, InferSliceByIndex});
  std::vector<ParamSpec> update = slice;
  update.insert(update.begin() + 1, Req("update"));
  r.Register({"slice_update", Opset::kIOS18, update, InferSliceUpdate});
  r.Register({"slice_by_size", Opset::kIOS16, {Req("x"), Req("begin"), Req("size")}, InferSliceBySize});
  r.Register({"transpose", Opset::kIOS16, {Req("x"), ReqConst("perm")}, InferTranspose});
  r.Register({"reshape", Opset::kIOS16, {Req("x"), Req("shape")}, InferReshape});
  r.Register({"expand_dims", Opset::kIOS16, {Req("x"), ReqConst("axes")}, InferExpandDims});
  r.Register({"squeeze", Opset::kIOS16, {Req("x"), OptConst("axes")}, InferSqueeze});
  r.Register({"gather", Opset::kIOS16,
              {Req("x"), Req("indices"), OptConst("axis"), OptConst("batch_dims"),
               OptConst("validate_indices")},
              InferGather});
  r.Register({"band_part", Opset::kIOS16, {Req("x"), OptConst("lower"), OptConst("upper")}, InferBandPart});
  r.Register({"fill", Opset::kIOS16, {Req("shape"), OptConst("value")}, InferFill});
}

}  // namespace anec::mil
