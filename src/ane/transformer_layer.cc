#include "ane/transformer_layer.h"

#include <fmt/format.h>

#include "ane/mil_ops.h"
#include "ane/rms_norm.h"

namespace anec::ane {

using model::TensorRole;

namespace {

// act(gate) as the spec's MLP asks (SwiGLU or GeGLU).
mil::Value GateActivation(mil::Function* f, const model::ModelSpec& spec, mil::Value gate,
                          const std::string& name) {
  if (spec.mlp_activation == model::MlpActivation::kGeluTanh) {
    return GeluTanh(f, gate, name + "_gelu");
  }
  return Silu(f, gate, name + "_silu");
}

// RmsNorm(x) with the layer's gain for `role` (offset added: Gemma's 1 + w).
mil::Value LayerNormed(mil::Function* f, WeightEmitter* w, const model::ModelSpec& sp,
                       int64_t layer, std::string_view tag, TensorRole role, mil::Value x) {
  // The output norms write into the residual stream: they carry its scale.
  const bool output_norm = role == TensorRole::kAttnOutNorm || role == TensorRole::kMlpOutNorm;
  mil::Value g = w->Vector(f, LayerWeightName(layer, tag), role, layer, {sp.hidden_size},
                           sp.norm_weight_offset, output_norm ? sp.residual_scale : 1.0);
  return AneRmsNorm(f, x, 2, g, sp.rms_norm_eps, fmt::format("l{}_{}", layer, tag));
}

// The attention block's residual update: x + [AttnOutNorm](Attention(RmsNorm(x))).
mil::Value AttentionBlock(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                          int64_t layer, mil::Value x) {
  const model::ModelSpec& sp = *ctx.spec;
  mil::Value n1 = LayerNormed(f, w, sp, layer, "input_norm", TensorRole::kInputNorm, x);
  mil::Value attn = Attention(f, w, ctx, layer, n1);
  if (sp.sandwich_norms) {
    attn = LayerNormed(f, w, sp, layer, "attn_out_norm", TensorRole::kAttnOutNorm, attn);
  }
  return f->Add(x, attn, fmt::format("l{}_attn_residual", layer));
}

// The MLP (or a slice of it) output, normalized when the spec has sandwich norms.
mil::Value MlpOut(mil::Function* f, WeightEmitter* w, const model::ModelSpec& sp, int64_t layer,
                  mil::Value mlp) {
  if (!sp.sandwich_norms) return mlp;
  return LayerNormed(f, w, sp, layer, "mlp_out_norm", TensorRole::kMlpOutNorm, mlp);
}

}  // namespace

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
  mil::Value gate = w->ScaleOutput(f, LayerWeightName(layer, "gate_proj"),
                                   f->Conv(x, wg, std::nullopt, p + "_gate"), p + "_gate_scaled");
  mil::Value up = w->ScaleOutput(f, LayerWeightName(layer, "up_proj"),
                                 f->Conv(x, wu, std::nullopt, p + "_up"), p + "_up_scaled");
  mil::Value act = f->Mul(GateActivation(f, spec, gate, p), up, p + "_act");
  mil::Value down = w->ScaleOutput(f, LayerWeightName(layer, "down_proj"),
                                   f->Conv(act, wd, std::nullopt, p + "_down"), p + "_down_scaled");
  return FromChannelsFirst(f, down, p + "_mlp_out");
}

mil::Value TransformerLayer(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                            int64_t layer, mil::Value x) {
  const model::ModelSpec& sp = *ctx.spec;
  const std::string p = fmt::format("l{}", layer);
  mil::Value h1 = AttentionBlock(f, w, ctx, layer, x);
  mil::Value n2 = LayerNormed(f, w, sp, layer, "post_attn_norm", TensorRole::kPostAttnNorm, h1);
  mil::Value mlp = MlpOut(f, w, sp, layer, FeedForward(f, w, sp, layer, n2));
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
  mil::Value gate = w->ScaleOutput(
      f, name("gate_proj"), f->Conv(x, wg, std::nullopt, p + "_gate" + r), p + "_gate_scaled" + r);
  mil::Value up = w->ScaleOutput(f, name("up_proj"), f->Conv(x, wu, std::nullopt, p + "_up" + r),
                                 p + "_up_scaled" + r);
  mil::Value act = f->Mul(GateActivation(f, spec, gate, p + r), up, p + "_act" + r);
  mil::Value down =
      w->ScaleOutput(f, name("down_proj"), f->Conv(act, wd, std::nullopt, p + "_down" + r),
                     p + "_down_scaled" + r);
  return FromChannelsFirst(f, down, p + "_mlp_out" + r);
}

mil::Value TransformerLayerPiece(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx,
                                 int64_t layer, const LayerPiece& piece, mil::Value x,
                                 mil::Value* mlp_input) {
  const model::ModelSpec& sp = *ctx.spec;
  const std::string p = fmt::format("l{}", layer);
  if (piece.attention) x = AttentionBlock(f, w, ctx, layer, x);
  if (piece.mlp_end <= piece.mlp_begin) return x;
  if (piece.mlp_begin == 0) {
    *mlp_input = LayerNormed(f, w, sp, layer, "post_attn_norm", TensorRole::kPostAttnNorm, x);
  }
  mil::Value part = FeedForwardSlice(f, w, sp, layer, piece.mlp_begin, piece.mlp_end, *mlp_input);
  // A norm of the MLP's output needs all of it (chunk_function.cc refuses slices then).
  if (piece.mlp_begin == 0 && piece.mlp_end == sp.intermediate_size) {
    part = MlpOut(f, w, sp, layer, part);
  }
  return f->Add(x, part, fmt::format("{}_mlp_{}_{}_out", p, piece.mlp_begin, piece.mlp_end));
}

mil::Value FinalNorm(mil::Function* f, WeightEmitter* w, const model::ModelSpec& spec,
                     mil::Value x) {
  mil::Value g = w->Vector(f, "final_norm", TensorRole::kFinalNorm, 0, {spec.hidden_size},
                           spec.norm_weight_offset);
  return AneRmsNorm(f, x, 2, g, spec.rms_norm_eps, "final_norm_out");
}

}  // namespace anec::ane
