#include "ane/chunk_function.h"

#include <cmath>
#include <vector>

#include "ane/half.h"
#include "ane/mil_ops.h"
#include "ane/rope_tables.h"
#include "ane/transformer_layer.h"

namespace anec::ane {

namespace {

mil::Tensor RopeTensor(const std::vector<double>& v, int64_t context, int64_t head_dim) {
  std::vector<uint16_t> bits(v.size());
  for (size_t i = 0; i < v.size(); ++i) bits[i] = FloatToHalf(static_cast<float>(v[i]));
  return mil::Tensor::F16Bits({context, head_dim}, bits);
}

}  // namespace

Result<FunctionSignature> AddChunkFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                           const model::ModelSpec& spec, const ChunkShape& chunk,
                                           int64_t seq, const std::string& fn_name) {
  const int64_t h = spec.hidden_size, c = chunk.context, d = spec.head_dim;
  KvCacheLayout kv = chunk.kv;
  if (kv.rows == 0) {
    kv = MakeKvCacheLayout(spec, c, 1, KvCacheSharing::kShared, 0, 0, spec.num_layers);
    kv.rows = c;
    kv.ring = false;
  }
  // The attention blocks this chunk runs (none of first_layer's when it starts inside its MLP).
  const int64_t first_attention =
      chunk.begin_mlp == ChunkShape::kWholeLayer ? chunk.first_layer : chunk.first_layer + 1;
  if (first_attention < chunk.end_layer &&
      (first_attention < kv.first_layer || chunk.end_layer > kv.first_layer + kv.layers)) {
    return InvalidArgument("{}: layers [{}, {}) are not all in state {} (layers [{}, {}))", fn_name,
                           first_attention, chunk.end_layer, kv.state_name, kv.first_layer,
                           kv.first_layer + kv.layers);
  }
  const int64_t inter = spec.intermediate_size;
  if (spec.sandwich_norms &&
      (chunk.begin_mlp > 0 || (chunk.end_mlp > 0 && chunk.end_mlp < inter))) {
    return Unsupported(
        "{}: this model normalizes each MLP's whole output (post_feedforward_layernorm)"
        ", so a chunk cannot start or stop inside an MLP; use a plan that splits "
        "between layers (more chunks)",
        fn_name);
  }
  const int64_t rows = kv.rows;
  mil::Function* f = program->AddFunction(fn_name);
  FunctionSignature sig;
  sig.name = fn_name;
  auto input = [&](const std::string& name, mil::TensorType t) {
    sig.inputs.push_back(Feature(name, t));
    return f->Input(name, t);
  };
  mil::Value hidden = input("hidden_states", {mil::DType::kFloat16, {1, seq, h}});
  mil::Value pos = input("position_ids", {mil::DType::kInt32, {seq}});
  mil::Value mask = input("causal_mask", {mil::DType::kFloat16, {1, 1, seq, rows}});
  mil::Value cur = input("current_pos", {mil::DType::kInt32, {1}});
  // An interleaved model's local layers get their own mask (the window applied by the host),
  // when this chunk runs one.
  bool runs_local = false;
  for (int64_t l = first_attention; l < chunk.end_layer; ++l) runs_local |= IsLocalLayer(spec, l);
  mil::Value local_mask;
  if (runs_local) {
    local_mask = input(kLocalCausalMaskName, {mil::DType::kFloat16, {1, 1, seq, rows}});
  }
  // A per-chunk state of a chunk without attention blocks (a slice of an MLP) would hold no layer:
  // such a chunk has no state at all.
  mil::Value state;
  if (kv.layers > 0) {
    const std::vector<int64_t> state_shape = {2 * kv.layers, spec.num_kv_heads, rows, d};
    sig.inputs.push_back(Feature(kv.state_name, {mil::DType::kFloat16, state_shape}, true));
    state = f->StateInput(kv.state_name, state_shape);
  }

  // Rotary tables: computed once per program (both functions share the blobs). Local layers
  // rotate with their own base and no scaling (transformers' Gemma 3 local rope).
  std::optional<RopeTables> tables, local_tables;
  model::ModelSpec local_spec = spec;
  if (spec.local_attention) {
    local_spec.rope_theta = spec.local_attention->rope_theta;
    local_spec.rope_scaling = model::RopeScaling();
  }
  auto table = [&](bool cosine, bool local = false) {
    const std::string name =
        std::string(local ? "rope_local_" : "rope_") + (cosine ? "cos" : "sin");
    std::optional<RopeTables>& t = local ? local_tables : tables;
    return f->SharedConst(
        name,
        [&] {
          if (!t) t = ComputeRopeTables(local ? local_spec : spec, c);
          return RopeTensor(cosine ? t->cos : t->sin, c, d);
        },
        name);
  };
  AttentionContext ctx;
  ctx.spec = &spec;
  ctx.seq = seq;
  ctx.cache_rows = rows;
  ctx.state_layers = kv.layers;
  ctx.state_first_layer = kv.first_layer;
  ctx.cos = f->Reshape(GatherRows(f, table(true), pos, "cos_rows"), {1, 1, seq, d}, "cos");
  ctx.sin = f->Reshape(GatherRows(f, table(false), pos, "sin_rows"), {1, 1, seq, d}, "sin");
  ctx.causal_mask = mask;
  if (runs_local) {
    ctx.local_cos = f->Reshape(GatherRows(f, table(true, true), pos, "local_cos_rows"),
                               {1, 1, seq, d}, "local_cos");
    ctx.local_sin = f->Reshape(GatherRows(f, table(false, true), pos, "local_sin_rows"),
                               {1, 1, seq, d}, "local_sin");
    ctx.local_mask = local_mask;
  }
  ctx.kv_state = state;
  ctx.current_pos = cur;

  // The residual stream stays [1, S, H] (ANEMLL's layout); projections convert to channels-first
  // [1, C, 1, S] and back around their convs.
  mil::Value x = hidden;
  // An MLP split across files: its normalized input n comes from the previous chunk.
  mil::Value mlp_input;
  if (chunk.begin_mlp > 0) mlp_input = input("mlp_input", {mil::DType::kFloat16, {1, seq, h}});
  // A cache-filling function of the last chunk skips what nothing reads: the model's last MLP
  // (its rows in this chunk) and the final norm; it outputs row 0 alone (ANEMLL's prefill).
  const bool fill_only = chunk.is_last && chunk.fill_cache_only;
  for (int64_t l = chunk.first_layer; l < chunk.end_layer; ++l) {
    LayerPiece piece{true, 0, inter};
    if (l == chunk.first_layer && chunk.begin_mlp >= 0) {
      piece.attention = false;
      piece.mlp_begin = chunk.begin_mlp;
    }
    if (l + 1 == chunk.end_layer && chunk.end_mlp >= 0) piece.mlp_end = chunk.end_mlp;
    if (fill_only && l + 1 == spec.num_layers) piece.mlp_end = piece.mlp_begin;
    const bool whole = piece.attention && piece.mlp_begin == 0 && piece.mlp_end == inter;
    x = whole ? TransformerLayer(f, w, ctx, l, x)
              : TransformerLayerPiece(f, w, ctx, l, piece, x, &mlp_input);
  }
  mil::Value out;
  if (fill_only) {
    out = SliceStatic(f, x, {0, 0, 0}, {1, 1, static_cast<int32_t>(h)}, "output_hidden_states");
  } else {
    if (chunk.is_last) x = FinalNorm(f, w, spec, x);
    out = x;
  }
  f->Output(out, "output_hidden_states");
  const bool carries = chunk.end_mlp > 0 && chunk.end_mlp < inter;
  mil::Value carry;
  if (carries) {
    carry = mlp_input;
    f->Output(carry, "output_mlp_input");
  }
  ANEC_RETURN_IF_ERROR(program->status());
  sig.outputs.push_back(OutputSpec("output_hidden_states", out));
  if (carries) sig.outputs.push_back(OutputSpec("output_mlp_input", carry));
  return sig;
}

}  // namespace anec::ane
