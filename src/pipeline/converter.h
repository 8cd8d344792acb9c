// Convert: the numbered conversion steps (docs/PIPELINE.md).
//
//   1 embeddings   2 LM head   3 FFN (infer) chunks   4 prefill chunks   5 combine into
//   multi-function chunks   6 compile (macOS) / compile_on_mac.sh   7 tokenizer + config.json +
//   meta.yaml   8 test prompt
//
// Step 3 writes single-function infer packages into OUT/.anec-work, converting (or palettizing)
// each weight once; step 4 builds each prefill function from step 3's package by constant name
// and keeps only its program (a .mlmodel file, no weight bytes); step 5 hard-links the infer weights
// once and points both functions at them in OUT/{prefix}_FFN_PF[_lutN]_chunk_KKofNN.mlpackage.
// Every package is
// written atomically. --restart N / --only N reuse earlier outputs after checking the options
// fingerprint and the step markers (work_state.h).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "ane/weight_source.h"
#include "base/file_system.h"
#include "model/model_spec.h"
#include "pipeline/convert_options.h"

namespace anec::pipeline {

inline constexpr const char* kAnecVersion = "0.1.0";

struct ConversionInput {
  model::ModelSpec spec;
  const ane::WeightSource* weights = nullptr;  // REQUIRES: outlives Convert
  std::string config_json;                     // config.json contents (fingerprint)
};

struct ConvertHooks {
  std::FILE* log = stderr;  // plan, progress and notes; null = silent
  // Called after each package a step writes (unit = its file name) and at the end of each step
  // (unit = ""). A non-OK status stops the run there, as a crash would (tests).
  std::function<Status(int step, const std::string& unit)> after_unit;
  // Step 8: answer a test prompt with the converted model in `output_dir`. Unset: step 8 is
  // skipped, printing `test_prompt_unavailable`.
  std::function<Status(const std::string& output_dir)> test_prompt;
  std::string test_prompt_unavailable = "the CPU runtime has no generation API yet";
  // Overrides the platform check for step 6 (tests): true = behave as on macOS.
  bool force_non_macos = false;
};

struct StepTiming {
  int step = 0;
  std::string name;
  bool ran = false;
  double seconds = 0;
  std::string note;
};

struct OutputFile {
  std::string name;
  uint64_t bytes = 0;
};

struct ConversionReport {
  int64_t chunks = 0;
  std::vector<StepTiming> steps;
  std::vector<OutputFile> files;
};

std::string_view StepName(int step);

Result<ConversionReport> Convert(FileSystem* fs, const ConversionInput& input,
                                 ConvertOptions options, const ConvertHooks& hooks = {});

// The closing table: files, sizes, whether each fits iOS / macOS, and the time per step.
std::string FormatReport(const ConversionReport& report);

}  // namespace anec::pipeline
