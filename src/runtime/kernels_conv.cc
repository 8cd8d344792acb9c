// conv: 1x1 / groups=1 / stride 1 / no padding goes through the weight-matrix GEMM (the
// ANE-layout projection); every other case uses a direct loop over dense weights.
#include <algorithm>

#include "runtime/elementwise.h"
#include "runtime/kernels.h"
#include "runtime/lut_weight.h"
#include "runtime/op_context.h"
#include "runtime/weight_matrix.h"

namespace anec::runtime {
namespace {

Status Conv(OpContext& ctx) {
  ANEC_ASSIGN_OR_RETURN(Tensor x, ctx.Input("x"));
  ANEC_ASSIGN_OR_RETURN(Tensor w, ctx.RawInput("weight"));
  ANEC_ASSIGN_OR_RETURN(Tensor bias, ctx.OptionalInput("bias"));
  ANEC_ASSIGN_OR_RETURN(int64_t groups, ctx.IntOr("groups", 1));
  ANEC_ASSIGN_OR_RETURN(std::string pad_type, ctx.StringOr("pad_type", "valid"));
  if (!IsFloat(x.dtype())) return InvalidArgument("x must be fp16 or fp32, got {}", x.TypeString());
  const int64_t sp = x.rank() - 2;  // spatial rank
  if (sp < 1 || sp > 2 || w.rank() != x.rank()) {
    return Unsupported("conv supports 1-D and 2-D inputs with matching weight rank; got x {} "
                       "weight {}", x.TypeString(), w.TypeString());
  }
  const int64_t N = x.dim(0), Cin = x.dim(1), Cout = w.dim(0);
  if (groups <= 0 || Cin % groups != 0 || Cout % groups != 0 || w.dim(1) != Cin / groups) {
    return InvalidArgument("conv: x {} weight {} groups {} do not match", x.TypeString(),
                           w.TypeString(), groups);
  }
  std::vector<int64_t> strides(static_cast<size_t>(sp), 1), dil(static_cast<size_t>(sp), 1),
      pad(static_cast<size_t>(2 * sp), 0);
  if (ctx.Has("strides")) { ANEC_ASSIGN_OR_RETURN(strides, ctx.Ints("strides")); }
  if (ctx.Has("dilations")) { ANEC_ASSIGN_OR_RETURN(dil, ctx.Ints("dilations")); }
  if (strides.size() != static_cast<size_t>(sp) || dil.size() != static_cast<size_t>(sp)) {
    return InvalidArgument("conv: strides/dilations must have {} values", sp);
  }
  std::vector<int64_t> in(static_cast<size_t>(sp)), k(static_cast<size_t>(sp)), out(static_cast<size_t>(sp));
  for (int64_t d = 0; d < sp; ++d) {
    in[static_cast<size_t>(d)] = x.dim(2 + d);
    k[static_cast<size_t>(d)] = w.dim(2 + d);
  }
  if (pad_type == "custom") {
    ANEC_ASSIGN_OR_RETURN(pad, ctx.Ints("pad"));
    if (pad.size() != static_cast<size_t>(2 * sp)) return InvalidArgument("conv: pad must have {} values", 2 * sp);
  } else if (pad_type == "same" || pad_type == "same_lower") {
    for (size_t d = 0; d < static_cast<size_t>(sp); ++d) {
      int64_t o = (in[d] + strides[d] - 1) / strides[d];
      int64_t total = std::max<int64_t>(0, (o - 1) * strides[d] + (k[d] - 1) * dil[d] + 1 - in[d]);
      int64_t small = total / 2, big = total - small;
      pad[2 * d] = pad_type == "same" ? small : big;
      pad[2 * d + 1] = pad_type == "same" ? big : small;
    }
  } else if (pad_type != "valid") {
    return InvalidArgument("conv: unknown pad_type '{}'", pad_type);
  }
  for (size_t d = 0; d < static_cast<size_t>(sp); ++d) {
    int64_t span = (k[d] - 1) * dil[d] + 1;
    out[d] = (in[d] + pad[2 * d] + pad[2 * d + 1] - span) / strides[d] + 1;
    if (out[d] <= 0) return InvalidArgument("conv: kernel larger than padded input");
  }
  if (bias.defined() && bias.size() != Cout) return InvalidArgument("conv: bias must have {} values", Cout);
  std::vector<float> bf = bias.defined() ? bias.ToFloats() : std::vector<float>();
  Shape out_shape = {N, Cout};
  out_shape.insert(out_shape.end(), out.begin(), out.end());
  int64_t P = 1, kk = 1;
  for (size_t d = 0; d < static_cast<size_t>(sp); ++d) {
    P *= out[d];
    kk *= k[d];
  }
  bool pointwise = groups == 1 && kk == 1;
  for (size_t d = 0; d < static_cast<size_t>(sp); ++d) pointwise &= strides[d] == 1 && pad[2 * d] == 0 && pad[2 * d + 1] == 0;
  const FloatBuffer xf = NewFloats(x.size());
  ToFloatsPooled(x, xf.get(), ctx.pool());
  // Every element is written below (the GEMM assigns its outputs): no zero-filling pass.
  const FloatBuffer result = NewFloats(N * Cout * P);
  if (pointwise) {
    ANEC_ASSIGN_OR_RETURN(WeightMatrix wm, WeightMatrix::Create(w, Cout, Cin));
    for (int64_t n = 0; n < N; ++n) {
      GemmXWtChannelsFirst(xf.get() + n * Cin * P, P, wm, bf.empty() ? nullptr : bf.data(),
                           result.get() + n * Cout * P, ctx.pool());
    }
  } else {
    Tensor wd = w.is_lut() ? w.lut()->Dense() : w;
    std::vector<float> wf = wd.ToFloats();
    const int64_t cin_g = Cin / groups, cout_g = Cout / groups;
    const int64_t H = sp == 2 ? in[0] : 1, W = in[static_cast<size_t>(sp - 1)];
    const int64_t OH = sp == 2 ? out[0] : 1, OW = out[static_cast<size_t>(sp - 1)];
    const int64_t KH = sp == 2 ? k[0] : 1, KW = k[static_cast<size_t>(sp - 1)];
    const int64_t SH = sp == 2 ? strides[0] : 1, SW = strides[static_cast<size_t>(sp - 1)];
    const int64_t DH = sp == 2 ? dil[0] : 1, DW = dil[static_cast<size_t>(sp - 1)];
    const int64_t PT = sp == 2 ? pad[0] : 0, PL = pad[static_cast<size_t>(2 * (sp - 1))];
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t co = 0; co < Cout; ++co) {
        int64_t g = co / cout_g;
        for (int64_t oh = 0; oh < OH; ++oh) {
          for (int64_t ow = 0; ow < OW; ++ow) {
            float acc = bf.empty() ? 0.0f : bf[static_cast<size_t>(co)];
            for (int64_t ci = 0; ci < cin_g; ++ci) {
              for (int64_t kh = 0; kh < KH; ++kh) {
                int64_t ih = oh * SH - PT + kh * DH;
                if (ih < 0 || ih >= H) continue;
                for (int64_t kw = 0; kw < KW; ++kw) {
                  int64_t iw = ow * SW - PL + kw * DW;
                  if (iw < 0 || iw >= W) continue;
                  acc += xf[static_cast<size_t>(((n * Cin + g * cin_g + ci) * H + ih) * W + iw)] *
                         wf[static_cast<size_t>(((co * cin_g + ci) * KH + kh) * KW + kw)];
                }
              }
            }
            result[static_cast<size_t>(((n * Cout + co) * OH + oh) * OW + ow)] = acc;
          }
        }
      }
    }
  }
  ctx.AddOutput(FromFloatsPooled(x.dtype(), out_shape, result.get(), ctx.pool()));
  return Status::Ok();
}

}  // namespace

void RegisterConvKernels(KernelTable* t) { (*t)["conv"] = Conv; }

}  // namespace anec::runtime
