// meta.yaml: ANEMLL's description of a converted model (docs/PIPELINE.md, ane-llm.md).
// The file names it lists are always the compiled `.mlmodelc` names, as ANEMLL writes them: its
// Swift CLI loads those paths as they are (and, for several chunks, strips `.mlmodelc` from
// `ffn` and appends `_chunk_01ofNN.mlmodelc`); chat.py strips either suffix and tries both.
// On Linux the folder holds the `.mlpackage` files and compile_on_mac.sh, which writes the
// `.mlmodelc` files beside them under exactly these names.
#pragma once

#include <cstdint>
#include <string>

#include "ane/lm_head_function.h"
#include "pipeline/chunk_plan.h"
#include "pipeline/convert_options.h"

namespace anec::pipeline {

struct MetaInfo {
  std::string model_name;    // e.g. the checkpoint folder name
  std::string architecture;  // "llama", "qwen2", ...
  std::string version;       // anec version
  int64_t context = 0;
  int64_t batch = 0;
  LutPlan lut;
  int64_t num_chunks = 0;
  std::string prefix;
  // split_lm_head, vocab_size, lm_head_chunk_sizes (ANEMLL 0.3.5's keys) and, when the last
  // piece is padded, lm_head_pad_rows (anec's).
  ane::LmHeadLayout lm_head;
  bool argmax = false;  // argmax_in_model: true
  int64_t state_length = 0;    // KV cache rows; written only when it differs from the context
  int64_t sliding_window = 0;  // 0 = none (or not shorter than the context)
  bool kv_cache_per_chunk = false;
};

std::string MetaYaml(const MetaInfo& m);

}  // namespace anec::pipeline
