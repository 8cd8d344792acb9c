// ReferenceTransformer: an fp32 reference of the decoder models anec converts, evaluated straight
// from their weights (the ane::WeightSource the converter reads), with the backward pass of the
// summed next-token cross entropy. calib/loss_gradients.h turns it into `--lut auto`'s statistics.
//
// The model: embedding (times ModelSpec::embedding_scale), per layer RMSNorm -> q k v (+ bias,
// per-head q/k RMSNorm) -> RoPE (ane::ComputeRopeTables: rope scaling; Gemma 3's local layers
// with their own base) -> causal attention (GQA, sliding windows) -> o (+ sandwich norm) ->
// residual -> RMSNorm -> act(gate) * up (SiLU or tanh-GELU) -> down (+ sandwich norm) ->
// residual; final RMSNorm, LM head. RMSNorm gains are norm_weight_offset + weight. Its logits
// match transformers' on every parity fixture (loss_gradients_test.cc).
//
// Only the gradients with respect to activations are formed (no weight gradients). Memory: a
// window keeps the residual stream at each layer's input (tokens x hidden floats per layer) and
// recomputes a layer's forward pass when its backward pass needs it; one layer's weights are held
// in fp32 at a time, the embedding and the LM head in fp16. Products with W^T use the runtime's
// GEMM, products with W a row-streaming kernel; both run on `threads` cores.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "ane/weight_source.h"
#include "base/status.h"
#include "model/model_spec.h"

namespace anec::calib {

class ReferenceTransformer {
 public:
  static constexpr int kProjections = 7;
  // The layer projections in the order of a layer's gradients: "q_proj" ... "down_proj".
  static const char* const kProjectionTags[kProjections];
  // Called once per layer, last layer first, during the backward pass: for each projection,
  // dL/dy [tokens, rows] and its input x [tokens, cols]. Both live until the sink returns.
  using LayerSink =
      std::function<void(int64_t layer, const std::vector<float> (&grads)[kProjections],
                         const std::vector<float>* const (&inputs)[kProjections])>;

  // What a window's forward pass can report besides the logits (each may be empty / null).
  struct Taps {
    // Called once per layer, first layer first, with each projection's input x [tokens, cols].
    std::function<void(int64_t layer, const std::vector<float>* const (&inputs)[kProjections])>
        layer_inputs;
    // Sized to hidden_size on first use; += the LM head input's squares over every position.
    std::vector<double>* head_input_sum_sq = nullptr;
    // Sized to the vocabulary on first use; += softmax(logits) of every position.
    std::vector<double>* probability_sum = nullptr;
  };

  // Ok when the reference models `spec`; else Unsupported naming what it lacks.
  static Status Supported(const model::ModelSpec& spec);

  // REQUIRES: `weights` and `spec` outlive this; Supported(spec).
  ReferenceTransformer(const ane::WeightSource& weights, const model::ModelSpec& spec, int threads);
  ~ReferenceTransformer();

  // Reads the embedding, LM head and final norm; rotary tables for windows of up to
  // `max_tokens` positions.
  Status Init(int64_t max_tokens);

  // One window from position 0: forward pass, the summed cross entropy of each position's next
  // token (returned; the last position has none), backward pass into `sink`. `logits` (may be
  // null) receives [tokens, vocab]. With `target_log_probs` ([tokens, vocab], e.g. another
  // model's log-softmax on the same window) the loss is instead the summed KL(target || model)
  // of every position but the last (distillation). An empty `sink` skips the backward pass.
  // `taps` receive what the forward pass saw (Taps).
  // Errors: token ids outside the vocabulary, targets of another size, read errors.
  // REQUIRES: Init() with max_tokens >= tokens.size().
  Result<double> Window(std::span<const int32_t> tokens, std::vector<float>* logits,
                        const LayerSink& sink, std::span<const float> target_log_probs,
                        const Taps& taps);
  Result<double> Window(std::span<const int32_t> tokens, std::vector<float>* logits,
                        const LayerSink& sink, std::span<const float> target_log_probs = {});

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace anec::calib
