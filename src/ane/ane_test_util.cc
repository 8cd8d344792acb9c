#include "ane/ane_test_util.h"

namespace anec::ane {

namespace MS = CoreML::Specification::MILSpec;

model::ModelSpec TinySpec(int64_t layers, int64_t vocab, bool tied) {
  model::ModelSpec s;
  s.architecture = model::Architecture::kLlama;
  s.model_type = "llama";
  s.name = "tiny";
  s.hidden_size = 64;
  s.num_layers = layers;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_dim = 16;
  s.intermediate_size = 96;
  s.vocab_size = vocab;
  s.rms_norm_eps = 1e-5;
  s.rope_theta = 10000.0;
  s.tie_word_embeddings = tied;
  s.default_prefix = "llama";
  return s;
}

std::vector<const MS::Operation*> OpsOfType(const MS::Function& fn, const std::string& type) {
  std::vector<const MS::Operation*> out;
  for (const auto& [opset, block] : fn.block_specializations()) {
    for (const MS::Operation& op : block.operations()) {
      if (op.type() == type) out.push_back(&op);
    }
  }
  return out;
}

const MS::Operation* Producer(const MS::Function& fn, const std::string& name) {
  for (const auto& [opset, block] : fn.block_specializations()) {
    for (const MS::Operation& op : block.operations()) {
      for (const auto& o : op.outputs()) {
        if (o.name() == name) return &op;
      }
    }
  }
  return nullptr;
}

std::vector<int64_t> Dims(const MS::ValueType& t) {
  const MS::TensorType& tt =
      t.has_statetype() ? t.statetype().wrappedtype().tensortype() : t.tensortype();
  std::vector<int64_t> d;
  for (const auto& dim : tt.dimensions()) {
    d.push_back(dim.has_constant() ? static_cast<int64_t>(dim.constant().size()) : -1);
  }
  return d;
}

}  // namespace anec::ane
