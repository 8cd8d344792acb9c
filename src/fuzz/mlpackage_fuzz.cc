// Fuzzes the .mlpackage reader the way `anec inspect` and `anec run` open a package:
// coreml::InspectPackage (Manifest.json, the model.mlmodel protobuf, weight.bin through
// BlobReader, every blob reference) with both renderings, runtime::LoadPackageProgram (the
// program compiled for the interpreter, constants read from weight.bin), and BlobReader::All
// over weight.bin on its own.
// Input (fuzz_files.h), inside x.mlpackage/: model.mlmodel's bytes (the default file,
// Data/com.apple.CoreML/model.mlmodel), then "@@file Manifest.json" and
// "@@file Data/com.apple.CoreML/weights/weight.bin".
#include "coreml/blob_file.h"
#include "coreml/inspect.h"
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "runtime/llm_model.h"

namespace anec::fuzz {
namespace {

const std::string kPackage = "/p/x.mlpackage";

void FuzzMlpackage(std::span<const uint8_t> input) {
  MemoryFileSystem fs;
  AddFuzzFiles(input, kPackage, "Data/com.apple.CoreML/model.mlmodel", &fs);
  auto report = coreml::InspectPackage(&fs, kPackage);
  if (report.ok()) {
    Consume(coreml::RenderText(*report));
    Consume(coreml::RenderJson(*report));
  }
  auto program = runtime::LoadPackageProgram(&fs, kPackage);
  (void)program;
  auto blobs =
      coreml::BlobReader::Open(&fs, kPackage + "/Data/com.apple.CoreML/weights/weight.bin");
  if (blobs.ok()) {
    auto all = blobs->All();
    if (all.ok()) {
      for (const coreml::Blob& b : *all) Consume(b.data);
    }
  }
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzMlpackage({data, size});
  return 0;
}
