// Fuzzes opening a converted model folder exactly as `anec run` / `anec chat` do
// (cli::OpenConvertedModel, minus the real file system): runtime::LlmModel::Open reads meta.yaml,
// locates the embeddings, FFN chunk and LM head packages it names, loads and checks each against
// ANEMLL's I/O contract and allocates the KV-cache states; runtime::LoadFolderTokenizer loads the
// tokenizer files. `anec inspect` on the folder (coreml::InspectFolder) is run too.
// Input (fuzz_files.h), inside the folder: meta.yaml's bytes, then the packages' files
// ("@@file toy_embeddings.mlpackage/Manifest.json", ...) and the tokenizer files.
#include "coreml/inspect.h"
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "runtime/generation.h"
#include "runtime/llm_model.h"

namespace anec::fuzz {
namespace {

const std::string kDir = "/m";

void FuzzModelFolder(std::span<const uint8_t> input) {
  // One worker: deterministic, and the states a fuzzed folder asks for are the only big memory.
  static runtime::ThreadPool pool(1);
  MemoryFileSystem fs;
  AddFuzzFiles(input, kDir, "meta.yaml", &fs);
  // The states a fuzzed folder may ask for: the real bound is the machine's memory, which the
  // fuzzer's 2 GB limit would report as an out-of-memory.
  auto model = runtime::LlmModel::Open(&fs, kDir, &pool, /*max_state_bytes=*/256 << 20);
  if (model.ok()) {
    Consume((*model)->config().name);
  }
  auto tokenizer = runtime::LoadFolderTokenizer(&fs, kDir);
  (void)tokenizer;
  auto folder = coreml::InspectFolder(&fs, kDir);
  if (folder.ok()) Consume(coreml::RenderText(*folder));
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzModelFolder({data, size});
  return 0;
}
