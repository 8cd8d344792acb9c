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
  if (chunk.first_layer < kv.first_layer || chunk.end_layer > kv.first_layer + kv.layers) {
    return InvalidArgument("{}: layers [{}, {}) are not all in state {} (layers [{}, {}))", fn_name,
                           chunk.first_layer, chunk.end_layer, kv.state_name, kv.first_layer,
                           kv.first_layer + kv.layers);
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
  const std::vector<int64_t> state_shape = {2 * kv.layers, spec.num_kv_heads, rows, d};
  FeatureSpec state_spec = Feature(kv.state_name, {mil::DType::kFloat16, state_shape}, true);
  sig.inputs.push_back(state_spec);
  mil::Value state = f->StateInput(kv.state_name, state_shape);

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
  ctx.cache_rows = rows;
  ctx.state_layers = kv.layers;
  ctx.state_first_layer = kv.first_layer;
  ctx.cos = f->Reshape(Gather(f, table(true), pos, 0, "cos_rows"), {1, 1, seq, d}, "cos");
  ctx.sin = f->Reshape(Gather(f, table(false), pos, 0, "sin_rows"), {1, 1, seq, d}, "sin");
  ctx.causal_mask = mask;
  ctx.kv_state = state;
  ctx.current_pos = cur;

  // (1, S, H) -> channels-first (1, H, 1, S).
  mil::Value x = ExpandDims(f, f->Transpose(hidden, {0, 2, 1}, "hidden_t"), {2}, "x_in");
  for (int64_t l = chunk.first_layer; l < chunk.end_layer; ++l) {
    x = TransformerLayer(f, w, ctx, l, x);
  }
  if (chunk.is_last) x = FinalNorm(f, w, spec, x);
  mil::Value out = f->Transpose(Squeeze(f, x, {2}, "x_out"), {0, 2, 1}, "output_hidden_states");
  f->Output(out, "output_hidden_states");
  ANEC_RETURN_IF_ERROR(program->status());
  sig.outputs.push_back(OutputSpec("output_hidden_states", out));
  return sig;
}

}  // namespace anec::ane
