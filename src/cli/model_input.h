// OpenModelInput: what `anec convert --model X` accepts, turned into one shape for the pipeline.
//   - a Hugging Face folder (config.json, *.safetensors, tokenizer files; GPTQ/AWQ too);
//   - a GGUF file: its metadata becomes config.json and tokenizer files, written into a
//     temporary folder that lives as long as the ModelInput, so step 7 copies them like a
//     folder's;
//   - a Hub id (org/name): downloaded into the Hugging Face cache first.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/file_system.h"
#include "io/gguf_checkpoint.h"
#include "model/hf_checkpoint.h"

namespace anec::cli {

class ModelInput {
 public:
  ModelInput() = default;
  ModelInput(ModelInput&& o) noexcept
      : loaded(std::move(o.loaded)),
        model_dir(std::move(o.model_dir)),
        config_json(std::move(o.config_json)),
        gguf(std::exchange(o.gguf, nullptr)),
        temp_dir_(std::exchange(o.temp_dir_, {})) {}
  ModelInput& operator=(ModelInput&&) = delete;
  ~ModelInput();

  model::LoadedModel loaded;
  std::string model_dir;    // folder holding config.json and the tokenizer files
  std::string config_json;  // its config.json
  // The GGUF file behind `loaded` (owned by loaded.source), or null for other inputs.
  const io::GgufCheckpoint* gguf = nullptr;

 private:
  friend Result<ModelInput> OpenModelInput(FileSystem*, const std::string&,
                                           std::optional<std::string_view>);
  std::string temp_dir_;  // removed on destruction (GGUF input)
};

Result<ModelInput> OpenModelInput(FileSystem* fs, const std::string& model,
                                  std::optional<std::string_view> architecture);

}  // namespace anec::cli
