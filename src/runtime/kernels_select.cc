// Kernels that pick or make values rather than move a whole tensor: gather (rows of a LUT
// table decoded alone), band_part, select, fill, tile. Kept apart from kernels_shape.cc.
#include <algorithm>
#include <cstring>

#include "runtime/kernels.h"
#include "runtime/lut_weight.h"
#include "runtime/op_context.h"

namespace anec::runtime {
namespace {

Status Gather(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.RawInput("x"));
  ANEC_ASSIGN_OR_RETURN(Tensor indices, ctx.Input("indices"));
  ANEC_ASSIGN_OR_RETURN(int64_t axis, ctx.IntOr("axis", 0));
  ANEC_ASSIGN_OR_RETURN(int64_t batch_dims, ctx.IntOr("batch_dims", 0));
  if (batch_dims != 0) return Unsupported("gather with batch_dims {}", batch_dims);
  ANEC_ASSIGN_OR_RETURN(axis, NormalizeAxis(axis, x.rank()));
  const int64_t len = x.dim(axis);
  std::vector<int64_t> idx = indices.ToInts();
  for (int64_t& i : idx) {
    if (i < 0) i += len;
    if (i < 0 || i >= len) {
      return InvalidArgument("gather index {} is out of range for axis {} of {}", i, axis,
                             x.TypeString());
    }
  }
  Shape out_shape(x.shape().begin(), x.shape().begin() + axis);
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), x.shape().begin() + axis + 1, x.shape().end());
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= x.dim(k);
  for (int64_t k = axis + 1; k < x.rank(); ++k) inner *= x.dim(k);
  if (x.is_lut() && axis == 0 && x.lut()->RowDecodable()) {
    // Embedding lookup on a palettized table: decode only the rows asked for.
    std::vector<float> rows(idx.size() * static_cast<size_t>(inner));
    for (size_t i = 0; i < idx.size(); ++i) x.lut()->DecodeRow(idx[i], rows.data() + i * static_cast<size_t>(inner));
    ctx.AddOutput(Tensor::FromFloats(x.dtype(), out_shape, rows));
    return Status::Ok();
  }
  if (x.is_lut()) x = x.lut()->Dense();
  Tensor out = Tensor::Uninitialized(x.dtype(), out_shape);
  const size_t es = ElementSize(x.dtype());
  const int64_t m = static_cast<int64_t>(idx.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(out.mutable_bytes() + ((o * m + i) * inner) * es,
                  x.bytes() + ((o * len + idx[static_cast<size_t>(i)]) * inner) * es,
                  static_cast<size_t>(inner) * es);
    }
  }
  ctx.AddOutput(std::move(out));
  return Status::Ok();
}

// Keeps x[..., i, j] where (lower < 0 or i - j <= lower) and (upper < 0 or j - i <= upper).
Status BandPart(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(int64_t lower, ctx.IntOr("lower", -1));
  ANEC_ASSIGN_OR_RETURN(int64_t upper, ctx.IntOr("upper", -1));
  if (x.rank() < 2) return InvalidArgument("band_part needs rank >= 2, got {}", x.TypeString());
  Tensor out = x.Clone();
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const size_t es = ElementSize(x.dtype());
  const int64_t mats = rows * cols == 0 ? 0 : x.size() / (rows * cols);
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        bool keep = (lower < 0 || i - j <= lower) && (upper < 0 || j - i <= upper);
        if (!keep) std::memset(out.mutable_bytes() + ((m * rows + i) * cols + j) * es, 0, es);
      }
    }
  }
  ctx.AddOutput(std::move(out));
  return Status::Ok();
}

