#include "ane/attention.h"

#include <fmt/format.h>

#include <cmath>

#include "ane/mil_ops.h"
#include "ane/rms_norm.h"

namespace anec::ane {

namespace {

using model::TensorRole;

// conv output [1, heads*D, 1, S] -> [1, heads, S, D]. For S = 1 this is a reshape alone
// (ANEMLL's decode path: view(1, heads, 1, D)); for a batch, ANEMLL's view + permute.
mil::Value ToHeads(mil::Function* f, mil::Value x, int64_t heads, int64_t d, int64_t s,
                   const std::string& name) {
  if (s == 1) return f->Reshape(x, {1, heads, 1, d}, name + "_heads");
  mil::Value r = f->Reshape(x, {1, heads, d, s}, name + "_split");
  return f->Transpose(r, {0, 1, 3, 2}, name + "_heads");
}

// q*cos + rotate_half(q)*sin, rotate_half(q) = concat(-q[..., D/2:], q[..., :D/2]).
mil::Value Rope(mil::Function* f, mil::Value q, const AttentionContext& ctx, bool local,
                int64_t heads, const std::string& name) {
  const int32_t d = static_cast<int32_t>(ctx.spec->head_dim), h = static_cast<int32_t>(heads);
  const int32_t s = static_cast<int32_t>(ctx.seq);
  mil::Value lo = SliceStatic(f, q, {0, 0, 0, 0}, {1, h, s, d / 2}, name + "_lo");
  mil::Value hi = SliceStatic(f, q, {0, 0, 0, d / 2}, {1, h, s, d}, name + "_hi");
  mil::Value rot = f->Concat({Neg(f, hi, name + "_neghi"), lo}, 3, name + "_rot");
  return f->Add(f->Mul(q, local ? ctx.local_cos : ctx.cos, name + "_qcos"),
                f->Mul(rot, local ? ctx.local_sin : ctx.sin, name + "_qsin"), name + "_rope");
}

// int32[4] = [first, 0, current_pos, 0]
mil::Value CacheBegin(mil::Function* f, const AttentionContext& ctx, int64_t first,
                      const std::string& name) {
  mil::Value head = f->Const(I32s({static_cast<int32_t>(first), 0}), name + "_b0");
  mil::Value tail = f->Const(I32s({0}), name + "_b3");
  return f->Concat({head, ctx.current_pos, tail}, 0, name + "_begin");
}

mil::Value Projection(mil::Function* f, WeightEmitter* w, int64_t layer, mil::Value x,
                      TensorRole weight_role, std::optional<TensorRole> bias_role, int64_t out_ch,
                      int64_t in_ch, const std::string& tag) {
  const std::string base = LayerWeightName(layer, tag);
  mil::Value weight = w->Matrix(f, base, weight_role, layer, 0, out_ch, {out_ch, in_ch, 1, 1});
  const std::string op = fmt::format("l{}_{}", layer, tag);
  if (w->HasRowScale(base)) {
    // conv, row scales, then the bias: inside the conv the bias would be scaled too.
    mil::Value y = w->ScaleOutput(f, base, f->Conv(x, weight, std::nullopt, op), op + "_scaled");
    if (!bias_role) return y;
    return f->Add(y, w->Vector(f, base + "_bias", *bias_role, layer, {1, out_ch, 1, 1}),
                  op + "_bias");
  }
  std::optional<mil::Value> bias;
  if (bias_role) bias = w->Vector(f, base + "_bias", *bias_role, layer, {out_ch});
  return f->Conv(x, weight, bias, op);
}

}  // namespace

bool IsLocalLayer(const model::ModelSpec& spec, int64_t layer) {
  if (!spec.local_attention) return false;
  const std::vector<bool>& v = spec.local_attention->is_local;
  return layer >= 0 && layer < static_cast<int64_t>(v.size()) && v[static_cast<size_t>(layer)];
}

mil::Value Attention(mil::Function* f, WeightEmitter* w, const AttentionContext& ctx, int64_t layer,
                     mil::Value normed) {
  const model::ModelSpec& sp = *ctx.spec;
  const int64_t hidden = sp.hidden_size, d = sp.head_dim, nh = sp.num_heads, kvh = sp.num_kv_heads,
                s = ctx.seq, c = ctx.cache_rows;
  const int64_t rep = nh / kvh;
  const std::string p = fmt::format("l{}", layer);
  const bool bias = sp.attention_bias;
  const bool local = IsLocalLayer(sp, layer);
  // The projections are 1x1 convs over channels-first [1, hidden, 1, S].
  mil::Value x_norm = ToChannelsFirst(f, normed, p + "_attn_in");

  mil::Value q =
      Projection(f, w, layer, x_norm, TensorRole::kQProj,
                 bias ? std::optional(TensorRole::kQBias) : std::nullopt, nh * d, hidden, "q_proj");
  mil::Value k = Projection(f, w, layer, x_norm, TensorRole::kKProj,
                            bias ? std::optional(TensorRole::kKBias) : std::nullopt, kvh * d,
                            hidden, "k_proj");
  mil::Value v = Projection(f, w, layer, x_norm, TensorRole::kVProj,
                            bias ? std::optional(TensorRole::kVBias) : std::nullopt, kvh * d,
                            hidden, "v_proj");
  q = ToHeads(f, q, nh, d, s, p + "_q");
  k = ToHeads(f, k, kvh, d, s, p + "_k");
  v = ToHeads(f, v, kvh, d, s, p + "_v");
  if (sp.qk_norm) {
    mil::Value qg = w->Vector(f, LayerWeightName(layer, "q_norm"), TensorRole::kQNorm, layer, {d},
                              sp.norm_weight_offset);
    mil::Value kg = w->Vector(f, LayerWeightName(layer, "k_norm"), TensorRole::kKNorm, layer, {d},
                              sp.norm_weight_offset);
    q = AneRmsNorm(f, q, 3, qg, sp.rms_norm_eps, p + "_q_norm");
    k = AneRmsNorm(f, k, 3, kg, sp.rms_norm_eps, p + "_k_norm");
  }
  q = Rope(f, q, ctx, local, nh, p + "_q");
  k = Rope(f, k, ctx, local, kvh, p + "_k");

  // Write this call's keys and values into the cache.
  mil::Value extent = f->Const(
      I32s({1, static_cast<int32_t>(kvh), static_cast<int32_t>(s), static_cast<int32_t>(d)}),
      p + "_extent");
  const int64_t slot = layer - ctx.state_first_layer;
  mil::Value kb = CacheBegin(f, ctx, slot, p + "_kc");
  mil::Value vb = CacheBegin(f, ctx, ctx.state_layers + slot, p + "_vc");
  mil::Value cache = f->Op("read_state", {{"input", ctx.kv_state}}, p + "_read0");
  cache = SliceUpdate(f, cache, k, kb, f->Add(kb, extent, p + "_kc_end"), p + "_kupd");
  cache = SliceUpdate(f, cache, v, vb, f->Add(vb, extent, p + "_vc_end"), p + "_vupd");
  f->AddOp("write_state", {{"input", ctx.kv_state}, {"data", cache}}, p + "_write");
  cache = f->Op("read_state", {{"input", ctx.kv_state}}, p + "_read1");
  const int32_t ci = static_cast<int32_t>(c), di = static_cast<int32_t>(d),
                ki = static_cast<int32_t>(kvh), li = static_cast<int32_t>(slot),
                vi = static_cast<int32_t>(ctx.state_layers + slot);
  mil::Value keys = SliceStatic(f, cache, {li, 0, 0, 0}, {li + 1, ki, ci, di}, p + "_keys");
  mil::Value values = SliceStatic(f, cache, {vi, 0, 0, 0}, {vi + 1, ki, ci, di}, p + "_values");

  // Scores for all query heads grouped by their kv head.
  const double scale = sp.attention_scale.value_or(1.0 / std::sqrt(static_cast<double>(d)));
  mil::Value qs = ScaleBy(f, q, static_cast<float>(scale), p + "_qscaled");
  mil::Value qg = f->Reshape(qs, {1, kvh, rep * s, d}, p + "_qgroups");
  mil::Value scores = f->MatMul(qg, keys, false, true, p + "_scores");
  scores = f->Reshape(scores, {1, nh, s, c}, p + "_scores_heads");
  scores = f->Add(scores, local ? ctx.local_mask : ctx.causal_mask, p + "_masked");
  mil::Value probs = SoftmaxAne(f, scores, 3, p + "_probs");
  probs = f->Reshape(probs, {1, kvh, rep * s, c}, p + "_probs_groups");
  mil::Value out = f->MatMul(probs, values, false, false, p + "_attn");  // [1,kvh,rep*s,d]
  out = f->Reshape(out, {1, nh, s, d}, p + "_attn_heads");
  if (s > 1) out = f->Transpose(out, {0, 1, 3, 2}, p + "_attn_t");  // [1,nh,d,s]
  out = f->Reshape(out, {1, nh * d, 1, s}, p + "_attn_flat");
  mil::Value o =
      Projection(f, w, layer, out, TensorRole::kOProj, std::nullopt, hidden, nh * d, "o_proj");
  return FromChannelsFirst(f, o, p + "_attn_out");
}

}  // namespace anec::ane
