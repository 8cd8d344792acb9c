// Fuzzes a GPTQ / AWQ checkpoint's quantization settings and int4 tensors as a conversion reads
// them (io::OpenCheckpointDequantized, what model::LoadHfCheckpoint calls): io::ReadPrequantConfig
// finds config.json's quantization_config or a legacy quantize_config.json / quant_config.json,
// then the int4 linears are checked, dequantized (every presented tensor read) and unpacked for
// Core ML (ReadInt4 / ReadBlockwise).
// Input (fuzz_files.h): config.json's bytes, then optional "@@file quantize_config.json",
// "@@file quant_config.json" and "@@file model.safetensors" (qweight / qzeros / scales / g_idx).
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "io/prequant_config.h"
#include "io/prequant_source.h"

namespace anec::fuzz {
namespace {

void FuzzPrequant(std::span<const uint8_t> input) {
  MemoryFileSystem fs;
  AddFuzzFiles(input, "/m", "config.json", &fs);
  auto config = io::ReadPrequantConfig(&fs, "/m");
  if (!config.ok() || !config->has_value()) return;
  if (!fs.Exists("/m/model.safetensors") && !fs.Exists("/m/model.safetensors.index.json")) return;
  auto source = io::OpenCheckpointDequantized(&fs, "/m");
  if (!source.ok()) return;
  for (const io::TensorInfo& info : (*source)->List()) {
    auto t = (*source)->Read(info.name);
    if (t.ok()) Consume(t->data);
  }
  const auto* prequant = dynamic_cast<const io::PrequantizedSource*>(source->get());
  if (prequant == nullptr) return;
  for (const std::string& weight : prequant->QuantizedWeights()) {
    auto int4 = prequant->ReadInt4(weight);
    auto blockwise = prequant->ReadBlockwise(weight);
    (void)int4;
    (void)blockwise;
  }
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzPrequant({data, size});
  return 0;
}
