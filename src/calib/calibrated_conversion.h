// PrepareCalibration: the measurement `anec convert --calibration` makes before a LUT
// conversion. It converts the same model at fp16 into OUT/.anec-work/calibration-fp16 (one
// chunk, no file budget: the CPU runtime has none), runs it over the calibration text
// (calibrate.h), stores the result in OUT/.anec-work/calibration.safetensors
// (importance_file.h) and removes the fp16 folder. A --restart of steps 2-4 reuses the stored
// file when it was made from the same text and settings.
//
// The caller passes the returned importance to pipeline::Convert (ConversionInput::importance)
// and its description in ConvertOptions::calibration (the options fingerprint).
#pragma once

#include <cstdio>
#include <string>

#include "base/file_system.h"
#include "base/status.h"
#include "calib/calibrate.h"
#include "calib/lut_bits_plan.h"
#include "pipeline/converter.h"
#include "quant/channel_importance.h"

namespace anec::calib {

struct CalibrationRequest {
  std::string text;       // the calibration text itself
  std::string text_name;  // "default" or the file it came from (messages, description)
  // Instead of a text: a calibration.safetensors an earlier run stored (importance_file.h).
  std::string stats_file;
  CalibrationOptions options;
  // Keep the fp16 model PrepareCalibration measured on, for PlanLutAuto (which removes it).
  bool keep_model = false;
};

// What identifies the measurement: text name and SHA-256, tokens, window, damping.
std::string DescribeCalibration(const CalibrationRequest& request);

// REQUIRES: `input` as for pipeline::Convert; `options` the LUT conversion's (output_dir,
// restart, context, batch and architecture are used). `log` may be null.
Result<quant::ChannelImportance> PrepareCalibration(FileSystem* fs,
                                                    const pipeline::ConversionInput& input,
                                                    const pipeline::ConvertOptions& options,
                                                    const CalibrationRequest& request,
                                                    std::FILE* log);

// `--lut auto`: plans 4/6/8 bits per FFN matrix (lut_bits_plan.h). With
// request.options.sensitivity_tokens > 0 the gains are measured on the fp16 model (the one
// PrepareCalibration kept, else converted now into the same place) over that many tokens of the
// calibration text (the default text when the request names a statistics file), and the fp16
// folder is removed afterwards; with 0, the residual-gain proxy.
// REQUIRES: as PrepareCalibration; `importance` from it.
Result<LutBitsPlanResult> PlanLutAuto(FileSystem* fs, const pipeline::ConversionInput& input,
                                      const pipeline::ConvertOptions& options,
                                      const CalibrationRequest& request,
                                      const quant::ChannelImportance& importance, std::FILE* log);

// `--lut-tune-rounds N`: tunes the tables of `plan` (lut_table_tuning.h) on the calibration
// tokens (the first --calibration-tokens of the text; of the default text when the request names
// a statistics file), judging each step on as many following tokens as the text has, up to the
// same count. The text is tokenized by the fp16 model PrepareCalibration kept, else converted
// now; the fp16 folder is removed afterwards.
// REQUIRES: as PlanLutAuto; `plan` from it.
Status TuneLutAuto(FileSystem* fs, const pipeline::ConversionInput& input,
                   const pipeline::ConvertOptions& options, const CalibrationRequest& request,
                   const quant::ChannelImportance& importance, int rounds, ane::LutBitsPlan* plan,
                   std::FILE* log);

}  // namespace anec::calib
