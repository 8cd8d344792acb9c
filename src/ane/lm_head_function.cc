#include "ane/lm_head_function.h"

#include "ane/mil_ops.h"

namespace anec::ane {

std::vector<int64_t> LmHeadPieces(int64_t vocab, int64_t max_rows) {
  std::vector<int64_t> pieces;
  if (vocab <= 0) return pieces;
  const int64_t k = (vocab + max_rows - 1) / max_rows;
  const int64_t size = (vocab + k - 1) / k;
  for (int64_t done = 0; done < vocab; done += size) pieces.push_back(std::min(size, vocab - done));
  return pieces;
}

Result<FunctionSignature> AddLmHeadFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                            const model::ModelSpec& spec) {
  const int64_t h = spec.hidden_size;
  mil::Function* f = program->AddFunction("main");
  FunctionSignature sig;
  sig.name = "main";
  FeatureSpec in_spec = Feature("hidden_states", {mil::DType::kFloat16, {1, 1, h}});
  sig.inputs.push_back(in_spec);
  mil::Value in = f->Input("hidden_states", in_spec.type);
  mil::Value x = ExpandDims(f, f->Transpose(in, {0, 2, 1}, "hidden_t"), {3}, "x");  // [1,H,1,1]
  int64_t row = 0;
  int i = 0;
  for (int64_t rows : LmHeadPieces(spec.vocab_size)) {
    ++i;
    const std::string name = "logits" + std::to_string(i);
    mil::Value wt = w->Matrix(f, "lm_head_" + std::to_string(i), model::TensorRole::kLmHead, 0, row,
                              row + rows, {rows, h, 1, 1});
    mil::Value y = f->Conv(x, wt, std::nullopt, name + "_conv");
    mil::Value out = f->Reshape(y, {1, 1, rows}, name);
    f->Output(out, name);
    sig.outputs.push_back(OutputSpec(name, out));
    row += rows;
  }
  ANEC_RETURN_IF_ERROR(program->status());
  return sig;
}

}  // namespace anec::ane
