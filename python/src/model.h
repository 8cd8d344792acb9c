// A converted model folder (what `anec run --model-path` opens) for Python: text generation
// through the same runtime objects as `anec run` / `anec chat`, perplexity as `anec perplexity`,
// and Core ML-like predict() on the folder's packages.
#pragma once

#include <nanobind/nanobind.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/converted_model.h"
#include "runtime.h"
#include "runtime/generation.h"

namespace anec::python {

class Model {
 public:
  // Errors are `anec run`'s for the same folder (they name --model-path).
  static std::unique_ptr<Model> Open(const std::string& path);
  Model(std::string path, cli::ConvertedModel converted);

  const std::string& path() const { return path_; }
  runtime::LlmModel& llm() { return *converted_.model; }
  const text::Tokenizer& tokenizer() const { return converted_.tokenizer; }
  cli::ConvertedModel& converted() { return converted_; }
  const std::set<int32_t>& stop_ids() const { return stop_ids_; }
  // Held by whoever runs the LlmModel (generation, perplexity): it keeps one KV cache.
  std::mutex& mu() { return mu_; }

  // predict(): the folder's functions by name ("embeddings", "lm_head", "ffn1.infer",
  // "ffn1.prefill", ...; a package with one function gives just its base name). The packages
  // are loaded on first use, separately from the generation model, so predict() never disturbs
  // its cache.
  Result<std::vector<std::string>> Functions();
  Result<std::pair<Package*, std::string>> Resolve(const std::string& function);
  // A State covering every state of every package.
  Result<std::unique_ptr<State>> MakeState();

 private:
  Status LoadPackages();

  std::string path_;
  cli::ConvertedModel converted_;
  std::set<int32_t> stop_ids_;
  std::mutex mu_;
  std::mutex packages_mu_;
  std::vector<std::unique_ptr<Package>> packages_;
  std::map<std::string, std::pair<Package*, std::string>> functions_;  // name -> (package, fn)
  std::vector<std::string> function_order_;
};

// Tokens generated on a worker thread and handed out one text piece at a time (the Python
// iterator returned by generate() and chat()). Closing it (or dropping it) stops generation
// after the current token.
class GenerationStream {
 public:
  GenerationStream(Model* model, std::vector<int32_t> prompt, runtime::GenerationOptions options);
  ~GenerationStream();

  // Waits up to `timeout_ms` for the next piece. Returns it, or nullopt when none arrived; sets
  // *finished when generation has ended and every piece was taken.
  std::optional<std::string> Next(int timeout_ms, bool* finished);
  void Close();
  // True once generation has ended and every piece was taken.
  bool Finished();
  // Valid once finished.
  const Status& status() const { return status_; }
  const runtime::GenerationStats& stats() const { return stats_; }

 private:
  void Run(Model* model, std::vector<int32_t> prompt, runtime::GenerationOptions options);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pieces_;
  bool done_ = false;
  std::atomic<bool> stop_{false};
  Status status_;
  runtime::GenerationStats stats_;
  std::thread worker_;
};

}  // namespace anec::python
