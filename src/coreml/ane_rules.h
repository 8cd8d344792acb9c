// The Neural Engine placement rules, checked statically over a written MIL program
// (docs/ANE_RULES.md; ane_check.h runs them over packages for `anec inspect --ane`).
//
// Nothing here runs Core ML. The check reads each package through Package (as inspect.h does),
// walks every op of every function (nested blocks too) with ProgramGraph, infers from the value
// types what each op needs, and reports what would make Core ML place an op on the GPU/CPU, or run
// it slowly on the ANE: fp32 or int32 compute, dimensions over 16,384, rank over 5, a narrow last
// axis on a heavy op, scaled_dot_product_attention, int32 gather indices on a table int16 can
// index, dilated convolutions and -inf constants. Each rule has an id, a level and a public
// source (AneRules()).
//
// Constants are not compute: values Core ML folds before running (const, constexpr_* and ops of
// constants only) are exempt from the compute rules, except where a rule says otherwise (conv /
// linear / matmul weights for the dimension rule, every float constant for -inf).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coreml/blob_file.h"
#include "coreml/proto/model.pb.h"

namespace anec::coreml {

enum class AneLevel { kWarning, kError };
std::string_view AneLevelName(AneLevel level);  // "warning" / "error"

struct AneRule {
  std::string_view id;  // "fp32-compute"
  AneLevel level;
  std::string_view summary;  // one line: what is flagged
  std::string_view source;   // public source, URL-free
};

// Every rule, in the order docs/ANE_RULES.md lists them.
const std::vector<AneRule>& AneRules();
// REQUIRES: `id` is one of AneRules()'s ids.
const AneRule& AneRuleById(std::string_view id);

struct AneFinding {
  std::string package;   // package folder name, "llama_lm_head.mlpackage"
  std::string function;  // "infer", "main"
  std::string op;        // op name, or the function input / output / state name
  std::string op_type;   // "conv", or "function input" / "function output" / "state"
  std::string rule;      // AneRule::id
  AneLevel level = AneLevel::kError;
  std::string message;
  std::string source;  // AneRule::source
};

// Tensor dimensions the Neural Engine takes on every chip (A13-A15 / M1 width and height).
inline constexpr int64_t kAneMaxDim = 16384;
// The channel axis limit some chips allow; mentioned in the dim finding's message.
inline constexpr int64_t kAneMaxChannels = 65536;
inline constexpr int64_t kAneMaxRank = 5;
// The ANE pads the last axis to this many bytes (32 fp16 elements).
inline constexpr int64_t kAneLastAxisBytes = 64;
// An elementwise op counts as heavy for the last-axis rule from this many output elements.
inline constexpr int64_t kHeavyElementwiseElements = 16384;
// coremltools' add_int16_cast casts dynamic gather indices when the gathered axis is at most
// this long (INT16_MAX).
inline constexpr int64_t kInt16IndexableRows = 32767;
// Float constants larger than this are weight matrices: not scanned for -inf (time).
inline constexpr uint64_t kMaxScannedConstBytes = uint64_t{64} << 20;

// Checks every function of `model`. `weights` (may be null) lets the -inf rule read blob
// constants. `package` is copied into each finding.
std::vector<AneFinding> CheckAneModel(const CoreML::Specification::Model& model,
                                      const BlobReader* weights, const std::string& package);

}  // namespace anec::coreml
