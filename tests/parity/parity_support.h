// Support for the end-to-end parity tests: the recorded transformers reference of a fixture
// (tests/fixtures/parity/<case>/reference.json, written by tools/make_parity_fixtures.py), a
// conversion of the fixture checkpoint with the real pipeline into a temporary folder, and the
// error measures the tests assert on (docs/PARITY.md).
//
// Nothing here imitates the converter or the runtime: the checkpoint goes through
// model::LoadHfCheckpoint + pipeline::Convert exactly as `anec convert` does, and the output is
// read back only through runtime::LlmModel::Open (the written packages and meta.yaml).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "pipeline/chunk_plan.h"
#include "runtime/llm_model.h"

namespace anec::parity {

struct ReferencePrompt {
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> logits;  // [len(ids)][vocab], transformers fp32
  std::vector<int32_t> greedy;             // greedy continuation after the prompt
  std::vector<double> greedy_margins;      // top-1 minus top-2 logit at each greedy step
};

struct Reference {
  std::string case_name;
  std::string family;
  std::vector<ReferencePrompt> prompts;
};

// The fixture folder of `case_name`: $ANEC_SOURCE_DIR/tests/fixtures/parity/<case_name>
// (ANEC_SOURCE_DIR defaults to the source tree this binary was configured from).
std::string FixtureDir(const std::string& case_name);

// Reads and checks <dir>/reference.json (every logits row has the same vocabulary size, one row
// per prompt token). Errors name the file and the field.
Result<Reference> LoadReference(const std::string& dir);

// A fresh folder under the system temp dir, removed (recursively) by the destructor unless
// ANEC_KEEP_PARITY_OUTPUT is set in the environment.
class TempDir {
 public:
  static Result<std::unique_ptr<TempDir>> Create(const std::string& label);
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct ParityConversion {
  int64_t chunks = 1;
  pipeline::LutPlan lut;  // all zero = fp16
  int64_t context = 64;
  int64_t batch = 8;
  bool per_chunk_kv = false;  // --kv-cache per-chunk
  bool argmax = false;        // --argmax
  // Convert the fixture's model.gguf (the same weights as model.safetensors, written in
  // llama.cpp's layout by tools/make_gguf_parity_fixtures.py) instead of the safetensors folder.
  bool from_gguf = false;
  double residual_scale = 0;  // --residual-scale (0: not given)
  // Stable key for caching:
  // "<case>/c<chunks>/e<embed>f<ffn>h<lmhead>g<group>/ctx..b..[/kvpc][/argmax][/gguf][/rs..]".
  std::string Key(const std::string& case_name) const;
};

// Converts the fixture checkpoint `fixture_dir` into `output_dir` with the real pipeline
// (LoadHfCheckpoint, or LoadGgufModel with `from_gguf`, + Convert; --skip-check because
// fixtures carry no tokenizer). The log of
// the conversion goes to `log_path` when not empty. Returns the pipeline's status unchanged, so
// an Unsupported architecture stays recognizable.
Status ConvertFixture(const std::string& fixture_dir, const std::string& output_dir,
                      const ParityConversion& conversion, const std::string& log_path = "");

// A converted model, converted at most once per (case, conversion) in this process and kept
// in a temp dir until the process ends. The status is the conversion's or the runtime's error.
struct ConvertedModel {
  Status status;
  std::string dir;
  std::unique_ptr<runtime::LlmModel> model;
};
ConvertedModel* GetConverted(const std::string& case_name, const ParityConversion& conversion);

// ---- measures ----
// max_i |a_i - b_i|. REQUIRES: equal sizes.
double MaxAbsDiff(std::span<const float> a, std::span<const float> b);
// max_i |a_i|.
double MaxAbs(std::span<const float> a);
// The index of the largest value (the first one on ties, as numpy.argmax).
int32_t Argmax(std::span<const float> logits);
// KL(softmax(p_logits) || softmax(q_logits)) in nats, computed in double.
double KlDivergence(std::span<const float> p_logits, std::span<const float> q_logits);

// Runs `tokens` through the model's prefill path: for every k, Reset() then Forward(tokens[0..k])
// (the first k-1 tokens go through `prefill` in zero-padded batches, the last through `infer`).
// Returns one logits row per position.
Result<std::vector<std::vector<float>>> LogitsViaPrefill(runtime::LlmModel* model,
                                                         std::span<const int32_t> tokens);

// Greedy decoding as a user would run it: Reset(), Forward(prompt) (prefill + infer), then
// Step(token) one at a time. Returns `steps` tokens.
Result<std::vector<int32_t>> GreedyDecode(runtime::LlmModel* model, std::span<const int32_t> prompt,
                                          int steps);

}  // namespace anec::parity
