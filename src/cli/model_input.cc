#include "cli/model_input.h"

#include <cstdlib>
#include <vector>

#include "io/gguf_checkpoint.h"
#include "io/gguf_tokenizer.h"
#include "io/hub_download.h"
#include "model/gguf_model.h"

namespace anec::cli {

ModelInput::~ModelInput() {
  if (!temp_dir_.empty()) (void)RealFileSystem()->RemoveAll(temp_dir_);
}

namespace {

Result<std::string> MakeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = JoinPath(tmp && *tmp ? tmp : "/tmp", "anec-gguf-XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return IoError("cannot create a temporary folder like {}", pattern);
  return std::string(buf.data());
}

}  // namespace

Result<ModelInput> OpenModelInput(FileSystem* fs, const std::string& model,
                                  std::optional<std::string_view> architecture) {
  ModelInput in;
  if (model::IsGgufPath(model)) {
    if (!fs->Exists(model)) return NotFound("--model {}: no such GGUF file", model);
    ANEC_ASSIGN_OR_RETURN(in.loaded, model::LoadGgufModel(fs, model, architecture));
    const auto* gguf = static_cast<const io::GgufCheckpoint*>(in.loaded.source.get());
    in.gguf = gguf;
    ANEC_ASSIGN_OR_RETURN(in.temp_dir_, MakeTempDir());
    in.model_dir = in.temp_dir_;
    in.config_json = gguf->hf_config().dump(2);
    ANEC_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(in.model_dir, "config.json"), in.config_json));
    auto tok = io::BuildHfTokenizerFiles(gguf->file());
    if (tok.ok()) {
      ANEC_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(in.model_dir, "tokenizer.json"), tok->tokenizer_json));
      ANEC_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(in.model_dir, "tokenizer_config.json"),
                                               tok->tokenizer_config_json));
    } else {
      fmt::print(stderr, "note: {}\n", tok.status().message());
    }
    return in;
  }
  in.model_dir = model;
  if (!fs->IsDirectory(model)) {
    if (model.find('/') == std::string::npos || model.front() == '.' || model.front() == '/') {
      return NotFound("--model {}: no such folder or .gguf file (give a Hugging Face model folder, "
                      "a GGUF file, or a Hub id such as meta-llama/Llama-3.2-1B)", model);
    }
    ANEC_ASSIGN_OR_RETURN(in.model_dir,
                          io::DownloadSnapshot(io::HubOptionsFromEnvironment(), model, "main"));
  }
  ANEC_ASSIGN_OR_RETURN(in.loaded, model::LoadHfCheckpoint(fs, in.model_dir, architecture));
  ANEC_ASSIGN_OR_RETURN(in.config_json, fs->ReadFile(JoinPath(in.model_dir, "config.json")));
  return in;
}

}  // namespace anec::cli
