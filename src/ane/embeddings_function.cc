#include "ane/embeddings_function.h"

#include "ane/mil_ops.h"

namespace anec::ane {

Result<FunctionSignature> AddEmbeddingsFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                                const model::ModelSpec& spec, int64_t batch) {
  const int64_t v = spec.vocab_size, h = spec.hidden_size;
  mil::Function* f = program->AddFunction("main");
  FunctionSignature sig;
  sig.name = "main";
  FeatureSpec ids = Feature("input_ids", {mil::DType::kInt32, {1, 1}});
  ids.enumerated_shapes = {{1, 1}, {1, batch}};
  ids.flexible_dims = {1};
  sig.inputs.push_back(ids);
  mil::Value in = f->Input("input_ids", ids.type);
  mil::Value table = w->Matrix(f, "embed_tokens", model::TensorRole::kEmbedding, 0, 0, v, {v, h});
  mil::Value out;
  const double scale = spec.embedding_scale * spec.residual_scale;
  if (scale != 1.0) {
    // Gemma: rows times sqrt(hidden) rounded to fp16, as transformers casts the normalizer to the
    // model's dtype (and times the residual scale, when one is given).
    mil::Value rows = GatherRows(f, table, in, "embedded");
    out = ScaleBy(f, rows, static_cast<float>(scale), "hidden_states");
  } else {
    out = GatherRows(f, table, in, "hidden_states");
  }
  f->Output(out, "hidden_states");
  ANEC_RETURN_IF_ERROR(program->status());
  // The int16 index cast GatherRows adds for a small vocabulary has input_ids' flexible shape.
  if (scale != 1.0) sig.flexible_values["embedded"] = {1};
  if (v <= 32767) {
    sig.flexible_values[scale != 1.0 ? "embedded_idx16" : "hidden_states_idx16"] = {
        1};
  }
  FeatureSpec o = OutputSpec("hidden_states", out);
  o.enumerated_shapes = {};
  o.flexible_dims = {1};
  sig.outputs.push_back(o);
  return sig;
}

}  // namespace anec::ane
