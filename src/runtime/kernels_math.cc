// Elementwise, reduction and normalization kernels. Floats are computed in fp32 and stored in
// the output dtype (fp16 rounding happens once per op, as on the device); integers in int64.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "runtime/elementwise.h"
#include "runtime/elementwise_simd.h"
#include "runtime/kernels.h"
#include "runtime/op_context.h"
#include "runtime/row_reduce.h"
#include "runtime/vector_exp.h"

namespace anec::runtime {
namespace {

// Output dtype of a binary arithmetic op on a and b.
DType Promote(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::kFloat32 || b == DType::kFloat32) return DType::kFloat32;
  if (IsFloat(a)) return a;
  if (IsFloat(b)) return b;
  return DType::kInt32;
}

// Calls fn(out_index, a_index, b_index) for every element of the broadcast shape `out`.
template <typename Fn>
void ForEachBroadcast(const Shape& out, const Shape& a, const Shape& b, Fn fn) {
  const size_t r = out.size();
  std::vector<int64_t> sa(r, 0), sb(r, 0);
  std::vector<int64_t> as = Strides(a), bs = Strides(b);
  for (size_t i = 0; i < r; ++i) {
    size_t ia = i + a.size(), ib = i + b.size();
    if (ia >= r && a[ia - r] != 1) sa[i] = as[ia - r];
    if (ib >= r && b[ib - r] != 1) sb[i] = bs[ib - r];
  }
  const int64_t n = NumElements(out);
  if (n == 0) return;
  const int64_t inner = r == 0 ? 1 : out[r - 1];
  const int64_t ia_step = r == 0 ? 0 : sa[r - 1], ib_step = r == 0 ? 0 : sb[r - 1];
  std::vector<int64_t> coord(r, 0);
  int64_t o = 0;
  while (o < n) {
    int64_t ia = 0, ib = 0;
    for (size_t i = 0; i + 1 < r; ++i) {
      ia += coord[i] * sa[i];
      ib += coord[i] * sb[i];
    }
    for (int64_t k = 0; k < inner; ++k) fn(o + k, ia + k * ia_step, ib + k * ib_step);
    o += inner;
    for (int64_t i = static_cast<int64_t>(r) - 2; i >= 0; --i) {
      if (++coord[static_cast<size_t>(i)] < out[static_cast<size_t>(i)]) break;
      coord[static_cast<size_t>(i)] = 0;
    }
  }
}

enum class BinOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kFloorDiv, kMod,
                   kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr, kXor };

bool IsCompare(BinOp op) { return op >= BinOp::kEq; }

template <typename T>
T Apply(BinOp op, T a, T b) {
  switch (op) {
    case BinOp::kAdd: return a + b;
    case BinOp::kSub: return a - b;
    case BinOp::kMul: return a * b;
    case BinOp::kDiv: return b == 0 && !std::is_floating_point_v<T> ? 0 : a / b;
    case BinOp::kPow: return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case BinOp::kMax: return std::max(a, b);
    case BinOp::kMin: return std::min(a, b);
    case BinOp::kFloorDiv:
      return b == 0 ? 0 : static_cast<T>(std::floor(static_cast<double>(a) / static_cast<double>(b)));
    case BinOp::kMod: {
      if (b == 0) return 0;
      double m = std::fmod(static_cast<double>(a), static_cast<double>(b));
      if (m != 0 && ((m < 0) != (b < 0))) m += static_cast<double>(b);
      return static_cast<T>(m);
    }
    case BinOp::kEq: return a == b;
    case BinOp::kNe: return a != b;
    case BinOp::kLt: return a < b;
    case BinOp::kLe: return a <= b;
    case BinOp::kGt: return a > b;
    case BinOp::kGe: return a >= b;
    case BinOp::kAnd: return (a != 0) && (b != 0);
    case BinOp::kOr: return (a != 0) || (b != 0);
    case BinOp::kXor: return (a != 0) != (b != 0);
  }
  return 0;
}

