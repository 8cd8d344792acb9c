#include "model/hf_checkpoint.h"

#include "io/checkpoint.h"
#include "io/hf_config.h"
#include "io/prequant_source.h"
#include "model/hf_model_spec.h"

namespace anec::model {

std::string ModelNameForFolder(const std::string& dir) {
  const std::string base = Basename(dir);
  const std::string parent = Dirname(dir);
  const std::string repo = Basename(Dirname(parent));
  constexpr std::string_view kCachePrefix = "models--";
  if (Basename(parent) == "snapshots" && repo.starts_with(kCachePrefix) &&
      repo.size() > kCachePrefix.size()) {
    const std::string name = repo.substr(kCachePrefix.size());
    const size_t sep = name.find("--");
    if (sep == std::string::npos) return name;
    return name.substr(0, sep) + "/" + name.substr(sep + 2);
  }
  return base;
}

Result<LoadedModel> LoadHfCheckpoint(FileSystem* fs, const std::string& dir,
                                     std::optional<std::string_view> architecture_override) {
  ANEC_ASSIGN_OR_RETURN(io::HfConfig config, io::ReadHfConfig(fs, dir));
  LoadedModel m;
  ANEC_ASSIGN_OR_RETURN(m.spec,
                        SpecFromHfConfig(config, ModelNameForFolder(dir), architecture_override));
  // GPTQ/AWQ checkpoints are presented as ordinary ones (exactly dequantized weights).
  ANEC_ASSIGN_OR_RETURN(m.source, io::OpenCheckpointDequantized(fs, dir));
  m.prequant = dynamic_cast<const io::PrequantizedSource*>(m.source.get());
  ANEC_ASSIGN_OR_RETURN(m.checkpoint, Bind(m.spec, *m.source));
  return m;
}

}  // namespace anec::model
