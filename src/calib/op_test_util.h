// Test-only: a compiled op for observer tests (activation_stats_test, loss_sensitivity_test).
#pragma once

#include <string>

#include "runtime/program.h"

namespace anec::calib::testing {

// One op whose `x` is env slot 0 and whose `weight` is the named constant `weight_name`.
inline runtime::CompiledOp MakeWeightOp(const std::string& type, const std::string& weight_name) {
  runtime::CompiledOp op;
  op.type = type;
  op.name = "op";
  runtime::Arg x;
  x.slot = 0;
  runtime::Arg w;
  w.constant = runtime::Tensor::Zeros(runtime::DType::kFloat16, {1});
  w.constant_name = weight_name;
  op.inputs = {{"x", {x}}, {"weight", {w}}};
  return op;
}

}  // namespace anec::calib::testing