Status Select(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor cond, ctx.Input("cond"));
  ANEC_ASSIGN_OR_RETURN(Tensor a, ctx.Input("a"));
  ANEC_ASSIGN_OR_RETURN(Tensor b, ctx.Input("b"));
  if (a.dtype() != b.dtype()) {
    return InvalidArgument("select: a {} and b {} differ in dtype", a.TypeString(), b.TypeString());
  }
  ANEC_ASSIGN_OR_RETURN(Shape ab, BroadcastShapes(a.shape(), b.shape()));
  ANEC_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(cond.shape(), ab));
  Tensor out = Tensor::Uninitialized(a.dtype(), shape);
  const size_t es = ElementSize(a.dtype());
  const size_t r = shape.size();
  auto bstrides = [&](const Shape& s) {
    std::vector<int64_t> st = Strides(s), out_st(r, 0);
    for (size_t k = 0; k < s.size(); ++k) {
      if (s[k] != 1) out_st[k + r - s.size()] = st[k];
    }
    return out_st;
  };
  std::vector<int64_t> sc = bstrides(cond.shape()), sa = bstrides(a.shape()), sb = bstrides(b.shape());
  std::vector<int64_t> coord(r, 0);
  for (int64_t o = 0; o < NumElements(shape); ++o) {
    int64_t ic = 0, ia = 0, ib = 0;
    for (size_t k = 0; k < r; ++k) {
      ic += coord[k] * sc[k];
      ia += coord[k] * sa[k];
      ib += coord[k] * sb[k];
    }
    bool c = cond.FloatAt(ic) != 0.0f;
    std::memcpy(out.mutable_bytes() + o * es, (c ? a.bytes() + ia * es : b.bytes() + ib * es), es);
    for (int64_t k = static_cast<int64_t>(r) - 1; k >= 0; --k) {
      if (++coord[static_cast<size_t>(k)] < shape[static_cast<size_t>(k)]) break;
      coord[static_cast<size_t>(k)] = 0;
    }
  }
  ctx.AddOutput(std::move(out));
  return Status::Ok();
}

Status Fill(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ctx.Ints("shape"));
  Tensor value;
  if (ctx.Has("value")) {
    ANEC_ASSIGN_OR_RETURN(value, ctx.Input("value"));
  } else {
    value = Tensor::FromFloats(DType::kFloat32, {}, std::vector<float>{0.0f});
  }
  if (value.size() != 1) return InvalidArgument("fill value must be a scalar, got {}", value.TypeString());
  Tensor out = Tensor::Uninitialized(value.dtype(), shape);
  const size_t es = ElementSize(value.dtype());
  for (int64_t i = 0; i < out.size(); ++i) std::memcpy(out.mutable_bytes() + i * es, value.bytes(), es);
  ctx.AddOutput(std::move(out));
  return Status::Ok();
}

Status Tile(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> reps, ctx.Ints("reps"));
  if (static_cast<int64_t>(reps.size()) != x.rank()) {
    return InvalidArgument("reps has {} values for x {}", reps.size(), x.TypeString());
  }
  Shape out_shape;
  for (int64_t k = 0; k < x.rank(); ++k) out_shape.push_back(x.dim(k) * reps[static_cast<size_t>(k)]);
  Tensor out = Tensor::Uninitialized(x.dtype(), out_shape);
  const size_t es = ElementSize(x.dtype());
  std::vector<int64_t> xs = Strides(x.shape());
  std::vector<int64_t> coord(out_shape.size(), 0);
  for (int64_t o = 0; o < out.size(); ++o) {
    int64_t i = 0;
    for (size_t k = 0; k < coord.size(); ++k) i += (coord[k] % x.shape()[k]) * xs[k];
    std::memcpy(out.mutable_bytes() + o * es, x.bytes() + i * es, es);
    for (int64_t k = static_cast<int64_t>(coord.size()) - 1; k >= 0; --k) {
      if (++coord[static_cast<size_t>(k)] < out_shape[static_cast<size_t>(k)]) break;
      coord[static_cast<size_t>(k)] = 0;
    }
  }
  ctx.AddOutput(std::move(out));
  return Status::Ok();
}

}  // namespace

void RegisterSelectKernels(KernelTable* t) {
  (*t)["gather"] = Gather;
  (*t)["band_part"] = BandPart;
  (*t)["select"] = Select;
  (*t)["fill"] = Fill;
  (*t)["tile"] = Tile;
}

}  // namespace anec::runtime