template <BinOp kOp>
Status BinaryKernel(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor a, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(Tensor b, ctx.Input("y"));
  ANEC_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(a.shape(), b.shape()));
  DType compute = Promote(a.dtype(), b.dtype());
  DType out_dtype = IsCompare(kOp) ? DType::kBool : compute;
  if (a.dtype() == DType::kBool && b.dtype() == DType::kBool) out_dtype = DType::kBool;
  const int64_t n = NumElements(shape);
  const bool block_float = !IsCompare(kOp) && IsBlockFloat(compute) && out_dtype == compute &&
                           IsBlockFloat(a.dtype()) && IsBlockFloat(b.dtype());
  constexpr std::optional<SimdBinary> kSimd =
      kOp == BinOp::kAdd   ? std::optional(SimdBinary::kAdd)
      : kOp == BinOp::kSub ? std::optional(SimdBinary::kSub)
      : kOp == BinOp::kMul ? std::optional(SimdBinary::kMul)
      : kOp == BinOp::kDiv ? std::optional(SimdBinary::kDiv)
      : kOp == BinOp::kMax ? std::optional(SimdBinary::kMax)
      : kOp == BinOp::kMin ? std::optional(SimdBinary::kMin)
                           : std::nullopt;
  if constexpr (kSimd.has_value()) {
    Tensor out;
    if (block_float && TryMapBinarySimd(*kSimd, a, b, shape, out_dtype, ctx.pool(), &out)) {
      ctx.AddOutput(std::move(out));
      return Status::Ok();
    }
  }
  if (block_float && BlockBroadcastRepeat(a.shape(), shape).has_value() &&
      BlockBroadcastRepeat(b.shape(), shape).has_value()) {
    ctx.AddOutput(MapBinary(a, b, shape, out_dtype, ctx.pool(),
                            [](float x, float y) { return Apply<float>(kOp, x, y); }));
    return Status::Ok();
  }
  if (IsFloat(compute)) {
    std::vector<float> av = a.ToFloats(), bv = b.ToFloats(), out(static_cast<size_t>(n));
    ForEachBroadcast(shape, a.shape(), b.shape(), [&](int64_t o, int64_t i, int64_t j) {
      out[static_cast<size_t>(o)] = Apply<float>(kOp, av[static_cast<size_t>(i)], bv[static_cast<size_t>(j)]);
    });
    ctx.AddOutput(Tensor::FromFloats(out_dtype, shape, out));
  } else {
    std::vector<int64_t> av = a.ToInts(), bv = b.ToInts(), out(static_cast<size_t>(n));
    ForEachBroadcast(shape, a.shape(), b.shape(), [&](int64_t o, int64_t i, int64_t j) {
      out[static_cast<size_t>(o)] = Apply<int64_t>(kOp, av[static_cast<size_t>(i)], bv[static_cast<size_t>(j)]);
    });
    ctx.AddOutput(Tensor::FromInts(out_dtype, shape, out));
  }
  return Status::Ok();
}

float Erf(float x) { return std::erf(x); }

enum class UnOp { kRsqrt, kSqrt, kExp, kSigmoid, kSilu, kTanh, kCos, kSin, kAbs, kLog, kSquare,
                  kRelu, kErf, kFloor, kCeil, kRound, kSign, kInverse, kNot };

