// Fuzzes tokenizer loading and use as `anec run` / `anec chat` do (runtime::LoadFolderTokenizer:
// tokenizer.json, then tokenizer_config.json's special tokens and chat template), then encodes
// the fuzzed text with and without special tokens, decodes the ids whole and streamed
// (text::StreamDecoder, as generation prints), and decodes ids taken from the text's bytes
// (unknown and negative ids included).
// Input (fuzz_files.h): tokenizer.json's bytes, then optional "@@file tokenizer_config.json" and
// "@@file text" (the text to encode; a fixed sentence when absent).
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "runtime/generation.h"
#include "text/chat_template.h"
#include "text/stream_decoder.h"

namespace anec::fuzz {
namespace {

void FuzzTokenizer(std::span<const uint8_t> input) {
  MemoryFileSystem fs;
  AddFuzzFiles(input, "/m", "tokenizer.json", &fs);
  auto tokenizer = runtime::LoadFolderTokenizer(&fs, "/m");
  if (!tokenizer.ok()) return;
  auto text = fs.ReadFile("/m/text");
  const std::string sample = text.ok() ? *text : "Hello, world! 123 <s> ünïcödé\n\tend";

  for (bool add_special : {false, true}) {
    std::vector<int32_t> ids = tokenizer->Encode(sample, add_special);
    for (bool skip_special : {false, true}) {
      Consume(tokenizer->Decode(ids, skip_special));
      text::StreamDecoder stream(&*tokenizer, skip_special);
      for (int32_t id : ids) Consume(stream.Put(id));
      Consume(stream.Flush());
    }
    for (int32_t id : ids) Consume(tokenizer->IdToToken(id));
  }
  // Ids no encoder would produce: anything the sampler could return, and garbage.
  std::vector<int32_t> raw_ids;
  for (size_t i = 0; i + 4 <= sample.size() && raw_ids.size() < 64; i += 4) {
    int32_t id;
    std::memcpy(&id, sample.data() + i, 4);
    raw_ids.push_back(id);
  }
  Consume(tokenizer->Decode(raw_ids, false));
  Consume(tokenizer->Decode(raw_ids, true));

  if (!tokenizer->chat_template().empty()) {
    text::OrderedJson messages = text::OrderedJson::array();
    messages.push_back({{"role", "system"}, {"content", "Be brief."}});
    messages.push_back({{"role", "user"}, {"content", sample}});
    text::ChatTemplateOptions options;
    options.add_generation_prompt = true;
    options.now = 0;
    auto prompt = text::ApplyChatTemplate(*tokenizer, messages, options);
    if (prompt.ok()) Consume(*prompt);
  }
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzTokenizer({data, size});
  return 0;
}
