// Internal records of a Function, shared by the builder, the op registry and the serializer.
// Not part of the public contract: callers use Value / Function / ProgramBuilder.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mil/program_builder.h"

namespace anec::mil {

struct Function::ValueInfo {
  std::string name;
  TensorType type;
  bool is_state = false;
  int producer = -1;                    // index into ops(); -1 for function inputs
  std::optional<Tensor> inline_value;   // const ops stored in the program
  std::optional<uint64_t> blob_offset;  // const ops stored in weight.bin (metadata offset)
  bool is_constexpr = false;            // output of a constexpr_* op
};

struct Function::OpRecord {
  std::string type;
  std::string name;
  // param -> value ids; a tuple input (concat.values) has several ids.
  std::vector<std::pair<std::string, std::vector<int>>> inputs;
  std::vector<int> outputs;
};

// For each value id of `fn`: true for a const whose every consumer is a constexpr_* op. Such
// consts are not written as const ops: their values are bound inline to the constexpr inputs.
std::vector<bool> ConstsFoldedIntoConstexpr(const Function& fn);

// True for a valid identifier: [A-Za-z_][A-Za-z0-9_@]*.
bool IsIdentifier(const std::string& s);

// fp16 bit conversions (round to nearest even).
uint16_t FloatToHalfBits(float f);
float HalfBitsToFloat(uint16_t h);

}  // namespace anec::mil
