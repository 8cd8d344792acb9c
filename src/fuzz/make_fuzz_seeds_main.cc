// anec_fuzz_seeds SOURCE_DIR: writes the seed corpora SOURCE_DIR/tests/fuzz/corpus/<target>/
// (docs/FUZZING.md) from the project's own writers and committed fixtures, most a few KB so
// libFuzzer mutates them quickly:
//   gguf             every value type, tensor type and tokenizer model the reader handles
//                    (built here), plus two committed fixtures
//   safetensors      EncodeSafetensors output: every dtype, a sharded index
//   hf_config        the fixtures' config.json files, plus a whole tiny Llama folder
//   prequant_config  the GPTQ / AWQ fixtures' configs with two int4 linears cut from their
//                    weights, and the legacy files
//   tokenizer        the five fixture tokenizers cut to their first ids, with config and text
//   chat_template    the fixture templates with the cases of text/chat_expected.json
//   mlpackage        packages written by PackageWriter: the runtime tests' toy LLM, and a real
//                    tiny conversion (pipeline::Convert, LUT weights in weight.bin)
//   model_folder     the toy LLM's folder and the real tiny conversion's folder
// Multi-file seeds use fuzz_files.h's format. The GGUF, config, tokenizer and template seeds are
// checked to open with their readers (a seed rejected at its first byte would waste the corpus);
// a failure is printed and exits 1. Rerun after changing a format, then commit the corpus.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/half.h"
#include "coreml/package.h"
#include "fuzz/fuzz_files.h"
#include "fuzz/make_fuzz_seeds.h"
#include "io/safetensors_writer.h"
#include "pipeline/converter.h"
#include "pipeline/converter_test_util.h"
#include "runtime/toy_llm_test_util.h"

namespace anec::fuzz {
namespace {

using nlohmann::json;

// Files below `dir` of `fs` (relative names), for packing a written folder into one seed.
Files FolderFiles(MemoryFileSystem* fs, const std::string& dir, const std::string& prefix = "") {
  Files out;
  auto names = fs->ListDir(dir);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    const std::string path = JoinPath(dir, n);
    if (n == ".anec-work") continue;  // the converter's resume state, not part of the model
    if (fs->IsDirectory(path)) {
      Files sub = FolderFiles(fs, path, prefix + n + "/");
      out.insert(out.end(), sub.begin(), sub.end());
    } else {
      out.emplace_back(prefix + n, *fs->ReadFile(path));
    }
  }
  return out;
}

// Puts `name` first (the target's default file), keeping the others' order.
Files DefaultFirst(Files files, const std::string& name) {
  std::stable_partition(files.begin(), files.end(), [&](const auto& f) { return f.first == name; });
  return files;
}

void WritePackage(MemoryFileSystem* fs, const runtime::testing::ModelBuilder& b,
                  const std::string& path) {
  auto w = coreml::PackageWriter::Create(fs, path);
  Check(w.status(), path);
  Check((*w)->Finish(b.model()), path);
}

// The runtime tests' toy LLM (runtime/toy_llm_test_util.h) as a converted folder in `fs`.
void WriteToyFolder(MemoryFileSystem* fs, const std::string& dir, const std::string& tokenizer) {
  namespace t = runtime::testing;
  WritePackage(fs, t::Embeddings(), dir + "/toy_embeddings.mlpackage");
  WritePackage(fs, t::LmHead(), dir + "/toy_lm_head.mlpackage");
  WritePackage(fs, t::Chunk(0), dir + "/toy_FFN_PF_chunk_01of02.mlpackage");
  WritePackage(fs, t::Chunk(1), dir + "/toy_FFN_PF_chunk_02of02.mlpackage");
  Check(fs->WriteFileAtomic(dir + "/meta.yaml",
                            "model_info:\n  name: toy\n  parameters:\n    context_length: 16\n"
                            "    batch_size: 4\n    num_chunks: 2\n    model_prefix: toy\n"
                            "    split_lm_head: 2\n"),
        dir);
  Check(fs->WriteFileAtomic(dir + "/tokenizer.json", tokenizer), dir);
  Check(fs->WriteFileAtomic(dir + "/tokenizer_config.json",
                            R"({"bos_token": "<s>", "eos_token": "</s>"})"),
        dir);
}

// A real conversion (pipeline::Convert, the code `anec convert` runs) of a one-layer random
// Llama with LUT4 FFN / LUT6 head and embeddings, into `out`.
void WriteTinyConversion(MemoryFileSystem* fs, const std::string& out,
                         const std::string& tokenizer) {
  pipeline::TinyModel m = pipeline::MakeTinyModel(/*layers=*/1, /*vocab=*/32, /*tied=*/false);
  pipeline::WriteModelFolder(fs, "/src");
  Check(fs->WriteFileAtomic("/src/tokenizer.json", tokenizer), "/src");
  pipeline::ConvertOptions o = pipeline::TinyOptions("/src", out, /*chunks=*/1);
  o.lut.ffn = 4;
  o.lut.lmhead = 6;
  o.lut.embed = 6;
  pipeline::ConvertHooks hooks;
  hooks.log = nullptr;
  hooks.force_non_macos = true;
  Check(pipeline::Convert(fs, m.input(), o, hooks).status(), "pipeline::Convert");
}

void MlpackageSeeds(const Paths& p) {
  MemoryFileSystem fs;
  const std::string tokenizer = SmallTokenizer(p, "smollm.json", 300);
  WriteToyFolder(&fs, "/toy", tokenizer);
  WriteTinyConversion(&fs, "/conv", tokenizer);
  const std::string model = "Data/com.apple.CoreML/model.mlmodel";
  for (const std::string& dir : {"/toy", "/conv"}) {
    const std::vector<std::string> names = *fs.ListDir(dir);
    for (const std::string& name : names) {
      if (!name.ends_with(".mlpackage")) continue;
      Files files = DefaultFirst(FolderFiles(&fs, JoinPath(dir, name)), model);
      WriteSeed(p, "mlpackage", dir.substr(1) + "_" + name.substr(0, name.size() - 10),
                PackFuzzFiles(files, model));
    }
  }
  // Model folders: the toy one, and the real conversion (its FFN chunk alone is ~100 KB).
  for (const std::string& dir : {"/toy", "/conv"}) {
    Files files = DefaultFirst(FolderFiles(&fs, dir), "meta.yaml");
    WriteSeed(p, "model_folder", dir.substr(1), PackFuzzFiles(files, "meta.yaml"));
  }
}

}  // namespace
}  // namespace anec::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: anec_fuzz_seeds SOURCE_DIR (the repository root)\n");
    return 2;
  }
  anec::fuzz::Paths p{argv[1], std::string(argv[1]) + "/tests/fixtures",
                      std::string(argv[1]) + "/tests/fuzz/corpus"};
  anec::fuzz::GgufSeeds(p);
  anec::fuzz::SafetensorsSeeds(p);
  anec::fuzz::ConfigSeeds(p);
  anec::fuzz::TextSeeds(p);
  anec::fuzz::MlpackageSeeds(p);
  std::printf("seeds written to %s\n", p.out.c_str());
  return 0;
}
