// The conversion behind `anec convert`: the flags as the command line gives them, and the run
// (flag checks, model input, calibration, pipeline::Convert, the closing report on stderr).
// Shared by the command (convert_command.cc) and the Python package (python/), so both accept the
// same values and fail with the same messages.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "pipeline/converter.h"

namespace anec::cli {

// One field per `anec convert` flag, in the command line's spelling (defaults are the flags').
struct ConvertFlags {
  std::string model;
  std::string output;
  int64_t context = 1024;
  std::string chunks = "auto";
  std::string lut = "6";
  bool lut_row_scale = false;
  std::string lut_embed, lut_ffn, lut_lmhead;
  int lut_group = 8;
  int64_t batch = 64;
  std::string architecture;
  int restart = 1;
  int only = 0;
  bool skip_check = false;
  std::string prefix;
  std::string target = "ios";
  bool preserve_quant = false;
  std::string kv_cache = "shared";
  bool no_preserve_quant = false;
  bool argmax = false;
  double max_file_mb = 0;   // 0: the target's budget
  std::string calibration;  // "", "none", "default" or a text file
  int64_t calibration_tokens = 1024;
  double calibration_damping = 0.01;
  int64_t sensitivity_tokens = 0;   // --lut auto: measured gains (calib/lut_bits_plan.h); 0 = proxy
  std::string mlp_order = "range";  // --mlp-order (ane/mlp_channel_order.h)
  double lut_bits_budget = 0;       // --lut auto
  int lut_tune_rounds = 0;          // --lut auto: table tuning rounds (calib/lut_table_tuning.h)
  double residual_scale = 0;        // 0: not given
};

// Runs the conversion `flags` describe. `hooks.after_unit` and `hooks.log` are the caller's (the
// Python package checks for Ctrl-C in after_unit); test_prompt and output_locked are set here.
// Errors carry the messages `anec convert` prints.
Status RunConvert(const ConvertFlags& flags, pipeline::ConvertHooks hooks = {});

}  // namespace anec::cli
