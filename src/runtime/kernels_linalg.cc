// linear, matmul, conv and scaled_dot_product_attention: fp32 accumulation, weight paths read
// fp16 / LUT weights in stored form (weight_matrix.h) and run on the thread pool.
#include <algorithm>
#include <cmath>
#include <functional>

#include "runtime/dot_rows.h"
#include "runtime/elementwise.h"
#include "runtime/kernels.h"
#include "runtime/lut_weight.h"
#include "runtime/op_context.h"
#include "runtime/packed_gemm.h"
#include "runtime/row_kernels.h"
#include "runtime/weight_matrix.h"

namespace anec::runtime {
namespace {

DType OutType(const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype()) return a.dtype();
  return (a.dtype() == DType::kFloat32 || b.dtype() == DType::kFloat32) ? DType::kFloat32
                                                                         : a.dtype();
}

Status CheckFloat(const Tensor& t, std::string_view what) {
  if (!IsFloat(t.dtype())) return InvalidArgument("{} must be fp16 or fp32, got {}", what, t.TypeString());
  return Status::Ok();
}

Status Linear(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(Tensor w, ctx.RawInput("weight"));
  ANEC_ASSIGN_OR_RETURN(Tensor bias, ctx.OptionalInput("bias"));
  ANEC_RETURN_IF_ERROR(CheckFloat(x, "x"));
  if (w.rank() != 2 || x.rank() < 1 || x.dim(x.rank() - 1) != w.dim(1)) {
    return InvalidArgument("linear: x {} and weight {} do not match (weight must be [out, in])",
                           x.TypeString(), w.TypeString());
  }
  const int64_t dout = w.dim(0), din = w.dim(1);
  if (bias.defined() && bias.size() != dout) {
    return InvalidArgument("linear: bias {} must have {} values", bias.TypeString(), dout);
  }
  ANEC_ASSIGN_OR_RETURN(WeightMatrix wm, WeightMatrix::Create(w, dout, din));
  const FloatBuffer xf = NewFloats(x.size());
  ToFloatsPooled(x, xf.get(), ctx.pool());
  std::vector<float> bf = bias.defined() ? bias.ToFloats() : std::vector<float>();
  const int64_t m = din == 0 ? 0 : x.size() / din;
  const FloatBuffer out = NewFloats(m * dout);  // GemmXWt assigns every output
  GemmXWt(xf.get(), m, wm, bf.empty() ? nullptr : bf.data(), out.get(), ctx.pool());
  Shape shape = x.shape();
  shape.back() = dout;
  ctx.AddOutput(FromFloatsPooled(x.dtype(), std::move(shape), out.get(), ctx.pool()));
  return Status::Ok();
}

// Batched matmul with numpy broadcasting of the leading dims.
Status MatMul(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(Tensor y_raw, ctx.RawInput("y"));
  ANEC_ASSIGN_OR_RETURN(bool tx, ctx.BoolOr("transpose_x", false));
  ANEC_ASSIGN_OR_RETURN(bool ty, ctx.BoolOr("transpose_y", false));
  ANEC_RETURN_IF_ERROR(CheckFloat(x, "x"));
  // Constant [N, K] weight on the right (x @ W^T): the weight path.
  if (y_raw.rank() == 2 && ty && x.rank() >= 2 && !tx && x.dim(x.rank() - 1) == y_raw.dim(1) &&
      (y_raw.is_lut() || y_raw.dtype() == DType::kFloat16 || y_raw.dtype() == DType::kFloat32)) {
    auto wm = WeightMatrix::Create(y_raw, y_raw.dim(0), y_raw.dim(1));
    if (wm.ok()) {
      const FloatBuffer xf = NewFloats(x.size());
      ToFloatsPooled(x, xf.get(), ctx.pool());
      const int64_t k = y_raw.dim(1), n = y_raw.dim(0), m = x.size() / k;
      const FloatBuffer out = NewFloats(m * n);  // GemmXWt assigns every output
      GemmXWt(xf.get(), m, *wm, nullptr, out.get(), ctx.pool());
      Shape shape = x.shape();
      shape.back() = n;
      ctx.AddOutput(FromFloatsPooled(OutType(x, y_raw), std::move(shape), out.get(), ctx.pool()));
      return Status::Ok();
    }
  }
  Tensor y = y_raw.is_lut() ? y_raw.lut()->Dense() : y_raw;
  ANEC_RETURN_IF_ERROR(CheckFloat(y, "y"));
  Shape xs = x.shape(), ys = y.shape();
  bool x_vec = xs.size() == 1, y_vec = ys.size() == 1;
  if (x_vec) xs.insert(xs.begin(), 1);
  if (y_vec) ys.push_back(1);
  if (xs.size() < 2 || ys.size() < 2) return InvalidArgument("matmul of scalars");
  int64_t m = xs[xs.size() - 2], kx = xs.back();
  if (tx) std::swap(m, kx);
  int64_t ky = ys[ys.size() - 2], n = ys.back();
  if (ty) std::swap(ky, n);
  if (kx != ky) {
    return InvalidArgument("matmul: inner dims differ: x {} (transpose_x={}) y {} (transpose_y={})",
                           x.TypeString(), tx, y.TypeString(), ty);
  }
  Shape xb(xs.begin(), xs.end() - 2), yb(ys.begin(), ys.end() - 2);
  ANEC_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(xb, yb));
  const int64_t nb = NumElements(batch), k = kx;
  // Per-batch offsets into x and y with broadcasting.
  auto batch_offsets = [&](const Shape& b, int64_t mat) {
    std::vector<int64_t> offs(static_cast<size_t>(nb));
    std::vector<int64_t> st = Strides(b);
    std::vector<int64_t> coord(batch.size(), 0);
    for (int64_t i = 0; i < nb; ++i) {
      int64_t off = 0;
      for (size_t d = 0; d < b.size(); ++d) {
        size_t bd = d + batch.size() - b.size();
        if (b[d] != 1) off += coord[bd] * st[d];
      }
      offs[static_cast<size_t>(i)] = off * mat;
      for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
        if (++coord[static_cast<size_t>(d)] < batch[static_cast<size_t>(d)]) break;
        coord[static_cast<size_t>(d)] = 0;
      }
    }
    return offs;
  };
  std::vector<int64_t> xo = batch_offsets(xb, m * k), yo = batch_offsets(yb, k * n);
  // An fp16 y (the KV cache) is read as stored, converted in registers: the masked positions'
  // rows are then never touched (weights @ V skips zero weights). An fp32 y is read in place.
  const bool y_half = y.dtype() == DType::kFloat16;
  const FloatBuffer y_converted = y_half || y.dtype() == DType::kFloat32 ? nullptr : NewFloats(y.size());
  if (y_converted) ToFloatsPooled(y, y_converted.get(), ctx.pool());
  const float* yf = y_converted ? y_converted.get() : y_half ? nullptr : y.data<float>();
  const Half* yh = y_half ? y.data<Half>() : nullptr;
  // x read along k contiguously: xr is [.., m, k] (x itself unless transpose_x).
  const int64_t x_mats = m * k == 0 ? 0 : x.size() / (m * k);
  const FloatBuffer xf = NewFloats(x.size());
  ToFloatsPooled(x, xf.get(), ctx.pool());
  FloatBuffer x_transposed;
  if (tx) {
    x_transposed = NewFloats(x.size());
    for (int64_t b = 0; b < x_mats; ++b) {
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < k; ++j) x_transposed[static_cast<size_t>((b * m + i) * k + j)] = xf[static_cast<size_t>((b * k + j) * m + i)];
      }
    }
  }
  const float* xr = tx ? x_transposed.get() : xf.get();
  // Every output is assigned, except by weights @ V below, which adds rows into zeros.
  const FloatBuffer out = NewFloats(nb * m * n);
  if (!ty) std::fill(out.get(), out.get() + nb * m * n, 0.0f);
  std::function<void(int64_t, int64_t)> work;
  if (ty && m >= kPackedGemmMinRows && PackedGemmAvailable()) {
    // Several query rows against y stored [n, k] (q k^T in prefill): the packed GEMM per batch
    // entry, its panels of y rows in parallel (packed_gemm.h).
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t yb0 = yo[static_cast<size_t>(b)];
      DecodeRowFn row = [&](int64_t j, float* dst) {
        if (y_half) {
          HalfToFloatN(yh + yb0 + j * k, dst, k);
        } else {
          std::copy_n(yf + yb0 + j * k, k, dst);
        }
      };
      PackedGemm(xr + xo[static_cast<size_t>(b)], m, n, k, row, nullptr, out.get() + b * m * n, m * n * k > 65536 ? ctx.pool() : nullptr);
    }
  } else if (ty) {
    // y stored [n, k]: each output is a dot of two contiguous rows.
    work = [&](int64_t begin, int64_t end) {
      for (int64_t bm = begin; bm < end; ++bm) {
        int64_t b = bm / m, i = bm % m;
        const float* xrow = xr + xo[static_cast<size_t>(b)] + i * k;
        const int64_t yb0 = yo[static_cast<size_t>(b)];
        float* orow = out.get() + (b * m + i) * n;
        if (y_half) {
          DotF16Rows(xrow, yh + yb0, k, n, k, orow);  // 16 keys per transposing reduction
        } else {
          for (int64_t j = 0; j < n; ++j) orow[j] = Dot(xrow, yf + yb0 + j * k, k);
        }
      }
    };
  } else {
    // y stored [k, n] (attention weights @ V): out row += x[i, kk] * y row kk, read in place
    // (no transposed copy); zero weights (masked positions) are skipped.
    work = [&](int64_t begin, int64_t end) {
      for (int64_t bm = begin; bm < end; ++bm) {
        int64_t b = bm / m, i = bm % m;
        const float* xrow = xr + xo[static_cast<size_t>(b)] + i * k;
        float* orow = out.get() + (b * m + i) * n;
        if (y_half) {  // the output row in registers across y's rows (dot_rows.h)
          AxpyF16Rows(xrow, k, yh + yo[static_cast<size_t>(b)], n, orow, n);
          continue;
        }
        for (int64_t kk = 0; kk < k; ++kk) {
          const float a = xrow[kk];
          if (a == 0.0f) continue;
          const float* yrow = yf + yo[static_cast<size_t>(b)] + kk * n;
          for (int64_t j = 0; j < n; ++j) orow[j] += a * yrow[j];
        }
      }
    };
  }
  if (!work) {
    // The packed GEMM ran above.
  } else if (ctx.pool() && nb * m * n * k > 65536) {
    ctx.pool()->ParallelFor(nb * m, 1, work);
  } else {
    work(0, nb * m);
  }
  Shape shape = batch;
  if (!x_vec) shape.push_back(m);
  if (!y_vec) shape.push_back(n);
  ctx.AddOutput(FromFloatsPooled(OutType(x, y), std::move(shape), out.get(), ctx.pool()));
  return Status::Ok();
}

