// Internal to the pipeline: the state of one conversion run and the implementation of each step
// (conversion_steps.cc). converter.cc drives it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ane/model_assembly.h"
#include "base/file_system.h"
#include "pipeline/chunk_plan.h"
#include "pipeline/converter.h"
#include "pipeline/work_state.h"

namespace anec::pipeline {

class ConversionRun {
 public:
  ConversionRun(FileSystem* fs, const ConversionInput& in, const ConvertOptions& o,
                const ConvertHooks& hooks, ChunkPlan plan);

  const FileNames& names() const { return names_; }
  WorkState& work() { return work_; }
  std::string Out(const std::string& name) const { return JoinPath(opts_.output_dir, name); }

  // The files a finished step left (to check before resuming after it).
  std::vector<std::string> StepOutputs(int step) const;
  // Runs one step; `note` receives a one-line remark for the report (e.g. "skipped: ...").
  Status RunStep(int step, std::string* note);

 private:
  Status Embeddings();
  Status LmHead();
  Status InferChunks();
  Status PrefillChunks();
  Status Combine();
  Status Compile(std::string* note);
  Status TokenizerAndMeta();
  Status TestPrompt(std::string* note);
  Status Unit(int step, const std::string& unit);
  ane::ModelMetadata Metadata(const std::string& what, int lut_bits, int64_t chunk_no) const;
  ane::ModelMetadata LmHeadMetadata() const;

  FileSystem* fs_;
  const ConversionInput& in_;
  const ConvertOptions& opts_;
  const ConvertHooks& hooks_;
  ChunkPlan plan_;
  FileNames names_;
  WorkState work_;
  // Palettized matrices weighted by calibration / left plain (not measured), steps 2-3.
  int calibrated_ = 0, uncalibrated_ = 0, planned_tables_ = 0;
  void NoteCalibration(std::string_view step);
};

}  // namespace anec::pipeline
