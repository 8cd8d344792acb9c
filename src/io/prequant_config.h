// PrequantConfig: the `quantization_config` of an already-quantized (GPTQ / AWQ int4) Hugging
// Face checkpoint, parsed and checked against what anec can read.
//
// Supported (docs/PREQUANT.md):
//   quant_method "gptq": bits 4, any group_size (-1 = one group per column), desc_act / g_idx,
//     sym true or false, checkpoint_format "gptq" (v1: stored zero = zero - 1) or "gptq_v2".
//   quant_method "awq": bits 4, version "gemm", zero_point true, any group_size.
// Everything else (bits != 4, fp8, exl2, bitsandbytes, compressed-tensors, hqq, marlin / bitblas
// packing, AWQ gemv...) is rejected with kUnsupported naming the scheme and what is supported.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

namespace anec::io {

enum class PrequantMethod { kGptq, kAwqGemm };

std::string_view PrequantMethodName(PrequantMethod m);  // "gptq", "awq (gemm)"

struct PrequantConfig {
  std::string path;  // the file it came from, for messages
  PrequantMethod method = PrequantMethod::kGptq;
  int bits = 4;
  // Input features per group; -1 means one group spanning all input features.
  int64_t group_size = 128;
  bool desc_act = false;  // GPTQ act-order: g_idx is a permuted grouping
  bool sym = true;
  // GPTQ v1 ("gptq" checkpoint_format): qzeros hold zero - 1, so readers add 1 to each nibble.
  // False for gptq_v2 and AWQ.
  bool zeros_minus_one = false;
  // Module names left unquantized (AWQ `modules_to_not_convert`), informational.
  std::vector<std::string> modules_to_not_convert;
};

// Parses a `quantization_config` object (or a standalone quantize_config.json /
// quant_config.json body). `path` is used in messages only.
Result<PrequantConfig> ParsePrequantConfig(const nlohmann::json& qc, std::string_view path);

// Finds the quantization settings of the model folder `dir`: config.json's
// `quantization_config`, else a legacy quantize_config.json (AutoGPTQ) or quant_config.json
// (AutoAWQ). nullopt when the checkpoint is not pre-quantized (none of these present).
// A config.json that is not valid JSON is an error (kInvalidArgument naming the file).
Result<std::optional<PrequantConfig>> ReadPrequantConfig(FileSystem* fs, const std::string& dir);

}  // namespace anec::io
