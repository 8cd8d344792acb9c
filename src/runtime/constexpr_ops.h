// Load-time evaluation of Core ML's constexpr_* ops (weight decompression).
// constexpr_lut_to_dense stays compressed (a LUT tensor, see lut_weight.h); the others produce
// dense tensors.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/status.h"
#include "runtime/const_value.h"
#include "runtime/tensor.h"

namespace anec::runtime {

// One constant argument: the decoded tensor plus, for sub-byte data, its packed stored form.
struct ConstArg {
  Tensor tensor;
  std::optional<StoredValue> stored;
  std::shared_ptr<const void> keep_alive;
};

bool IsConstexprOp(std::string_view type);

// True when constexpr op `type` reads its input `param` only in stored form (ConstArg::stored):
// the loader then leaves a sub-byte value packed (ConstArg::tensor undefined).
bool ReadsPacked(std::string_view type, std::string_view param);

// Evaluates `type` with its named arguments. Errors name the parameter and what was expected.
Result<Tensor> EvaluateConstexpr(std::string_view type,
                                 const std::map<std::string, ConstArg, std::less<>>& args);

}  // namespace anec::runtime