template <UnOp kOp>
Status UnaryKernel(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  float eps = 0.0f;
  if constexpr (kOp == UnOp::kRsqrt || kOp == UnOp::kInverse) {
    ANEC_ASSIGN_OR_RETURN(eps, ctx.FloatOr("epsilon", 1e-12f));
  } else if constexpr (kOp == UnOp::kLog) {
    ANEC_ASSIGN_OR_RETURN(eps, ctx.FloatOr("epsilon", 1e-45f));
  }
  auto apply = [eps](float f) {
    switch (kOp) {
      case UnOp::kRsqrt: f = 1.0f / std::sqrt(f + eps); break;
      case UnOp::kSqrt: f = std::sqrt(f); break;
      case UnOp::kExp:
      case UnOp::kSigmoid:
      case UnOp::kSilu:
        break;  // apply_block, below
      case UnOp::kTanh: f = std::tanh(f); break;
      case UnOp::kCos: f = std::cos(f); break;
      case UnOp::kSin: f = std::sin(f); break;
      case UnOp::kAbs: f = std::fabs(f); break;
      case UnOp::kLog: f = std::log(f + eps); break;
      case UnOp::kSquare: f = f * f; break;
      case UnOp::kRelu: f = std::max(f, 0.0f); break;
      case UnOp::kErf: f = Erf(f); break;
      case UnOp::kFloor: f = std::floor(f); break;
      case UnOp::kCeil: f = std::ceil(f); break;
      case UnOp::kRound: f = std::nearbyint(f); break;
      case UnOp::kSign: f = static_cast<float>((f > 0) - (f < 0)); break;
      case UnOp::kInverse: f = 1.0f / (f + eps); break;
      case UnOp::kNot: f = f == 0.0f ? 1.0f : 0.0f; break;
    }
    return f;
  };
  // exp, sigmoid and silu take their exp from ExpN, several values per instruction: the same
  // fp32 values as std::exp but in vanishingly rare ties (vector_exp.h), then the same fp32
  // arithmetic as `apply`.
  constexpr bool kUsesExp = kOp == UnOp::kExp || kOp == UnOp::kSigmoid || kOp == UnOp::kSilu;
  auto apply_block = [&](float* v, int64_t len) {
    if constexpr (kOp == UnOp::kExp) {
      ExpN(v, v, len);
    } else if constexpr (kUsesExp) {
      float e[elementwise_internal::kBlock];
      for (int64_t i = 0; i < len; ++i) e[i] = -v[i];
      ExpN(e, e, len);
      for (int64_t i = 0; i < len; ++i) {
        v[i] = kOp == UnOp::kSigmoid ? 1.0f / (1.0f + e[i]) : v[i] / (1.0f + e[i]);
      }
    } else {
      for (int64_t i = 0; i < len; ++i) v[i] = apply(v[i]);
    }
  };
  if (IsBlockFloat(x.dtype())) {
    ctx.AddOutput(MapUnaryBlocks(x, ctx.pool(), apply_block));
    return Status::Ok();
  }
  std::vector<float> v = x.ToFloats();
  for (size_t i = 0; i < v.size(); i += elementwise_internal::kBlock) {
    apply_block(v.data() + i,
                std::min<int64_t>(elementwise_internal::kBlock, static_cast<int64_t>(v.size() - i)));
  }
  ctx.AddOutput(Tensor::FromFloats(x.dtype(), x.shape(), v));
  return Status::Ok();
}

Status Gelu(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::string mode, ctx.StringOr("mode", "EXACT"));
  std::vector<float> v = x.ToFloats();
  for (float& f : v) {
    if (mode == "EXACT") {
      f = 0.5f * f * (1.0f + std::erf(f / std::sqrt(2.0f)));
    } else if (mode == "TANH_APPROXIMATION") {
      const float k = std::sqrt(2.0f / 3.14159265358979f);
      f = 0.5f * f * (1.0f + std::tanh(k * (f + 0.044715f * f * f * f)));
    } else if (mode == "SIGMOID_APPROXIMATION") {
      f = f / (1.0f + std::exp(-1.702f * f));
    } else {
      return InvalidArgument("gelu mode '{}' is not EXACT, TANH_APPROXIMATION or "
                             "SIGMOID_APPROXIMATION", mode);
    }
  }
  ctx.AddOutput(Tensor::FromFloats(x.dtype(), x.shape(), v));
  return Status::Ok();
}

Status Clip(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(float lo, ctx.Float("alpha"));
  ANEC_ASSIGN_OR_RETURN(float hi, ctx.Float("beta"));
  std::vector<float> v = x.ToFloats();
  for (float& f : v) f = std::min(std::max(f, lo), hi);
  ctx.AddOutput(Tensor::FromFloats(x.dtype(), x.shape(), v));
  return Status::Ok();
}

