#include "pipeline/meta_yaml.h"

#include <yaml-cpp/yaml.h>

namespace anec::pipeline {

namespace {

std::string Lut(int bits) { return bits > 0 ? std::to_string(bits) : "none"; }

// ".mlpackage" -> ".mlmodelc": the name the compiled model has.
std::string Compiled(std::string package_name) {
  const std::string ext = ".mlpackage";
  if (package_name.size() > ext.size() &&
      package_name.compare(package_name.size() - ext.size(), ext.size(), ext) == 0) {
    package_name.resize(package_name.size() - ext.size());
  }
  return package_name + ".mlmodelc";
}

}  // namespace

std::string MetaYaml(const MetaInfo& m) {
  const FileNames names = MakeFileNames(m.prefix, m.lut, m.num_chunks);
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "model_info" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value
    << ("anemll-" + m.model_name + "-ctx" + std::to_string(m.context));
  e << YAML::Key << "version" << YAML::Value << m.version;
  e << YAML::Key << "description" << YAML::Value << YAML::Literal
    << ("Core ML model for the Apple Neural Engine, converted by anec from " + m.model_name +
        ".\nContext length " + std::to_string(m.context) + ", batch size " +
        std::to_string(m.batch) + ", " + std::to_string(m.num_chunks) + " FFN chunk(s).\n");
  e << YAML::Key << "license" << YAML::Value << "the license of the original model";
  e << YAML::Key << "author" << YAML::Value << "anec";
  e << YAML::Key << "framework" << YAML::Value << "Core ML";
  e << YAML::Key << "language" << YAML::Value << "English";
  e << YAML::Key << "architecture" << YAML::Value << m.architecture;
  e << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "context_length" << YAML::Value << m.context;
  e << YAML::Key << "batch_size" << YAML::Value << m.batch;
  e << YAML::Key << "lut_embeddings" << YAML::Value << Lut(m.lut.embed);
  e << YAML::Key << "lut_ffn" << YAML::Value << Lut(m.lut.ffn);
  e << YAML::Key << "lut_lmhead" << YAML::Value << Lut(m.lut.lmhead);
  e << YAML::Key << "num_chunks" << YAML::Value << m.num_chunks;
  e << YAML::Key << "model_prefix" << YAML::Value << m.prefix;
  e << YAML::Key << "embeddings" << YAML::Value << Compiled(names.embeddings);
  e << YAML::Key << "lm_head" << YAML::Value << Compiled(names.lm_head);
  e << YAML::Key << "ffn" << YAML::Value << Compiled(names.ffn_base);
  e << YAML::Key << "split_lm_head" << YAML::Value << m.lm_head.pieces;
  e << YAML::Key << "vocab_size" << YAML::Value << m.lm_head.vocab;
  e << YAML::Key << "lm_head_chunk_sizes" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (int64_t i = 0; i < m.lm_head.pieces; ++i) e << m.lm_head.piece_rows;
  e << YAML::EndSeq;
  if (m.argmax) e << YAML::Key << "argmax_in_model" << YAML::Value << true;
  // The prefill function writes its rows into the cache at current_pos (slice_update), so a
  // partial, zero-padded batch is fine: ANEMLL 0.3.5's runtimes prefill in batches only when
  // this is set (otherwise they fall back to one token at a time).
  e << YAML::Key << "prefill_dynamic_slice" << YAML::Value << true;
  // anec extensions; ANEMLL's runtimes ignore unknown keys.
  // Rows of the last LM-head piece past the vocabulary (their logit is the lowest fp16 value).
  if (m.lm_head.pad_rows() > 0) {
    e << YAML::Key << "lm_head_pad_rows" << YAML::Value << m.lm_head.pad_rows();
  }
  // Models below need anec's runtime (ANEMLL's cannot run them).
  if (m.sliding_window > 0) e << YAML::Key << "sliding_window" << YAML::Value << m.sliding_window;
  if (m.state_length > 0 && m.state_length != m.context) {
    e << YAML::Key << "state_length" << YAML::Value << m.state_length;
  }
  if (m.kv_cache_per_chunk) e << YAML::Key << "kv_cache" << YAML::Value << "per-chunk";
  e << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace anec::pipeline
