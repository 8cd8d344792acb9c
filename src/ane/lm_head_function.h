// The LM head model: hidden_states fp16 [1,1,H] -> logits1..logitsK fp16 [1,1,P], or with
// `argmax` the in-model argmax of ANEMLL 0.3.5: argmax_idx int32 [K] (the winning row within
// each piece) and argmax_val fp16 [K] (its logit).
//
// The vocabulary is split into K EQUAL pieces of P <= 16,384 rows (the Neural Engine's dimension
// limit). Equal pieces are part of the contract: ANEMLL's Swift CLI maps piece i's argmax to
// token (i-1) * P_i + index, which is right only when every piece has the same size. K is
// ANEMLL's count for the architecture (split_lm_head: 8 for Llama, 16 for Qwen) when it divides
// the vocabulary; see PlanLmHead() for the rest. When no count divides it, the last piece is
// padded with rows whose logit is the lowest finite fp16 value (kLmHeadPadLogit), so a padded row
// never wins an argmax and has zero probability; they are appended by a concat of a constant, not
// stored as weights. Each piece is a 1x1 conv over the (tied or separate) output embedding.
#pragma once

#include <cstdint>
#include <vector>

#include "ane/model_assembly.h"
#include "ane/weight_emitter.h"
#include "model/model_spec.h"

namespace anec::ane {

inline constexpr int64_t kMaxLmHeadPieceRows = 16384;
// -65504: the lowest finite fp16 value (not -inf, which the Neural Engine rules flag).
inline constexpr float kLmHeadPadLogit = -65504.0f;

struct LmHeadLayout {
  int64_t vocab = 0;
  int64_t pieces = 0;      // K
  int64_t piece_rows = 0;  // P, the same for every piece
  int64_t pad_rows() const { return pieces * piece_rows - vocab; }
  // Real (unpadded) rows of piece i (0-based).
  int64_t RealRows(int64_t i) const;
};

// K for `vocab` rows, preferring `preferred_pieces` (the architecture's ANEMLL count):
//   1. the preferred count, then the other ANEMLL count (8 <-> 16), if it divides vocab into
//      pieces of at most max_rows;
//   2. otherwise the first of preferred, 2*preferred, 4*preferred, ... with ceil(vocab/K) <=
//      max_rows, the last piece padded (K lowered to ceil(vocab/P) for a vocabulary so small
//      that more than the last piece would be padding).
// REQUIRES: vocab > 0, preferred_pieces > 0.
LmHeadLayout PlanLmHead(int64_t vocab, int64_t preferred_pieces,
                        int64_t max_rows = kMaxLmHeadPieceRows);

// The layout for `spec` (its vocab_size and lm_head_pieces).
LmHeadLayout LmHeadLayoutOf(const model::ModelSpec& spec);

// Adds function "main". `argmax`: outputs argmax_idx/argmax_val instead of the logits.
Result<FunctionSignature> AddLmHeadFunction(mil::ProgramBuilder* program, WeightEmitter* w,
                                            const model::ModelSpec& spec, bool argmax = false);

}  // namespace anec::ane
