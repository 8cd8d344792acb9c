// Test helpers for the ANE builders: tiny model specs and serialized-program lookups.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coreml/proto/model.pb.h"
#include "model/model_spec.h"

namespace anec::ane {

// A tiny Llama-shaped spec: hidden 64, 4 heads, 2 kv heads, head_dim 16, intermediate 96.
model::ModelSpec TinySpec(int64_t layers = 3, int64_t vocab = 100, bool tied = false);

// Ops of `fn` (first block) whose type is `type`.
std::vector<const CoreML::Specification::MILSpec::Operation*> OpsOfType(
    const CoreML::Specification::MILSpec::Function& fn, const std::string& type);
// The op producing value `name`, or null.
const CoreML::Specification::MILSpec::Operation* Producer(
    const CoreML::Specification::MILSpec::Function& fn, const std::string& name);
// Dims of a tensor ValueType (-1 for unknown).
std::vector<int64_t> Dims(const CoreML::Specification::MILSpec::ValueType& t);

}  // namespace anec::ane
