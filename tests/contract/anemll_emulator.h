// Runs a converted folder the way one ANEMLL runtime would, with anec's low-level runtime API
// (Program + RunFunction; not LlmModel): the files that runtime finds (anemll_paths.h), the
// functions it loads, the inputs, shared state, prefill schedule, host mask and LM-head mapping
// it uses (anemll_rules.h). Before every call the inputs it would feed are checked against the
// function's declared I/O in the package's model description (as Core ML checks them), and the
// outputs it reads against what the function declares; any mismatch is an error naming the
// runtime, the package, the function and the feature.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "anemll_paths.h"
#include "anemll_rules.h"
#include "base/status.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace anec::contract {

class Emulator {
 public:
  // `dir` holds meta.yaml and the .mlpackage folders; `listing` is what the runtime sees (the
  // folder as written, or AfterCompile() of it). A `.mlmodelc` name is run from the package
  // compile_on_mac.sh compiles it from.
  // `mask_lookahead`: overrides the runtime's infer-mask lookahead (to show that Swift CLI
  // 0.3.4's one-column-ahead mask is its only difference from 0.3.5).
  static Result<std::unique_ptr<Emulator>> Open(AnemllRuntime runtime, const std::string& dir,
                                                const FolderListing& listing,
                                                std::optional<int> mask_lookahead = std::nullopt);

  const ResolvedFiles& files() const { return files_; }
  const DriveRules& rules() const { return rules_; }

  struct Step {
    int position = 0;                        // of the token fed to infer
    int64_t token = 0;                       // what the runtime picked
    std::vector<std::vector<float>> logits;  // logits1..K as read (empty in argmax mode)
    std::vector<int32_t> argmax_idx;         // argmax mode
    std::vector<float> argmax_val;
  };

  // The runtime's chat loop after a prompt, greedy: prefill, then one infer + LM head per token,
  // with its context shift. Stops after `steps` tokens (or where the runtime stops).
  Result<std::vector<int32_t>> Greedy(std::span<const int32_t> prompt, int steps);
  const std::vector<Step>& steps() const { return steps_; }
  // Positions at which a context shift happened, and the tokens kept.
  const std::vector<std::vector<int32_t>>& shift_windows() const { return shift_windows_; }
  // Calls made so far, by kind ("embeddings", "prefill", "infer", "lm_head").
  int calls(const std::string& kind) const;

 private:
  Emulator() = default;
  struct Loaded {
    std::string file;  // as resolved
    std::shared_ptr<const runtime::Program> program;
  };
  Status Load();
  Status CheckStates(const runtime::CompiledFunction& fn, const std::string& where) const;
  Result<runtime::NamedTensors> Call(const Loaded& pkg, const runtime::CompiledFunction& fn,
                                     const std::string& kind, runtime::NamedTensors fed);
  Result<runtime::Tensor> Embed(std::span<const int32_t> ids, int64_t length, bool prefill);
  Status PrefillBatch(std::span<const int32_t> tokens, int batch_pos);
  Result<runtime::Tensor> InferHidden(int32_t token, int pos);
  Result<int64_t> HeadToken(const runtime::Tensor& hidden);
  Status Prefill(std::span<const int32_t> tokens);
  Status Expect(const runtime::Tensor& t, const std::vector<int64_t>& shape,
                const std::string& what) const;

  AnemllRuntime runtime_{};
  std::string dir_;
  MetaParams meta_;
  DriveRules rules_;
  ResolvedFiles files_;
  Loaded embeddings_, lm_head_;
  std::vector<Loaded> chunks_;
  const runtime::CompiledFunction* embed_fn_ = nullptr;
  const runtime::CompiledFunction* head_fn_ = nullptr;
  std::vector<const runtime::CompiledFunction*> infer_, prefill_;
  runtime::StateStore state_;
  std::vector<int64_t> infer_hidden_shape_;  // chunk 1 infer's hidden_states (Swift backings)
  int64_t hidden_ = 0;
  std::vector<Step> steps_;
  std::vector<std::vector<int32_t>> shift_windows_;
  std::map<std::string, int> calls_;
};

}  // namespace anec::contract
