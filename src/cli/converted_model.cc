#include "cli/converted_model.h"

#include <fmt/format.h>

#include <cstdio>

#include "runtime/generation.h"

namespace anec::cli {

Result<ConvertedModel> OpenConvertedModel(const std::string& path, const std::string& flag) {
  FileSystem* fs = RealFileSystem();
  if (!fs->IsDirectory(path)) {
    return NotFound("{} {} is not a folder; give the output folder of `anec convert`", flag, path);
  }
  ANEC_ASSIGN_OR_RETURN(auto model, runtime::LlmModel::Open(fs, path));
  ANEC_ASSIGN_OR_RETURN(text::Tokenizer tokenizer, runtime::LoadFolderTokenizer(fs, path));
  if (model->argmax_only()) {
    fmt::print(stderr,
               "note: {} was converted with --argmax: its LM head returns only the argmax, so "
               "decoding is greedy whatever the sampling flags say\n",
               path);
  }
  return ConvertedModel{std::move(model), std::move(tokenizer)};
}

}  // namespace anec::cli
