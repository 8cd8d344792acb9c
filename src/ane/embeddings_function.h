// The embeddings model: input_ids int32 [1,S] (enumerated shapes [1,1] and [1,batch]) ->
// hidden_states fp16 [1,S,H] by gather over the embedding table.
#pragma once

#include <cstdint>

#include "ane/model_assembly.h"
#include "ane/weight_emitter.h"
#include "model/model_spec.h"

namespace anec::ane {

// Adds function "main". The MIL program is typed for S=1 with dimension 1 marked flexible.
Result<FunctionSignature> AddEmbeddingsFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                                const model::ModelSpec& spec, int64_t batch);

}  // namespace anec::ane
