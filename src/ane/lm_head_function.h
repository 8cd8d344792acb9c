// The LM head model: hidden_states fp16 [1,1,H] -> logits1..logitsK fp16 [1,1,rows_k].
//
// The vocabulary is split into K = ceil(V / 16384) pieces (the Neural Engine's dimension limit)
// of ceil(V / K) rows, the last piece taking the remainder, so no row is ever dropped. Each piece
// is a 1x1 conv over the (tied or separate) output embedding.
#pragma once

#include <cstdint>
#include <vector>

#include "ane/model_assembly.h"
#include "ane/weight_emitter.h"
#include "model/model_spec.h"

namespace anec::ane {

inline constexpr int64_t kMaxLmHeadPieceRows = 16384;

// Row counts of the pieces; they sum to `vocab`, each <= max_rows.
std::vector<int64_t> LmHeadPieces(int64_t vocab, int64_t max_rows = kMaxLmHeadPieceRows);

// Adds function "main".
Result<FunctionSignature> AddLmHeadFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                            const model::ModelSpec& spec);

}  // namespace anec::ane
