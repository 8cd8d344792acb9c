#include "io/prequant_config.h"

#include <algorithm>
#include <cctype>

#include "io/json_message.h"

namespace anec::io {
namespace {

constexpr std::string_view kSupported =
    "anec reads int4 GPTQ (checkpoint_format gptq or gptq_v2, any group_size, act-order) and "
    "int4 AWQ (version gemm, zero_point true) checkpoints";

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Reads an optional field of a given JSON type; nullopt when absent or null.
template <typename T>
Result<std::optional<T>> Field(const nlohmann::json& j, std::string_view path,
                               const std::string& key, std::string_view expected) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<T>();
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) ok = it->is_boolean();
  if constexpr (std::is_same_v<T, int64_t>) ok = it->is_number_integer();
  if constexpr (std::is_same_v<T, std::string>) ok = it->is_string();
  if (!ok) {
    return InvalidArgument("{}: quantization field '{}' should be {}, found {}", path, key,
                           expected, JsonForMessage(*it));
  }
  return std::optional<T>(it->get<T>());
}

}  // namespace

std::string_view PrequantMethodName(PrequantMethod m) {
  switch (m) {
    case PrequantMethod::kGptq:
      return "gptq";
    case PrequantMethod::kAwqGemm:
      return "awq (gemm)";
  }
  return "unknown";
}

Result<PrequantConfig> ParsePrequantConfig(const nlohmann::json& qc, std::string_view path) {
  if (!qc.is_object()) {
    return InvalidArgument("{}: quantization_config should be an object, found {}", path,
                           JsonForMessage(qc));
  }
  PrequantConfig cfg;
  cfg.path = std::string(path);

  ANEC_ASSIGN_OR_RETURN(auto method, Field<std::string>(qc, path, "quant_method", "a string"));
  // Legacy AutoAWQ quant_config.json spells its fields w_bit / q_group_size / version.
  bool awq_legacy = !method && (qc.contains("w_bit") || qc.contains("q_group_size"));
  std::string m = method ? Lower(*method) : (awq_legacy ? "awq" : "gptq");
  if (m == "gptq") {
    cfg.method = PrequantMethod::kGptq;
  } else if (m == "awq") {
    cfg.method = PrequantMethod::kAwqGemm;
  } else {
    return Unsupported(
        "{}: quant_method '{}' is not supported; {}. Convert from the unquantized "
        "(fp16/bf16) checkpoint instead and let anec quantize it.",
        path, m, kSupported);
  }

  ANEC_ASSIGN_OR_RETURN(auto bits, Field<int64_t>(qc, path, "bits", "an integer"));
  if (!bits) {
    ANEC_ASSIGN_OR_RETURN(bits, Field<int64_t>(qc, path, "w_bit", "an integer"));
  }
  if (!bits) return InvalidArgument("{}: quantization_config has no 'bits'; {}", path, kSupported);
  if (*bits != 4) {
    return Unsupported("{}: {} with bits {} is not supported; {}", path, m, *bits, kSupported);
  }
  cfg.bits = 4;

  ANEC_ASSIGN_OR_RETURN(auto group, Field<int64_t>(qc, path, "group_size", "an integer"));
  if (!group) {
    ANEC_ASSIGN_OR_RETURN(group, Field<int64_t>(qc, path, "q_group_size", "an integer"));
  }
  if (!group) {
    return InvalidArgument(
        "{}: quantization_config has no 'group_size' (use -1 for one group "
        "per column)",
        path);
  }
  if (*group != -1 && *group <= 0) {
    return InvalidArgument("{}: group_size must be positive or -1, found {}", path, *group);
  }
  cfg.group_size = *group;

  if (auto it = qc.find("modules_to_not_convert"); it != qc.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_string()) cfg.modules_to_not_convert.push_back(v.get<std::string>());
    }
  }

  if (cfg.method == PrequantMethod::kGptq) {
    ANEC_ASSIGN_OR_RETURN(auto desc_act, Field<bool>(qc, path, "desc_act", "true or false"));
    ANEC_ASSIGN_OR_RETURN(auto sym, Field<bool>(qc, path, "sym", "true or false"));
    ANEC_ASSIGN_OR_RETURN(auto marlin, Field<bool>(qc, path, "is_marlin_format", "true or false"));
    ANEC_ASSIGN_OR_RETURN(auto format,
                          Field<std::string>(qc, path, "checkpoint_format", "a string"));
    if (!format) {
      ANEC_ASSIGN_OR_RETURN(format, Field<std::string>(qc, path, "format", "a string"));
    }
    if (auto it = qc.find("dynamic"); it != qc.end() && it->is_object() && !it->empty()) {
      return Unsupported(
          "{}: GPTQ per-module 'dynamic' overrides (bits or group_size that "
          "differ by layer) are not supported; {}",
          path, kSupported);
    }
    cfg.desc_act = desc_act.value_or(false);
    cfg.sym = sym.value_or(true);
    std::string f = format ? Lower(*format) : "gptq";
    if (marlin.value_or(false)) f = "marlin";
    if (f == "gptq") {
      cfg.zeros_minus_one = true;
    } else if (f == "gptq_v2") {
      cfg.zeros_minus_one = false;
    } else {
      return Unsupported(
          "{}: GPTQ checkpoint_format '{}' is not supported (its tensors are "
          "repacked for a GPU kernel); {}",
          path, f, kSupported);
    }
  } else {
    ANEC_ASSIGN_OR_RETURN(auto version, Field<std::string>(qc, path, "version", "a string"));
    ANEC_ASSIGN_OR_RETURN(auto zero_point, Field<bool>(qc, path, "zero_point", "true or false"));
    std::string v = version ? Lower(*version) : "gemm";
    if (v != "gemm") {
      return Unsupported("{}: AWQ version '{}' is not supported (only 'gemm' packing); {}", path, v,
                         kSupported);
    }
    if (!zero_point.value_or(true)) {
      return Unsupported("{}: AWQ with zero_point false is not supported; {}", path, kSupported);
    }
    cfg.sym = false;
    cfg.zeros_minus_one = false;
  }
  return cfg;
}

Result<std::optional<PrequantConfig>> ReadPrequantConfig(FileSystem* fs, const std::string& dir) {
  std::string config_path = JoinPath(dir, "config.json");
  if (fs->Exists(config_path)) {
    ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(config_path));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return InvalidArgument("{}: not valid JSON; re-download or fix the file", config_path);
    }
    if (auto it = j.find("quantization_config"); it != j.end() && !it->is_null()) {
      ANEC_ASSIGN_OR_RETURN(PrequantConfig cfg, ParsePrequantConfig(*it, config_path));
      return std::optional<PrequantConfig>(std::move(cfg));
    }
  }
  for (const char* legacy : {"quantize_config.json", "quant_config.json"}) {
    std::string p = JoinPath(dir, legacy);
    if (!fs->Exists(p)) continue;
    ANEC_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(p));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return InvalidArgument("{}: not valid JSON; re-download or fix the file", p);
    }
    ANEC_ASSIGN_OR_RETURN(PrequantConfig cfg, ParsePrequantConfig(j, p));
    return std::optional<PrequantConfig>(std::move(cfg));
  }
  return std::optional<PrequantConfig>();
}

}  // namespace anec::io