Status Cast(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::string name, ctx.StringOr("dtype", ""));
  ANEC_ASSIGN_OR_RETURN(DType to, DTypeFromName(name));
  if (IsFloat(x.dtype())) {
    std::vector<float> v = x.ToFloats();
    if (!IsFloat(to) && to != DType::kBool) {
      for (float& f : v) f = std::trunc(f);  // float -> int truncates toward zero
    }
    ctx.AddOutput(Tensor::FromFloats(to, x.shape(), v));
  } else {
    ctx.AddOutput(Tensor::FromInts(to, x.shape(), x.ToInts()));
  }
  return Status::Ok();
}

enum class Red { kSum, kMean, kMax, kMin, kProd, kArgMax, kArgMin };

// One step of a reduction that keeps no index (sum, mean, product, max, min).
template <Red kOp>
inline double Reduce(double a, float f) {
  switch (kOp) {
    case Red::kSum:
    case Red::kMean:
      return a + f;
    case Red::kProd:
      return a * f;
    case Red::kMax:
      return std::max(a, double{f});
    case Red::kMin:
      return std::min(a, double{f});
    default:
      return a;  // arg reductions keep an index: ReduceKernel's combine
  }
}

template <Red kOp>
Status ReduceKernel(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(bool keep, ctx.BoolOr("keep_dims", false));
  const int64_t rank = x.rank();
  std::vector<bool> reduce(static_cast<size_t>(rank), false);
  if constexpr (kOp == Red::kArgMax || kOp == Red::kArgMin) {
    ANEC_ASSIGN_OR_RETURN(int64_t axis, ctx.IntOr("axis", -1));
    ANEC_ASSIGN_OR_RETURN(axis, NormalizeAxis(axis, rank));
    reduce[static_cast<size_t>(axis)] = true;
  } else {
    ANEC_ASSIGN_OR_RETURN(auto axes, ctx.OptionalInts("axes"));
    if (!axes.has_value()) {
      std::fill(reduce.begin(), reduce.end(), true);
    } else {
      for (int64_t a : *axes) {
        ANEC_ASSIGN_OR_RETURN(int64_t na, NormalizeAxis(a, rank));
        reduce[static_cast<size_t>(na)] = true;
      }
    }
  }
  Shape out_shape, kept_shape;
  for (int64_t k = 0; k < rank; ++k) {
    bool r = reduce[static_cast<size_t>(k)];
    kept_shape.push_back(r ? 1 : x.dim(k));
    if (!r) out_shape.push_back(x.dim(k));
    else if (keep) out_shape.push_back(1);
  }
  const int64_t m = NumElements(kept_shape);
  const int64_t count = m == 0 ? 0 : x.size() / m;
  std::vector<double> acc(static_cast<size_t>(m));
  std::vector<int64_t> arg(static_cast<size_t>(m), 0);
  const double init = kOp == Red::kMax || kOp == Red::kArgMax ? -INFINITY
                      : kOp == Red::kMin || kOp == Red::kArgMin ? INFINITY
                      : kOp == Red::kProd ? 1.0 : 0.0;
  std::fill(acc.begin(), acc.end(), init);
  auto combine = [&](float f, int64_t o, int64_t along) {
    double& a = acc[static_cast<size_t>(o)];
    switch (kOp) {
      case Red::kArgMax: if (f > a) { a = f; arg[static_cast<size_t>(o)] = along; } break;
      case Red::kArgMin: if (f < a) { a = f; arg[static_cast<size_t>(o)] = along; } break;
      default: a = Reduce<kOp>(a, f); break;
    }
  };
  // Reduced axes trailing (axes of size 1 aside), as for softmax and norms: output o reduces
  // elements [o * count, (o + 1) * count). Sums, means, maxima and minima of fp16 / fp32 take
  // ReduceRows's order; the other cases add in order, as the general walk below does.
  bool trailing = true, seen_reduced = false, trailing_done = false;
  for (int64_t k = 0; k < rank; ++k) {
    if (x.dim(k) == 1) continue;
    if (reduce[static_cast<size_t>(k)]) seen_reduced = true;
    else if (seen_reduced) trailing = false;
  }
  constexpr bool kByLanes = kOp == Red::kSum || kOp == Red::kMean || kOp == Red::kMax ||
                            kOp == Red::kMin;
  if (trailing && kByLanes && IsBlockFloat(x.dtype()) && count > 0) {
    // Read in place, 16 accumulators per row (row_reduce.h), rows split over the pool.
    constexpr RowReduction kRow = kOp == Red::kMax   ? RowReduction::kMax
                                  : kOp == Red::kMin ? RowReduction::kMin
                                                     : RowReduction::kSum;
    auto outputs = [&](int64_t begin, int64_t end) {
      ReduceRows(x, count, kRow, begin, end, acc.data() + begin);
    };
    if (ctx.pool() != nullptr && x.size() >= 32768) {
      ctx.pool()->ParallelFor(m, 8, outputs);
    } else {
      outputs(0, m);
    }
    trailing_done = true;
  }
  std::vector<int64_t> ks = Strides(kept_shape);
  std::vector<int64_t> coord(static_cast<size_t>(rank), 0);
  std::vector<float> v = trailing_done ? std::vector<float>() : x.ToFloats();
  for (int64_t o = 0; trailing && !trailing_done && o < m; ++o) {
    for (int64_t j = 0; j < count; ++j) combine(v[static_cast<size_t>(o * count + j)], o, j);
  }
  for (int64_t i = 0; !trailing && i < x.size(); ++i) {
    int64_t o = 0, along = 0;
    for (int64_t k = 0; k < rank; ++k) {
      size_t ku = static_cast<size_t>(k);
      if (!reduce[ku]) o += coord[ku] * ks[ku];
      else along = coord[ku];
    }
    combine(v[static_cast<size_t>(i)], o, along);
    for (int64_t k = rank - 1; k >= 0; --k) {
      if (++coord[static_cast<size_t>(k)] < x.dim(k)) break;
      coord[static_cast<size_t>(k)] = 0;
    }
  }
  if constexpr (kOp == Red::kArgMax || kOp == Red::kArgMin) {
    ctx.AddOutput(Tensor::FromInts(DType::kInt32, out_shape, arg));
  } else {
    std::vector<float> out(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
      double a = acc[static_cast<size_t>(i)];
      out[static_cast<size_t>(i)] = static_cast<float>(kOp == Red::kMean ? a / static_cast<double>(count) : a);
    }
    ctx.AddOutput(Tensor::FromFloats(x.dtype(), out_shape, out));
  }
  return Status::Ok();
}

