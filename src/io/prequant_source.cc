#include "io/prequant_source.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "io/checkpoint.h"

namespace anec::io {
namespace {

constexpr const char* kHiddenSuffixes[] = {".qweight", ".qzeros", ".scales", ".g_idx"};

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::unique_ptr<PrequantizedSource>> PrequantizedSource::Wrap(
    std::unique_ptr<TensorSource> inner, PrequantConfig config) {
  std::unique_ptr<PrequantizedSource> src(
      new PrequantizedSource(std::move(inner), std::move(config)));
  std::set<std::string> prefixes;
  std::vector<TensorInfo> all = src->inner_->List();
  for (const TensorInfo& t : all) {
    if (EndsWith(t.name, ".qweight")) prefixes.insert(t.name.substr(0, t.name.size() - 8));
  }
  if (prefixes.empty()) {
    return InvalidArgument(
        "{} declares a {} checkpoint, but no tensor is named "
        "'<layer>.qweight'; the weights do not match the config (re-download "
        "the model, or remove quantization_config if it is not quantized)",
        src->config_.path, PrequantMethodName(src->config_.method));
  }
  for (const TensorInfo& t : all) {
    if (EndsWith(t.name, ".qzeros") && !prefixes.count(t.name.substr(0, t.name.size() - 7))) {
      return InvalidArgument("tensor {} has no matching .qweight; the checkpoint is incomplete",
                             t.name);
    }
  }
  for (const std::string& prefix : prefixes) {
    ANEC_ASSIGN_OR_RETURN(TensorInfo info, PrequantWeightInfo(src->config_, *src->inner_, prefix));
    if (src->inner_->Has(info.name)) {
      return InvalidArgument(
          "tensors {} and {}.qweight both exist; a linear is either quantized "
          "or not",
          info.name, prefix);
    }
    src->prefixes_[info.name] = prefix;
    src->infos_[info.name] = info;
  }
  return src;
}

std::vector<std::string> PrequantizedSource::QuantizedWeights() const {
  std::vector<std::string> names;
  for (const auto& [name, prefix] : prefixes_) names.push_back(name);
  return names;
}

bool PrequantizedSource::IsHidden(const std::string& name) const {
  for (const char* suffix : kHiddenSuffixes) {
    if (!EndsWith(name, suffix)) continue;
    std::string prefix = name.substr(0, name.size() - std::strlen(suffix));
    if (prefixes_.count(prefix + ".weight")) return true;
  }
  return false;
}

std::vector<TensorInfo> PrequantizedSource::List() const {
  std::vector<TensorInfo> out;
  for (TensorInfo& t : inner_->List()) {
    if (!IsHidden(t.name)) out.push_back(std::move(t));
  }
  for (const auto& [name, info] : infos_) out.push_back(info);
  std::sort(out.begin(), out.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return out;
}

bool PrequantizedSource::Has(const std::string& name) const {
  if (infos_.count(name)) return true;
  return !IsHidden(name) && inner_->Has(name);
}

Result<TensorInfo> PrequantizedSource::Info(const std::string& name) const {
  if (auto it = infos_.find(name); it != infos_.end()) return it->second;
  if (IsHidden(name)) {
    return NotFound(
        "tensor {} is part of a quantized linear and is presented dequantized as "
        "its .weight",
        name);
  }
  return inner_->Info(name);
}

Result<TensorData> PrequantizedSource::Read(const std::string& name) const {
  auto it = infos_.find(name);
  if (it == infos_.end()) {
    if (IsHidden(name)) {
      return NotFound(
          "tensor {} is part of a quantized linear; read its .weight (dequantized) "
          "or ReadInt4()",
          name);
    }
    return inner_->Read(name);
  }
  ANEC_ASSIGN_OR_RETURN(Int4Linear linear, ReadInt4(name));
  std::vector<float> w = DequantizeInt4(linear);
  TensorData d;
  d.info = it->second;
  d.owned.resize(w.size() * sizeof(float));
  std::memcpy(d.owned.data(), w.data(), d.owned.size());
  d.data = std::span<const uint8_t>(d.owned.data(), d.owned.size());
  return d;
}

Result<Int4Linear> PrequantizedSource::ReadInt4(const std::string& weight_name) const {
  auto it = prefixes_.find(weight_name);
  if (it == prefixes_.end()) {
    return NotFound("{} is not a quantized linear of this {} checkpoint ({} quantized weights)",
                    weight_name, PrequantMethodName(config_.method), prefixes_.size());
  }
  return ReadInt4Linear(config_, *inner_, it->second);
}

Result<Int4Blockwise> PrequantizedSource::ReadBlockwise(const std::string& weight_name) const {
  ANEC_ASSIGN_OR_RETURN(Int4Linear linear, ReadInt4(weight_name));
  return ToBlockwise(linear);
}

Result<std::unique_ptr<TensorSource>> OpenCheckpointDequantized(FileSystem* fs,
                                                                const std::string& dir) {
  ANEC_ASSIGN_OR_RETURN(std::optional<PrequantConfig> cfg, ReadPrequantConfig(fs, dir));
  ANEC_ASSIGN_OR_RETURN(std::unique_ptr<TensorSource> inner, OpenCheckpoint(fs, dir));
  if (!cfg) return inner;
  ANEC_ASSIGN_OR_RETURN(std::unique_ptr<PrequantizedSource> wrapped,
                        PrequantizedSource::Wrap(std::move(inner), std::move(*cfg)));
  return std::unique_ptr<TensorSource>(std::move(wrapped));
}

}  // namespace anec::io
