// meta.yaml: ANEMLL's description of a converted model (docs/PIPELINE.md, ane-llm.md).
// The file names it lists end in `.mlpackage` until step 6 compiles them to `.mlmodelc`.
#pragma once

#include <cstdint>
#include <string>

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
  int64_t split_lm_head = 0;
  bool compiled = false;  // .mlmodelc names instead of .mlpackage
  int64_t state_length = 0;    // KV cache rows; written only when it differs from the context
  int64_t sliding_window = 0;  // 0 = none (or not shorter than the context)
  bool kv_cache_per_chunk = false;
};

std::string MetaYaml(const MetaInfo& m);

}  // namespace anec::pipeline