// softmax(q k^T / sqrt(E) + mask) v over the last two dims; leading dims broadcast.
Status ScaledDotProductAttention(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor q, ctx.Input("query"));
  ANEC_ASSIGN_OR_RETURN(Tensor kt, ctx.Input("key"));
  ANEC_ASSIGN_OR_RETURN(Tensor v, ctx.Input("value"));
  ANEC_ASSIGN_OR_RETURN(Tensor mask, ctx.OptionalInput("attn_mask"));
  if (q.rank() < 3 || kt.rank() != q.rank() || v.rank() != q.rank()) {
    return InvalidArgument("query {}, key {}, value {} must have the same rank >= 3",
                           q.TypeString(), kt.TypeString(), v.TypeString());
  }
  const int64_t r = q.rank();
  const int64_t L = q.dim(r - 2), E = q.dim(r - 1), S = kt.dim(r - 2), Ev = v.dim(r - 1);
  if (kt.dim(r - 1) != E || v.dim(r - 2) != S) {
    return InvalidArgument("key {} / value {} do not match query {}", kt.TypeString(),
                           v.TypeString(), q.TypeString());
  }
  Shape qb(q.shape().begin(), q.shape().end() - 2), kb(kt.shape().begin(), kt.shape().end() - 2),
      vb(v.shape().begin(), v.shape().end() - 2);
  ANEC_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(qb, kb));
  ANEC_ASSIGN_OR_RETURN(batch, BroadcastShapes(batch, vb));
  Shape full = batch;
  full.push_back(L);
  full.push_back(S);
  if (mask.defined()) { ANEC_ASSIGN_OR_RETURN(Shape ms, BroadcastShapes(full, mask.shape())); if (ms != full) return InvalidArgument("attn_mask {} does not broadcast to {}", mask.TypeString(), ShapeString(full)); }
  const int64_t nb = NumElements(batch);
  // Element offset of batch b in a tensor whose leading dims `lead` broadcast to `batch`.
  auto offset_of = [&](const Shape& lead, int64_t b, int64_t mat) {
    std::vector<int64_t> st = Strides(lead);
    int64_t off = 0;
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
      int64_t c = b % batch[static_cast<size_t>(d)];
      b /= batch[static_cast<size_t>(d)];
      int64_t ld = d - static_cast<int64_t>(batch.size() - lead.size());
      if (ld >= 0 && lead[static_cast<size_t>(ld)] != 1) off += c * st[static_cast<size_t>(ld)];
    }
    return off * mat;
  };
  std::vector<float> qf = q.ToFloats(), kf = kt.ToFloats(), vf = v.ToFloats();
  std::vector<float> mf = mask.defined() ? mask.ToFloats() : std::vector<float>();
  const bool bool_mask = mask.defined() && mask.dtype() == DType::kBool;
  std::vector<int64_t> mstrides;
  if (mask.defined()) {
    std::vector<int64_t> st = Strides(mask.shape());
    mstrides.assign(full.size(), 0);
    for (size_t d = 0; d < mask.shape().size(); ++d) {
      if (mask.shape()[d] != 1) mstrides[d + full.size() - mask.shape().size()] = st[d];
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(E));
  std::vector<float> out(static_cast<size_t>(nb * L * Ev));
  auto work = [&](int64_t begin, int64_t end) {
    std::vector<float> w(static_cast<size_t>(S));
    for (int64_t bl = begin; bl < end; ++bl) {
      int64_t b = bl / L, i = bl % L;
      const float* qrow = qf.data() + offset_of(qb, b, L * E) + i * E;
      const float* kmat = kf.data() + offset_of(kb, b, S * E);
      const float* vmat = vf.data() + offset_of(vb, b, S * Ev);
      int64_t moff = 0;
      if (mask.defined()) {
        int64_t rem = b;
        for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
          moff += (rem % batch[static_cast<size_t>(d)]) * mstrides[static_cast<size_t>(d)];
          rem /= batch[static_cast<size_t>(d)];
        }
        moff += i * mstrides[full.size() - 2];
      }
      float mx = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        float s = Dot(qrow, kmat + j * E, E) * scale;
        if (mask.defined()) {
          float mv = mf[static_cast<size_t>(moff + j * mstrides[full.size() - 1])];
          s = bool_mask ? (mv != 0 ? s : -INFINITY) : s + mv;
        }
        w[static_cast<size_t>(j)] = s;
        mx = std::max(mx, s);
      }
      float sum = 0;
      for (float& s : w) {
        s = mx == -INFINITY ? 0.0f : std::exp(s - mx);
        sum += s;
      }
      float* orow = out.data() + (b * L + i) * Ev;
      for (int64_t j = 0; j < S; ++j) {
        float p = sum > 0 ? w[static_cast<size_t>(j)] / sum : 0.0f;
        if (p == 0.0f) continue;
        const float* vrow = vmat + j * Ev;
        for (int64_t e = 0; e < Ev; ++e) orow[e] += p * vrow[e];
      }
    }
  };
  if (ctx.pool() && nb * L * S * E > 65536) {
    ctx.pool()->ParallelFor(nb * L, 1, work);
  } else {
    work(0, nb * L);
  }
  Shape shape = batch;
  shape.push_back(L);
  shape.push_back(Ev);
  ctx.AddOutput(Tensor::FromFloats(q.dtype(), shape, out));
  return Status::Ok();
}

}  // namespace

void RegisterLinalgKernels(KernelTable* t) {
  (*t)["linear"] = Linear;
  (*t)["matmul"] = MatMul;
  (*t)["scaled_dot_product_attention"] = ScaledDotProductAttention;
}

}  // namespace anec::runtime
