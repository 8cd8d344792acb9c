// Test-only: a toy LLM with ANEMLL's I/O contract, small enough to compute by hand
// (shared by llm_model_test.cc and generation_test.cc).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/mil_test_util.h"

namespace anec::runtime::testing {

constexpr int64_t kVocab = 6, kHidden = 2, kContext = 16, kBatch = 4, kLayers = 2;

// A toy model with the ANEMLL I/O contract. Chunk L stores its input rows in layer L of the
// shared state and outputs, for each row, the sum of the cached rows its mask lets it see; so
// the last chunk's output at position p is sum_{i<=p} sum_{j<=i} E[t_j] and any mistake in
// positions, masks, batching or state sharing changes the logits.
inline void AddChunkFunction(ModelBuilder* mb, const std::string& name, int32_t layer, int64_t rows) {
  const int32_t R = static_cast<int32_t>(rows), H = kHidden, C = kContext;
  mb->Function(name)
      .Input("hidden_states", kFp16, {1, rows, kHidden})
      .Input("position_ids", kInt32, {rows})
      .Input("causal_mask", kFp16, {1, 1, rows, kContext})
      .Input("current_pos", kInt32, {1})
      .State("model.model.kv_cache_0", {kLayers, 1, kContext, kHidden})
      .Op("concat", "b", {{"values", std::vector<std::string>{"b0", "current_pos", "b1"}}, {"axis", Scalar(0)}},
          {{"b", kInt32, {4}}})
      .Op("add", "e", {{"x", std::string("b")}, {"y", Int32s({1, 1, R, H})}}, {{"e", kInt32, {4}}})
      .Op("reshape", "h4", {{"x", std::string("hidden_states")}, {"shape", Int32s({1, 1, R, H})}},
          {{"h4", kFp16, {1, 1, rows, kHidden}}})
      .Op("read_state", "r0", {{"input", std::string("model.model.kv_cache_0")}},
          {{"r0", kFp16, {kLayers, 1, kContext, kHidden}}})
      .Op("slice_update", "u", {{"x", std::string("r0")}, {"update", std::string("h4")},
                                {"begin", std::string("b")}, {"end", std::string("e")}},
          {{"u", kFp16, {kLayers, 1, kContext, kHidden}}})
      .Op("write_state", "ws", {{"input", std::string("model.model.kv_cache_0")}, {"data", std::string("u")}}, {})
      .Op("read_state", "r1", {{"input", std::string("model.model.kv_cache_0")}},
          {{"r1", kFp16, {kLayers, 1, kContext, kHidden}}})
      .Op("slice_by_index", "layer", {{"x", std::string("r1")}, {"begin", Int32s({layer, 0, 0, 0})},
                                      {"end", Int32s({layer + 1, 1, C, H})}},
          {{"layer", kFp16, {1, 1, kContext, kHidden}}})
      .Op("reshape", "kv", {{"x", std::string("layer")}, {"shape", Int32s({C, H})}}, {{"kv", kFp16, {kContext, kHidden}}})
      .Op("exp", "w", {{"x", std::string("causal_mask")}}, {{"w", kFp16, {1, 1, rows, kContext}}})
      .Op("reshape", "w2", {{"x", std::string("w")}, {"shape", Int32s({R, C})}}, {{"w2", kFp16, {rows, kContext}}})
      .Op("matmul", "o", {{"x", std::string("w2")}, {"y", std::string("kv")}}, {{"o", kFp16, {rows, kHidden}}})
      .Op("reshape", "output_hidden_states", {{"x", std::string("o")}, {"shape", Int32s({1, R, H})}},
          {{"output_hidden_states", kFp16, {1, rows, kHidden}}})
      .Output("output_hidden_states");
}

// The two constants a chunk's concat needs must come before it: rebuild with them first.
inline ModelBuilder Chunk(int32_t layer) {
  ModelBuilder mb;
  for (auto [name, rows] : {std::pair<std::string, int64_t>{"infer", 1}, {"prefill", kBatch}}) {
    mb.Function(name).Const("b0", Int32s({layer, 0})).Const("b1", Int32s({0}));
    AddChunkFunction(&mb, name, layer, rows);
  }
  return mb;
}

inline std::vector<float> Embedding() {
  std::vector<float> e;
  for (int v = 0; v < kVocab; ++v) {
    e.push_back(static_cast<float>(v));
    e.push_back(static_cast<float>(1 - v % 2));
  }
  return e;
}

// `seq` fixes the input length (-1: any length).
inline ModelBuilder Embeddings(int64_t seq = -1) {
  ModelBuilder mb;
  mb.Function("main")
      .Input("input_ids", kInt32, {1, seq})
      .Const("table", Fp16({kVocab, kHidden}, Embedding()))
      .Op("gather", "hidden_states", {{"x", std::string("table")}, {"indices", std::string("input_ids")},
                                      {"axis", Scalar(0)}},
          {{"hidden_states", kFp16, {1, seq, kHidden}}})
      .Output("hidden_states");
  return mb;
}

inline const std::vector<float> kW1 = {1, 0, 0, 1, 1, 1}, kW2 = {2, -1, -1, 0};

inline ModelBuilder LmHead() {
  ModelBuilder mb;
  mb.Function("main")
      .Input("hidden_states", kFp16, {1, 1, kHidden})
      .Const("w1", Fp16({3, kHidden}, kW1))
      .Const("w2", Fp16({2, kHidden}, kW2))
      .Op("linear", "logits2", {{"x", std::string("hidden_states")}, {"weight", std::string("w2")}},
          {{"logits2", kFp16, {1, 1, 2}}})
      .Op("linear", "logits1", {{"x", std::string("hidden_states")}, {"weight", std::string("w1")}},
          {{"logits1", kFp16, {1, 1, 3}}})
      .Output("logits2")
      .Output("logits1");
  return mb;
}

// Independent reference of the toy model.
inline std::vector<float> Expected(const std::vector<int32_t>& t) {
  std::vector<float> e = Embedding();
  double h1[2] = {0, 0}, h2[2] = {0, 0};
  for (int32_t id : t) {
    for (int k = 0; k < 2; ++k) {
      h1[k] += e[static_cast<size_t>(id * 2 + k)];
      h2[k] += h1[k];
    }
  }
  std::vector<float> out;
  for (int r = 0; r < 3; ++r) out.push_back(static_cast<float>(kW1[r * 2] * h2[0] + kW1[r * 2 + 1] * h2[1]));
  for (int r = 0; r < 2; ++r) out.push_back(static_cast<float>(kW2[r * 2] * h2[0] + kW2[r * 2 + 1] * h2[1]));
  return out;
}

}  // namespace anec::runtime::testing
