// The calibration file: a ChannelImportance stored as safetensors, so a --restart reuses the
// measurement instead of running the model again (OUT/.anec-work/calibration.safetensors).
//
// Layout (docs/QUANTIZATION.md, "Calibration"): one F32 tensor of shape [input columns] per
// weight, named by the weight's const name; metadata "anec_calibration" holds the description
// and "anec_calibration_format" is "1". Nothing else is stored.
#pragma once

#include <string>

#include "base/file_system.h"
#include "base/status.h"
#include "quant/channel_importance.h"

namespace anec::calib {

// Written atomically (SafetensorsWriter).
Status WriteImportanceFile(FileSystem* fs, const std::string& path,
                           const quant::ChannelImportance& importance);

// Errors name the file: not a safetensors file, another format, a tensor that is not 1-D F32, or
// values that are negative or not finite.
Result<quant::ChannelImportance> ReadImportanceFile(FileSystem* fs, const std::string& path);

}  // namespace anec::calib
