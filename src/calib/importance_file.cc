#include "calib/importance_file.h"

#include <cmath>
#include <cstring>

#include "io/safetensors.h"
#include "io/safetensors_writer.h"

namespace anec::calib {
namespace {
constexpr const char* kDescriptionKey = "anec_calibration";
constexpr const char* kFormatKey = "anec_calibration_format";
constexpr const char* kOrderKey = "anec_mlp_channel_order";  // absent: the checkpoint's
constexpr const char* kLmHeadRows = "anec.lm_head_rows";     // ChannelImportance::lm_head_rows
// ChannelImportance::gradient_rows / gradient_columns, the weight's name after the prefix.
constexpr std::string_view kGradRows = "anec.grad_rows.", kGradColumns = "anec.grad_cols.";
}  // namespace

Status WriteImportanceFile(FileSystem* fs, const std::string& path,
                           const quant::ChannelImportance& importance) {
  io::SafetensorsWriter writer(fs, path);
  auto add = [&](const std::string& name, const std::vector<float>& values) {
    io::TensorInfo info{name, io::TensorDType::kF32, {static_cast<int64_t>(values.size())}};
    return writer.Add(
        info, {reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float)});
  };
  Status s;
  for (const auto& [name, values] : importance.columns) {
    if (s.ok()) s = add(name, values);
  }
  if (s.ok() && !importance.lm_head_rows.empty()) s = add(kLmHeadRows, importance.lm_head_rows);
  for (const auto& [name, values] : importance.gradient_rows) {
    if (s.ok()) s = add(std::string(kGradRows) + name, values);
  }
  for (const auto& [name, values] : importance.gradient_columns) {
    if (s.ok()) s = add(std::string(kGradColumns) + name, values);
  }
  if (!s.ok()) {
    writer.Abandon();
    return s.WithContext(path);
  }
  writer.SetMetadata(kDescriptionKey, importance.description);
  writer.SetMetadata(kFormatKey, "1");
  if (!importance.mlp_channel_order.empty()) {
    writer.SetMetadata(kOrderKey, importance.mlp_channel_order);
  }
  return writer.Finish();
}

Result<quant::ChannelImportance> ReadImportanceFile(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(auto file, io::SafetensorsFile::Open(fs, path));
  const auto& meta = file->metadata();
  auto format = meta.find(kFormatKey);
  if (format == meta.end() || format->second != "1") {
    return InvalidArgument(
        "{}: not an anec calibration file (metadata '{}' is not \"1\"); delete it and run the "
        "conversion again",
        path, kFormatKey);
  }
  quant::ChannelImportance out;
  if (auto d = meta.find(kDescriptionKey); d != meta.end()) out.description = d->second;
  if (auto d = meta.find(kOrderKey); d != meta.end()) out.mlp_channel_order = d->second;
  for (const io::TensorInfo& info : file->List()) {
    if (info.dtype != io::TensorDType::kF32 || info.shape.size() != 1) {
      return InvalidArgument("{}: tensor '{}' must be 1-D F32 (one importance per input column)",
                             path, info.name);
    }
    ANEC_ASSIGN_OR_RETURN(io::TensorData data, file->Read(info.name));
    std::vector<float> values(static_cast<size_t>(info.shape[0]));
    std::memcpy(values.data(), data.data.data(), values.size() * sizeof(float));
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i]) || values[i] < 0) {
        return InvalidArgument("{}: tensor '{}' element {} is {}; importances are finite and >= 0",
                               path, info.name, i, values[i]);
      }
    }
    if (info.name == kLmHeadRows) {
      out.lm_head_rows = std::move(values);
    } else if (info.name.starts_with(kGradRows)) {
      out.gradient_rows.emplace(info.name.substr(kGradRows.size()), std::move(values));
    } else if (info.name.starts_with(kGradColumns)) {
      out.gradient_columns.emplace(info.name.substr(kGradColumns.size()), std::move(values));
    } else {
      out.columns.emplace(info.name, std::move(values));
    }
  }
  return out;
}

}  // namespace anec::calib