Status Softmax(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(int64_t axis, ctx.IntOr("axis", -1));
  ANEC_ASSIGN_OR_RETURN(axis, NormalizeAxis(axis, x.rank()));
  int64_t len = x.dim(axis), inner = 1;
  for (int64_t k = axis + 1; k < x.rank(); ++k) inner *= x.dim(k);
  int64_t outer = len * inner == 0 ? 0 : x.size() / (len * inner);
  std::vector<float> v = x.ToFloats();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      float* p = v.data() + o * len * inner + i;
      float mx = -INFINITY;
      for (int64_t k = 0; k < len; ++k) mx = std::max(mx, p[k * inner]);
      float sum = 0;
      for (int64_t k = 0; k < len; ++k) {
        float e = mx == -INFINITY ? 0.0f : std::exp(p[k * inner] - mx);
        p[k * inner] = e;
        sum += e;
      }
      for (int64_t k = 0; k < len; ++k) p[k * inner] = sum > 0 ? p[k * inner] / sum : 0.0f;
    }
  }
  ctx.AddOutput(Tensor::FromFloats(x.dtype(), x.shape(), v));
  return Status::Ok();
}

// Normalizes over `axes` (a contiguous run, not necessarily the trailing ones: the converter's
// RMSNorm normalizes axis 1 of the channels-first [1, C, 1, S] layout):
// (x - mean) / sqrt(var + eps) * gamma + beta.
}  // namespace

