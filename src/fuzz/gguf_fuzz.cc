// Fuzzes the GGUF path of `anec convert --model X.gguf` (cli/model_input.cc): GgufFile parsing,
// GgufCheckpoint (metadata -> config.json, tensor names, rope factors), the ModelSpec and binding
// (model::LoadGgufModel), reading every tensor dequantized and raw, and the tokenizer rebuild
// (io::BuildHfTokenizerFiles) whose output must then load as a tokenizer.
// Input: the .gguf file's bytes.
#include "base/file_system.h"
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "io/gguf_checkpoint.h"
#include "io/gguf_tokenizer.h"
#include "model/gguf_model.h"
#include "text/tokenizer.h"
#include "text/tokenizer_config.h"

namespace anec::fuzz {
namespace {

const std::string kPath = "/m/model.gguf";

void ReadAllTensors(const io::TensorSource& source) {
  for (const io::TensorInfo& info : source.List()) {
    auto t = source.Read(info.name);
    if (t.ok()) Consume(t->data);
  }
}

void FuzzGguf(std::span<const uint8_t> input) {
  MemoryFileSystem fs;
  fs.SetFile(kPath, std::string(AsText(input)));

  auto file = io::GgufFile::Open(&fs, kPath);
  if (!file.ok()) return;
  for (const io::GgufTensorInfo& t : file->tensors()) Consume(file->TensorBytes(t));

  // The tokenizer files a GGUF conversion writes, loaded back as `anec run` would load them.
  auto tok_files = io::BuildHfTokenizerFiles(*file);
  if (tok_files.ok()) {
    auto tokenizer = text::Tokenizer::FromJson(tok_files->tokenizer_json);
    auto config = text::TokenizerConfig::FromJson(tok_files->tokenizer_config_json);
    if (tokenizer.ok() && config.ok() && tokenizer->ApplyConfig(*config).ok()) {
      std::vector<int32_t> ids = tokenizer->Encode("Hello world 123 ünïcode", true);
      Consume(tokenizer->Decode(ids, false));
    }
  }

  auto ckpt = io::GgufCheckpoint::Open(&fs, kPath);
  if (ckpt.ok()) {
    Consume((*ckpt)->hf_config().dump(2));
    ReadAllTensors(**ckpt);
    for (const io::TensorInfo& info : (*ckpt)->List()) {
      if (info.shape.size() != 2) continue;
      auto raw = (*ckpt)->ReadRaw(info.name);
      if (raw.ok()) Consume(raw->bytes);
    }
  }
  auto loaded = model::LoadGgufModel(&fs, kPath);
  (void)loaded;
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzGguf({data, size});
  return 0;
}
