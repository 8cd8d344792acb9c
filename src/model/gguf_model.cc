#include "model/gguf_model.h"

#include "io/hf_config.h"
#include "model/hf_model_spec.h"

namespace anec::model {

bool IsGgufPath(std::string_view path) {
  return path.size() > 5 && path.substr(path.size() - 5) == ".gguf";
}

Result<LoadedModel> LoadGgufModel(FileSystem* fs, const std::string& path,
                                  std::optional<std::string_view> architecture_override) {
  ANEC_ASSIGN_OR_RETURN(std::unique_ptr<io::GgufCheckpoint> ckpt, io::GgufCheckpoint::Open(fs, path));
  ANEC_ASSIGN_OR_RETURN(io::HfConfig config, io::HfConfigFromJson(ckpt->hf_config(), path));
  std::string name = Basename(path);
  name = name.substr(0, name.size() - 5);
  LoadedModel m;
  ANEC_ASSIGN_OR_RETURN(m.spec, SpecFromHfConfig(config, name, architecture_override));
  if (!ckpt->rope_frequency_factors().empty()) {
    // The GGUF's own per-frequency divisors, exactly as llama.cpp applies them (the llama3 rule's
    // parameters are not in the metadata; the factors are what the file means).
    m.spec.rope_scaling = RopeScaling();
    m.spec.rope_scaling.type = RopeScalingType::kFrequencyFactors;
    m.spec.rope_scaling.frequency_factors = ckpt->rope_frequency_factors();
  }
  // The stored norm weights already are the gains (1 + w): nothing to add.
  if (ckpt->norms_hold_unit_offset()) m.spec.norm_weight_offset = 0.0;
  m.source = std::move(ckpt);
  ANEC_ASSIGN_OR_RETURN(m.checkpoint, Bind(m.spec, *m.source));
  return m;
}

}  // namespace anec::model
