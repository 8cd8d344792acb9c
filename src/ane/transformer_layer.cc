#include "ane/transformer_layer.h"

#include <fmt/format.h>

#include "ane/mil_ops.h"
#include "ane/rms_norm.h"

namespace anec::ane {

using model::TensorRole;

mil::Value FeedForward(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                       int64_t layer, mil::Value x_norm) {
  const int64_t h = spec.hidden_size, inter = spec.intermediate_size;
  const std::string p = fmt::format("l{}", layer);
  mil::Value wg = w->Matrix(f, LayerWeightName(layer, "gate_proj"), TensorRole::kGateProj, layer, 0,
                            inter, {inter, h, 1, 1});
  mil::Value wu = w->Matrix(f, LayerWeightName(layer, "up_proj"), TensorRole::kUpProj, layer, 0,
                            inter, {inter, h, 1, 1});
  mil::Value wd = w->Matrix(f, LayerWeightName(layer, "down_proj"), TensorRole::kDownProj, layer, 0,
                            h, {h, inter, 1, 1});
  mil::Value x = ToChannelsFirst(f, x_norm, p + "_mlp_in");
  mil::Value gate = f->Conv(x, wg, std::nullopt, p + "_gate");
  mil::Value up = f->Conv(x, wu, std::nullopt, p + "_up");
  mil::Value act = f->Mul(Silu(f, gate, p + "_silu"), up, p + "_act");
  return FromChannelsFirst(f, f->Conv(act, wd, std::nullopt, p + "_down"), p + "_mlp_out");
}

mil::Value TransformerLayer(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                            int64_t layer, mil::Value x) {
  const model::ModelSpec& sp = *ctx.spec;
  const int64_t h = sp.hidden_size;
  const std::string p = fmt::format("l{}", layer);
  mil::Value g1 =
      w->Vector(f, LayerWeightName(layer, "input_norm"), TensorRole::kInputNorm, layer, {h});
  mil::Value n1 = AneRmsNorm(f, x, 2, g1, sp.rms_norm_eps, p + "_input_norm");
  mil::Value attn = Attention(f, w, ctx, layer, n1);
  mil::Value h1 = f->Add(x, attn, p + "_attn_residual");
  mil::Value g2 =
      w->Vector(f, LayerWeightName(layer, "post_attn_norm"), TensorRole::kPostAttnNorm, layer, {h});
  mil::Value n2 = AneRmsNorm(f, h1, 2, g2, sp.rms_norm_eps, p + "_post_attn_norm");
  mil::Value mlp = FeedForward(f, w, sp, layer, n2);
  return f->Add(h1, mlp, p + "_out");
}

mil::Value FeedForwardSlice(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                            int64_t layer, int64_t begin, int64_t end, mil::Value x_norm) {
  if (begin == 0 && end == spec.intermediate_size) return FeedForward(f, w, spec, layer, x_norm);
  const int64_t h = spec.hidden_size, rows = end - begin;
  const std::string p = fmt::format("l{}", layer), r = fmt::format("_{}_{}", begin, end);
  auto name = [&](const char* proj) { return LayerWeightName(layer, proj + r); };
  mil::Value wg =
      w->Matrix(f, name("gate_proj"), TensorRole::kGateProj, layer, begin, end, {rows, h, 1, 1});
  mil::Value wu =
      w->Matrix(f, name("up_proj"), TensorRole::kUpProj, layer, begin, end, {rows, h, 1, 1});
  mil::Value wd = w->MatrixColumns(f, name("down_proj"), TensorRole::kDownProj, layer, begin, end,
                                   {h, rows, 1, 1});
  mil::Value x = ToChannelsFirst(f, x_norm, p + "_mlp_in" + r);
  mil::Value gate = f->Conv(x, wg, std::nullopt, p + "_gate" + r);
  mil::Value up = f->Conv(x, wu, std::nullopt, p + "_up" + r);
  mil::Value act = f->Mul(Silu(f, gate, p + "_silu" + r), up, p + "_act" + r);
  return FromChannelsFirst(f, f->Conv(act, wd, std::nullopt, p + "_down" + r), p + "_mlp_out" + r);
}

mil::Value TransformerLayerPiece(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                                 int64_t layer, const LayerPiece& piece, mil::Value x,
                                 mil::Value* mlp_input) {
  const model::ModelSpec& sp = *ctx.spec;
  const int64_t h = sp.hidden_size;
  const std::string p = fmt::format("l{}", layer);
  if (piece.attention) {
    mil::Value g1 =
        w->Vector(f, LayerWeightName(layer, "input_norm"), TensorRole::kInputNorm, layer, {h});
    mil::Value n1 = AneRmsNorm(f, x, 2, g1, sp.rms_norm_eps, p + "_input_norm");
    x = f->Add(x, Attention(f, w, ctx, layer, n1), p + "_attn_residual");
  }
  if (piece.mlp_end <= piece.mlp_begin) return x;
  if (piece.mlp_begin == 0) {
    mil::Value g2 = w->Vector(f, LayerWeightName(layer, "post_attn_norm"),
                              TensorRole::kPostAttnNorm, layer, {h});
    *mlp_input = AneRmsNorm(f, x, 2, g2, sp.rms_norm_eps, p + "_post_attn_norm");
  }
  mil::Value part = FeedForwardSlice(f, w, sp, layer, piece.mlp_begin, piece.mlp_end, *mlp_input);
  return f->Add(x, part, fmt::format("{}_mlp_{}_{}_out", p, piece.mlp_begin, piece.mlp_end));
}

mil::Value FinalNorm(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                     mil::Value x) {
  mil::Value g = w->Vector(f, "final_norm", TensorRole::kFinalNorm, 0, {spec.hidden_size});
  return AneRmsNorm(f, x, 2, g, spec.rms_norm_eps, "final_norm_out");
}

}  // namespace anec::ane
