// layer_norm: mean and variance in double over contiguous axes, then (x - mean) / sqrt(var +
// eps) * gamma + beta. The ANE layout's RMSNorm is a layer_norm over concat(x, -x) (mean 0).
#include <algorithm>
#include <cmath>

#include "runtime/kernels.h"
#include "runtime/op_context.h"

namespace anec::runtime {
namespace {

// The len values p[0], p[stride], ... normalised in place. The two sums run as 8 partial double
// sums, each over every 8th value, added pairwise at the end: one sequential chain of double
// adds waited an add's latency per value (SmolLM2 prefill: 122 us per call, 6% of prefill).
// Templated on the stride so that rows (stride 1, the ANE layout's norms) compile to
// contiguous loops.
template <bool kUnitStride>
void Normalize(float* p, int64_t len, int64_t stride, const float* gamma, const float* beta,
               float eps) {
  auto at = [&](int64_t k) -> float& { return p[kUnitStride ? k : k * stride]; };
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= len; k += 8) {
    for (int r = 0; r < 8; ++r) s[r] += at(k + r);
  }
  double mean = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; k < len; ++k) mean += at(k);
  mean /= static_cast<double>(len);
  std::fill(s, s + 8, 0.0);
  for (k = 0; k + 8 <= len; k += 8) {
    for (int r = 0; r < 8; ++r) {
      const double d = at(k + r) - mean;
      s[r] += d * d;
    }
  }
  double var = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; k < len; ++k) var += (at(k) - mean) * (at(k) - mean);
  var /= static_cast<double>(len);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  for (k = 0; k < len; ++k) {
    float y = static_cast<float>(at(k) - mean) * inv;
    if (gamma != nullptr) y *= gamma[k];
    if (beta != nullptr) y += beta[k];
    at(k) = y;
  }
}

Status LayerNorm(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.Ints("axes"));
  ANEC_ASSIGN_OR_RETURN(Tensor gamma, ctx.OptionalInput("gamma"));
  ANEC_ASSIGN_OR_RETURN(Tensor beta, ctx.OptionalInput("beta"));
  ANEC_ASSIGN_OR_RETURN(float eps, ctx.FloatOr("epsilon", 1e-5f));
  std::vector<int64_t> norm;
  for (int64_t a : axes) {
    ANEC_ASSIGN_OR_RETURN(int64_t na, NormalizeAxis(a, x.rank()));
    norm.push_back(na);
  }
  std::sort(norm.begin(), norm.end());
  // Contiguous axes [first, last]: element (o, k, i) at (o * len + k) * inner + i.
  for (size_t i = 1; i < norm.size(); ++i) {
    if (norm[i] != norm[i - 1] + 1) {
      return Unsupported("layer_norm over axes {} of {}: only contiguous axes are supported",
                         fmt::join(axes, ","), x.TypeString());
    }
  }
  int64_t len = 1, inner = 1;
  for (int64_t a : norm) len *= x.dim(a);
  for (int64_t a = norm.empty() ? x.rank() : norm.back() + 1; a < x.rank(); ++a) inner *= x.dim(a);
  if (gamma.defined() && gamma.size() != len) {
    return InvalidArgument("gamma {} must have {} elements", gamma.TypeString(), len);
  }
  if (beta.defined() && beta.size() != len) {
    return InvalidArgument("beta {} must have {} elements", beta.TypeString(), len);
  }
  std::vector<float> v = x.ToFloats();
  std::vector<float> g = gamma.defined() ? gamma.ToFloats() : std::vector<float>();
  std::vector<float> b = beta.defined() ? beta.ToFloats() : std::vector<float>();
  int64_t outer = len * inner == 0 ? 0 : x.size() / (len * inner);
  const float* gp = g.empty() ? nullptr : g.data();
  const float* bp = b.empty() ? nullptr : b.data();
  // Row o, column i of the normalized axes; on the pool when there are many values.
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* p = v.data() + (r / inner) * len * inner + r % inner;
      if (inner == 1) {
        Normalize<true>(p, len, 1, gp, bp, eps);
      } else {
        Normalize<false>(p, len, inner, gp, bp, eps);
      }
    }
  };
  if (ctx.pool() != nullptr && outer * inner * len >= 32768) {
    ctx.pool()->ParallelFor(outer * inner, 4, rows);
  } else {
    rows(0, outer * inner);
  }
  ctx.AddOutput(Tensor::FromFloats(x.dtype(), x.shape(), v));
  return Status::Ok();
}

}  // namespace

void RegisterNormKernels(KernelTable* t) { (*t)["layer_norm"] = LayerNorm; }

}  // namespace anec::runtime
