// anec_gguf_tokenizer GGUF OUT_DIR: writes the tokenizer.json and tokenizer_config.json that
// BuildHfTokenizerFiles rebuilds from a GGUF file (used by tests/python/test_gguf_tokenizer.py).
#include <cstdio>
#include <string>

#include "base/file_system.h"
#include "io/gguf_tokenizer.h"

namespace {

anec::Status Run(const std::string& gguf_path, const std::string& out_dir) {
  anec::FileSystem* fs = anec::RealFileSystem();
  ANEC_ASSIGN_OR_RETURN(anec::io::GgufFile file, anec::io::GgufFile::Open(fs, gguf_path));
  ANEC_ASSIGN_OR_RETURN(anec::io::HfTokenizerFiles files, anec::io::BuildHfTokenizerFiles(file));
  ANEC_RETURN_IF_ERROR(fs->MakeDirs(out_dir));
  ANEC_RETURN_IF_ERROR(fs->WriteFileAtomic(out_dir + "/tokenizer.json", files.tokenizer_json));
  return fs->WriteFileAtomic(out_dir + "/tokenizer_config.json", files.tokenizer_config_json);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s GGUF_FILE OUT_DIR\n", argv[0]);
    return 2;
  }
  anec::Status status = Run(argv[1], argv[2]);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
