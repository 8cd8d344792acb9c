// Fuzzes config.json -> ModelSpec as `anec convert` does for a Hugging Face folder
// (model::LoadHfCheckpoint): io::ReadHfConfig (config.json + generation_config.json), then
// model::SpecFromHfConfig with no override, with each --architecture override and with a QwQ
// folder name; then the whole LoadHfCheckpoint when the input carries weights too.
// Input (fuzz_files.h): config.json's bytes, then optional "@@file generation_config.json" and
// "@@file model.safetensors".
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "io/hf_config.h"
#include "model/hf_checkpoint.h"
#include "model/hf_model_spec.h"

namespace anec::fuzz {
namespace {

void FuzzHfConfig(std::span<const uint8_t> input) {
  MemoryFileSystem fs;
  AddFuzzFiles(input, "/m", "config.json", &fs);
  auto config = io::ReadHfConfig(&fs, "/m");
  if (!config.ok()) return;
  const std::optional<std::string_view> overrides[] = {std::nullopt, "llama",   "qwen2", "qwen3",
                                                       "qwq",        "mistral", "gpt2"};
  for (const auto& override_name : overrides) {
    for (std::string_view name : {"m", "Qwen/QwQ-32B"}) {
      auto spec = model::SpecFromHfConfig(*config, name, override_name);
      if (spec.ok()) Consume(spec->name);
    }
  }
  if (fs.Exists("/m/model.safetensors") || fs.Exists("/m/model.safetensors.index.json")) {
    auto loaded = model::LoadHfCheckpoint(&fs, "/m");
    (void)loaded;
  }
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzHfConfig({data, size});
  return 0;
}
