// Fuzzes the safetensors reader as a conversion opens a checkpoint folder (io::OpenCheckpoint:
// model.safetensors.index.json and its shards, else model.safetensors), then reads every tensor
// and converts the float ones to float32 as the converter does. Each other *.safetensors file of
// the input is also opened on its own, so a shard's header is fuzzed even when the index is not
// valid.
// Input (fuzz_files.h): model.safetensors's bytes, then optional files such as
// "@@file model.safetensors.index.json" and the shards it names.
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace anec::fuzz {
namespace {

void ReadAll(const io::TensorSource& source) {
  for (const io::TensorInfo& info : source.List()) {
    auto t = source.Read(info.name);
    if (!t.ok()) continue;
    Consume(t->data);
    auto values = io::ToFloat32(*t);
    if (values.ok())
      Consume({reinterpret_cast<const uint8_t*>(values->data()), values->size() * 4});
  }
}

void FuzzSafetensors(std::span<const uint8_t> input) {
  MemoryFileSystem fs;
  const std::vector<std::string> names = AddFuzzFiles(input, "/m", "model.safetensors", &fs);
  auto checkpoint = io::OpenCheckpoint(&fs, "/m");
  if (checkpoint.ok()) ReadAll(**checkpoint);
  for (const std::string& name : names) {
    if (!name.ends_with(".safetensors")) continue;
    auto file = io::SafetensorsSource::OpenFile(&fs, "/m/" + name);
    if (file.ok()) ReadAll(**file);
  }
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzSafetensors({data, size});
  return 0;
}
