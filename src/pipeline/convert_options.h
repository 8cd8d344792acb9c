// ConvertOptions: everything `anec convert` was asked to do, checked before any work starts,
// plus the output file names (ANEMLL's naming) and the options fingerprint --restart compares.
#pragma once

#include <cstdint>
#include <string>

#include "ane/kv_cache_layout.h"
#include "base/status.h"
#include "model/model_spec.h"
#include "pipeline/chunk_plan.h"

namespace anec::pipeline {

inline constexpr int kNumSteps = 8;

struct ConvertOptions {
  std::string model_dir;  // Hugging Face folder (config.json, tokenizer files, weights)
  // What the user named (a folder, GGUF file or Hub id), for the restart fingerprint; model_dir
  // may then be a temporary folder holding a GGUF's config.json and tokenizer files.
  std::string model_source;
  std::string output_dir;
  int64_t context = 1024;
  int64_t batch = 64;
  int64_t chunks = 0;  // 0 = auto
  Target target = Target::kIOS;
  LutPlan lut;         // 0 = none
  std::string prefix;  // empty = the architecture's default prefix
  int restart = 1;     // first step to run (1 = clean run)
  int only = 0;        // run just this step (0 = all from `restart`)
  bool skip_check = false;
  std::string architecture;  // override; empty = detect
  // Quantized weights carried into Core ML without re-quantizing: a GGUF's Q4_0/Q4_1/Q5_0/Q8_0/
  // Q2_K/Q3_K/Q4_K matrices (ane/ggml_blocks.h, --preserve-quant) or a GPTQ/AWQ checkpoint's int4
  // groups (ane/int4_blocks.h, the default for such input); the LUT settings then apply only to the
  // other weights. The weights themselves come from ConversionInput::weights.
  bool preserve_quant = false;
  // --kv-cache: one state for the whole model (ANEMLL's contract, the default) or one per chunk
  // holding only that chunk's layers (ane/kv_cache_layout.h).
  ane::KvCacheSharing kv_cache = ane::KvCacheSharing::kShared;
  // Per-file budget for --chunks auto instead of the target's (--max-file-mb; tests, experts);
  // 0 = the target's. Layers that do not fit it alone are split (chunk_plan.h).
  uint64_t max_file_bytes = 0;
  // --argmax: the LM head outputs per-piece argmax_idx/argmax_val instead of logits
  // (ane/lm_head_function.h; meta.yaml argmax_in_model: true).
  bool argmax = false;
  // --calibration: what the importance in ConversionInput was measured from
  // (calib::DescribeCalibration); empty = plain k-means. Part of the fingerprint.
  std::string calibration;
  // --lut auto --lut-bits-budget B: B (0 = off); lut.ffn then holds the nominal width (file
  // names, size plans) and ConversionInput::lut_bits the plan. Part of the fingerprint.
  double lut_auto_budget = 0;
  // --residual-scale: the residual stream is carried times this (ModelSpec::residual_scale;
  // Gemma 3's activations exceed fp16's 65504). 0 = not given (1). Part of the fingerprint.
  double residual_scale = 0;
  // The order a LUT conversion stores MLP channels in (ane/mlp_channel_order.h): "" for the
  // checkpoint's, "range-v1" for MlpChannelOrder. The caller reorders ConversionInput::weights
  // (the pipeline reads what it is given); this records it. Part of the fingerprint.
  std::string mlp_channel_order;
};

// The budget --chunks auto plans for: --max-file-mb when given, else the target's.
FileBudget BudgetOf(const ConvertOptions& o);

// Checks the options against the model: context a positive multiple of batch, chunks <= layers,
// LUT bits in {1,2,3,4,6,8}, restart/only in 1..8, a valid prefix. Messages name the flag.
Status ValidateOptions(const ConvertOptions& o, const model::ModelSpec& spec);

// Resolved file names (without folders).
struct FileNames {
  std::string prefix;
  int64_t chunks = 0;
  std::string embeddings;                   // llama_embeddings[_lutN].mlpackage
  std::string lm_head;                      // llama_lm_head[_lutN].mlpackage
  std::string ffn_base;                     // llama_FFN_PF[_lutN] (meta.yaml's ffn key, no suffix)
  std::string Chunk(int64_t k) const;       // llama_FFN_PF[_lutN]_chunk_01of02.mlpackage
  std::string InferChunk(int64_t k) const;  // work folder: llama_FFN[_lutN]_chunk_...
  std::string PrefillChunk(int64_t k) const;  // work folder: llama_prefill[_lutN]_chunk_...mlmodel
                                              // (program only; weights are step 3's)
  std::string ffn_lut_suffix;
};

FileNames MakeFileNames(const std::string& prefix, const LutPlan& lut, int64_t chunks);

// A stable text of everything that changes the output bytes (model identity and shape, context,
// batch, chunk count, LUT settings, prefix, file budget; `split_plan`: the chunks' pieces when
// the plan splits layers, else empty). --restart refuses a work folder with another one.
std::string OptionsFingerprint(const ConvertOptions& o, const model::ModelSpec& spec,
                               int64_t resolved_chunks, const std::string& config_json,
                               const std::string& split_plan = "");

}  // namespace anec::pipeline
