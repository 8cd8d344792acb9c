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

// Mistral's sliding window: a query at position p sees the key at position j only when
// p - j < window (transformers' sliding_window_overlay). The host mask is only causal (and
// meta.yaml has no window field), so the chunk masks keys that left the window itself:
// select(position_ids[r] - j >= window, -inf, causal_mask), all [1, 1, S, C]. (coremltools types
// select's output from a and b alone, so b carries the full shape.)
mil::Value WithSlidingWindow(mil::Function* f, mil::Value mask, mil::Value pos, int64_t seq,
                             int64_t context, int64_t window) {
  std::vector<int32_t> cols(static_cast<size_t>(context));
  for (size_t j = 0; j < cols.size(); ++j) cols[j] = static_cast<int32_t>(j);
  mil::Value col = f->Const(mil::Tensor::I32({1, 1, 1, context}, cols), "window_cols");
  mil::Value rows = f->Reshape(pos, {1, 1, seq, 1}, "window_rows");
  mil::Value age = f->Op("sub", {{"x", rows}, {"y", col}}, "window_age");
  mil::Value limit = f->Const(mil::Tensor::I32({}, {static_cast<int32_t>(window)}), "window_size");
  mil::Value old = f->Op("greater_equal", {{"x", age}, {"y", limit}}, "window_expired");
  mil::Value neg_inf = f->Const(mil::Tensor::F16({}, {-INFINITY}), "window_neg_inf");
  return f->Op("select", {{"cond", old}, {"a", neg_inf}, {"b", mask}}, "causal_window_mask");
}

}  // namespace

Result<FunctionSignature> AddChunkFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                           const model::ModelSpec& spec, const ChunkShape& chunk,
                                           int64_t seq, const std::string& fn_name) {
  const int64_t h = spec.hidden_size, c = chunk.context, d = spec.head_dim;
  mil::Function* f = program->AddFunction(fn_name);
  FunctionSignature sig;
  sig.name = fn_name;
  auto input = [&](const std::string& name, mil::TensorType t) {
    sig.inputs.push_back(Feature(name, t));
    return f->Input(name, t);
  };
  mil::Value hidden = input("hidden_states", {mil::DType::kFloat16, {1, seq, h}});
  mil::Value pos = input("position_ids", {mil::DType::kInt32, {seq}});
  mil::Value mask = input("causal_mask", {mil::DType::kFloat16, {1, 1, seq, c}});
  mil::Value cur = input("current_pos", {mil::DType::kInt32, {1}});
  const std::vector<int64_t> state_shape = {2 * spec.num_layers, spec.num_kv_heads, c, d};
  FeatureSpec state_spec = Feature(kKvCacheStateName, {mil::DType::kFloat16, state_shape}, true);
  sig.inputs.push_back(state_spec);
  mil::Value state = f->StateInput(kKvCacheStateName, state_shape);

  // Rotary tables: computed once per program (both functions share the blobs).
  std::optional<RopeTables> tables;
  auto table = [&](bool cosine) {
    return f->SharedConst(
        cosine ? "rope_cos" : "rope_sin",
        [&] {
          if (!tables) tables = ComputeRopeTables(spec, c);
          return RopeTensor(cosine ? tables->cos : tables->sin, c, d);
        },
        cosine ? "rope_cos" : "rope_sin");
  };
  AttentionContext ctx;
  ctx.spec = &spec;
  ctx.seq = seq;
  ctx.context = c;
  ctx.total_layers = spec.num_layers;
  ctx.cos = f->Reshape(Gather(f, table(true), pos, 0, "cos_rows"), {1, 1, seq, d}, "cos");
  ctx.sin = f->Reshape(Gather(f, table(false), pos, 0, "sin_rows"), {1, 1, seq, d}, "sin");
  ctx.causal_mask = mask;
  if (spec.sliding_window && *spec.sliding_window < c) {
    ctx.causal_mask = WithSlidingWindow(f, mask, pos, seq, c, *spec.sliding_window);
  }
  ctx.kv_state = state;
  ctx.current_pos = cur;

  // (1, S, H) -> channels-first (1, H, 1, S).
  mil::Value x = ExpandDims(f, f->Transpose(hidden, {0, 2, 1}, "hidden_t"), {2}, "x_in");
  // An MLP split across files: its normalized input n comes from the previous chunk.
  const int64_t inter = spec.intermediate_size;
  mil::Value mlp_input;
  if (chunk.begin_mlp > 0) {
    mil::Value carried = input("mlp_input", {mil::DType::kFloat16, {1, seq, h}});
    mlp_input = ExpandDims(f, f->Transpose(carried, {0, 2, 1}, "mlp_input_t"), {2}, "mlp_in");
  }
  for (int64_t l = chunk.first_layer; l < chunk.end_layer; ++l) {
    LayerPiece piece{true, 0, inter};
    if (l == chunk.first_layer && chunk.begin_mlp >= 0) {
      piece.attention = false;
      piece.mlp_begin = chunk.begin_mlp;
    }
    if (l + 1 == chunk.end_layer && chunk.end_mlp >= 0) piece.mlp_end = chunk.end_mlp;
    const bool whole = piece.attention && piece.mlp_begin == 0 && piece.mlp_end == inter;
    x = whole ? TransformerLayer(f, w, ctx, l, x)
              : TransformerLayerPiece(f, w, ctx, l, piece, x, &mlp_input);
  }
  if (chunk.is_last) x = FinalNorm(f, w, spec, x);
  mil::Value out = f->Transpose(Squeeze(f, x, {2}, "x_out"), {0, 2, 1}, "output_hidden_states");
  f->Output(out, "output_hidden_states");
  const bool carries = chunk.end_mlp > 0 && chunk.end_mlp < inter;
  mil::Value carry;
  if (carries) {
    carry = f->Transpose(Squeeze(f, mlp_input, {2}, "mlp_out"), {0, 2, 1}, "output_mlp_input");
    f->Output(carry, "output_mlp_input");
  }
  ANEC_RETURN_IF_ERROR(program->status());
  sig.outputs.push_back(OutputSpec("output_hidden_states", out));
  if (carries) sig.outputs.push_back(OutputSpec("output_mlp_input", carry));
  return sig;
}

}  // namespace anec::ane
