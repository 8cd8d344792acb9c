#include "ane/lm_head_function.h"

#include <algorithm>
#include <string>

#include "ane/mil_ops.h"

namespace anec::ane {

int64_t LmHeadLayout::RealRows(int64_t i) const {
  return std::clamp<int64_t>(vocab - i * piece_rows, 0, piece_rows);
}

LmHeadLayout PlanLmHead(int64_t vocab, int64_t preferred_pieces, int64_t max_rows) {
  LmHeadLayout l;
  l.vocab = vocab;
  const int64_t other = preferred_pieces == 16 ? 8 : 16;
  for (int64_t k : {preferred_pieces, other}) {
    if (vocab % k == 0 && vocab / k <= max_rows) {
      l.pieces = k;
      l.piece_rows = vocab / k;
      return l;
    }
  }
  int64_t k = preferred_pieces;
  while ((vocab + k - 1) / k > max_rows) k *= 2;
  l.piece_rows = (vocab + k - 1) / k;
  // Only the last piece may hold padding: a tiny vocabulary (fewer rows than K pieces of P
  // would need) gets fewer pieces rather than pieces of padding only.
  l.pieces = (vocab + l.piece_rows - 1) / l.piece_rows;
  return l;
}

LmHeadLayout LmHeadLayoutOf(const model::ModelSpec& spec) {
  return PlanLmHead(spec.vocab_size, spec.lm_head_pieces > 0 ? spec.lm_head_pieces : 8);
}

Result<FunctionSignature> AddLmHeadFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                            const model::ModelSpec& spec, bool argmax) {
  const int64_t h = spec.hidden_size;
  const LmHeadLayout layout = LmHeadLayoutOf(spec);
  mil::Function* f = program->AddFunction("main");
  FunctionSignature sig;
  sig.name = "main";
  FeatureSpec in_spec = Feature("hidden_states", {mil::DType::kFloat16, {1, 1, h}});
  sig.inputs.push_back(in_spec);
  mil::Value in = f->Input("hidden_states", in_spec.type);
  mil::Value x = ExpandDims(f, f->Transpose(in, {0, 2, 1}, "hidden_t"), {3}, "x");  // [1,H,1,1]
  std::vector<mil::Value> indices, values;
  for (int64_t i = 0; i < layout.pieces; ++i) {
    const std::string n = std::to_string(i + 1);
    const std::string name = "logits" + n;
    const int64_t real = layout.RealRows(i), row = i * layout.piece_rows;
    mil::Value y;
    if (real > 0) {
      mil::Value wt = w->Matrix(f, "lm_head_" + n, model::TensorRole::kLmHead, 0, row, row + real,
                                {real, h, 1, 1});
      y = w->ScaleOutput(f, "lm_head_" + n, f->Conv(x, wt, std::nullopt, name + "_conv"),
                         name + "_scaled");
    }
    if (real < layout.piece_rows) {
      const int64_t pad = layout.piece_rows - real;
      mil::Value fill =
          f->Const(mil::Tensor::F16({1, pad, 1, 1},
                                    std::vector<float>(static_cast<size_t>(pad), kLmHeadPadLogit)),
                   name + "_pad_rows");
      y = real > 0 ? f->Concat({y, fill}, 1, name + "_padded") : fill;
    }
    mil::Value out = f->Reshape(y, {1, 1, layout.piece_rows}, argmax ? name + "_rows" : name);
    if (!argmax) {
      f->Output(out, name);
      sig.outputs.push_back(OutputSpec(name, out));
      continue;
    }
    indices.push_back(f->Op("reduce_argmax",
                            {{"x", out},
                             {"axis", mil::Tensor::ScalarI32(-1)},
                             {"keep_dims", mil::Tensor::ScalarBool(true)}},
                            name + "_argmax"));
    values.push_back(
        f->Op("reduce_max",
              {{"x", out}, {"axes", I32s({-1})}, {"keep_dims", mil::Tensor::ScalarBool(true)}},
              name + "_max"));
  }
  if (argmax) {
    mil::Value idx =
        f->Reshape(f->Concat(indices, 2, "argmax_idx_pieces"), {layout.pieces}, "argmax_idx");
    mil::Value val =
        f->Reshape(f->Concat(values, 2, "argmax_val_pieces"), {layout.pieces}, "argmax_val");
    f->Output(idx, "argmax_idx");
    f->Output(val, "argmax_val");
    sig.outputs.push_back(OutputSpec("argmax_idx", idx));
    sig.outputs.push_back(OutputSpec("argmax_val", val));
  }
  ANEC_RETURN_IF_ERROR(program->status());
  return sig;
}

}  // namespace anec::ane
