// Convert: the numbered conversion steps (docs/PIPELINE.md).
//
//   1 embeddings   2 LM head   3 FFN (infer) chunks   4 prefill chunks   5 combine into
//   multi-function chunks   6 compile (macOS) / compile_on_mac.sh   7 tokenizer + config.json +
//   meta.yaml   8 test prompt
//
// Step 3 writes single-function infer packages into OUT/.anec-work, converting (or palettizing)
// each weight once; step 4 builds each prefill function from step 3's package by constant name
// and keeps only its program (a .mlmodel file, no weight bytes); step 5 hard-links the infer
// weights once and points both functions at them in
// OUT/{prefix}_FFN_PF[_lutN]_chunk_KKofNN.mlpackage. Every package is written atomically. --restart
// N / --only N reuse earlier outputs after checking the options fingerprint and the step markers
// (work_state.h).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "ane/weight_emitter.h"
#include "ane/weight_source.h"
#include "base/file_system.h"
#include "model/model_spec.h"
#include "pipeline/convert_options.h"
#include "quant/channel_importance.h"

namespace anec::pipeline {

inline constexpr const char* kAnecVersion = "0.1.0";

struct ConversionInput {
  model::ModelSpec spec;
  const ane::WeightSource* weights = nullptr;  // REQUIRES: outlives Convert
  std::string config_json;                     // config.json contents (fingerprint)
  // Calibrated input-channel importance (calib/), weighting the k-means of every palettized
  // matrix it names; null = plain k-means. REQUIRES: outlives Convert; its description is in
  // ConvertOptions::calibration.
  const quant::ChannelImportance* importance = nullptr;
  // --lut auto: LUT bits per palettized matrix (calib/lut_bits_plan.h); null = the LutPlan's.
  // REQUIRES: outlives Convert.
  const ane::LutBitsPlan* lut_bits = nullptr;
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
  // The caller already holds LockOutput(output_dir) (the CLI takes it before calibrating);
  // otherwise Convert takes it for the run.
  bool output_locked = false;
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

// Runs steps 1-8 into options.output_dir. Two runs into one folder at once would corrupt each
// other's work state: the run holds OUT/.anec-work/lock (LockOutput), and a second run fails at
// once naming the folder.
Result<ConversionReport> Convert(FileSystem* fs, const ConversionInput& input,
                                 ConvertOptions options, const ConvertHooks& hooks = {});

// Creates OUT/.anec-work and takes its lock without waiting. Errors: FailedPrecondition when
// another conversion into `output_dir` is running, saying so and what to do.
Result<std::unique_ptr<FileLock>> LockOutput(FileSystem* fs, const std::string& output_dir);

// The closing table: files, sizes, whether each fits iOS / macOS, and the time per step.
std::string FormatReport(const ConversionReport& report);

}  // namespace anec::pipeline