void RegisterMathKernels(KernelTable* t) {
  (*t)["add"] = BinaryKernel<BinOp::kAdd>;
  (*t)["sub"] = BinaryKernel<BinOp::kSub>;
  (*t)["mul"] = BinaryKernel<BinOp::kMul>;
  (*t)["real_div"] = BinaryKernel<BinOp::kDiv>;
  (*t)["pow"] = BinaryKernel<BinOp::kPow>;
  (*t)["maximum"] = BinaryKernel<BinOp::kMax>;
  (*t)["minimum"] = BinaryKernel<BinOp::kMin>;
  (*t)["floor_div"] = BinaryKernel<BinOp::kFloorDiv>;
  (*t)["mod"] = BinaryKernel<BinOp::kMod>;
  (*t)["equal"] = BinaryKernel<BinOp::kEq>;
  (*t)["not_equal"] = BinaryKernel<BinOp::kNe>;
  (*t)["less"] = BinaryKernel<BinOp::kLt>;
  (*t)["less_equal"] = BinaryKernel<BinOp::kLe>;
  (*t)["greater"] = BinaryKernel<BinOp::kGt>;
  (*t)["greater_equal"] = BinaryKernel<BinOp::kGe>;
  (*t)["logical_and"] = BinaryKernel<BinOp::kAnd>;
  (*t)["logical_or"] = BinaryKernel<BinOp::kOr>;
  (*t)["logical_xor"] = BinaryKernel<BinOp::kXor>;
  (*t)["rsqrt"] = UnaryKernel<UnOp::kRsqrt>;
  (*t)["sqrt"] = UnaryKernel<UnOp::kSqrt>;
  (*t)["exp"] = UnaryKernel<UnOp::kExp>;
  (*t)["sigmoid"] = UnaryKernel<UnOp::kSigmoid>;
  (*t)["silu"] = UnaryKernel<UnOp::kSilu>;
  (*t)["tanh"] = UnaryKernel<UnOp::kTanh>;
  (*t)["cos"] = UnaryKernel<UnOp::kCos>;
  (*t)["sin"] = UnaryKernel<UnOp::kSin>;
  (*t)["abs"] = UnaryKernel<UnOp::kAbs>;
  (*t)["log"] = UnaryKernel<UnOp::kLog>;
  (*t)["square"] = UnaryKernel<UnOp::kSquare>;
  (*t)["relu"] = UnaryKernel<UnOp::kRelu>;
  (*t)["erf"] = UnaryKernel<UnOp::kErf>;
  (*t)["floor"] = UnaryKernel<UnOp::kFloor>;
  (*t)["ceil"] = UnaryKernel<UnOp::kCeil>;
  (*t)["round"] = UnaryKernel<UnOp::kRound>;
  (*t)["sign"] = UnaryKernel<UnOp::kSign>;
  (*t)["inverse"] = UnaryKernel<UnOp::kInverse>;
  (*t)["logical_not"] = UnaryKernel<UnOp::kNot>;
  (*t)["gelu"] = Gelu;
  (*t)["clip"] = Clip;
  (*t)["cast"] = Cast;
  (*t)["reduce_sum"] = ReduceKernel<Red::kSum>;
  (*t)["reduce_mean"] = ReduceKernel<Red::kMean>;
  (*t)["reduce_max"] = ReduceKernel<Red::kMax>;
  (*t)["reduce_min"] = ReduceKernel<Red::kMin>;
  (*t)["reduce_prod"] = ReduceKernel<Red::kProd>;
  (*t)["reduce_argmax"] = ReduceKernel<Red::kArgMax>;
  (*t)["reduce_argmin"] = ReduceKernel<Red::kArgMin>;
  (*t)["softmax"] = Softmax;
}

}  // namespace anec::runtime
