// Fuzzes the Jinja chat-template engine through text::RenderChatTemplate (what `anec chat` and
// ApplyChatTemplate call): lexing, parsing and rendering a fuzzed template against fuzzed
// messages and extra variables (tools, enable_thinking, ...), with a fixed clock.
// Input (fuzz_files.h): the template's bytes, then optional "@@file messages.json" (a JSON array;
// a fixed conversation when absent or not JSON) and "@@file vars.json" (an object of extra
// variables).
#include "fuzz/fuzz_files.h"
#include "fuzz/fuzz_util.h"
#include "text/chat_template.h"

namespace anec::fuzz {
namespace {

text::OrderedJson DefaultMessages() {
  text::OrderedJson m = text::OrderedJson::array();
  m.push_back({{"role", "system"}, {"content", "You are helpful."}});
  m.push_back({{"role", "user"}, {"content", "Hi <b>there</b> \"q\" ünï"}});
  m.push_back({{"role", "assistant"}, {"content", "Hello!"}, {"reasoning_content", "greet"}});
  m.push_back({{"role", "user"}, {"content", "2+2?"}});
  return m;
}

void FuzzChatTemplate(std::span<const uint8_t> input) {
  MemoryFileSystem fs;
  AddFuzzFiles(input, "/t", "template.jinja", &fs);
  auto tmpl = fs.ReadFile("/t/template.jinja");
  if (!tmpl.ok()) return;
  text::OrderedJson messages = DefaultMessages();
  if (auto m = fs.ReadFile("/t/messages.json"); m.ok()) {
    auto parsed = text::OrderedJson::parse(*m, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) messages = std::move(parsed);
  }
  text::ChatTemplateOptions options;
  options.now = 1700000000;
  options.extra_vars = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
  if (auto v = fs.ReadFile("/t/vars.json"); v.ok()) {
    auto parsed = text::OrderedJson::parse(*v, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) options.extra_vars.update(parsed);
  }
  for (bool add_generation_prompt : {false, true}) {
    options.add_generation_prompt = add_generation_prompt;
    auto out = text::RenderChatTemplate(*tmpl, messages, options);
    if (out.ok()) Consume(*out);
  }
}

}  // namespace
}  // namespace anec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > anec::fuzz::kMaxInputBytes) return -1;
  anec::fuzz::FuzzChatTemplate({data, size});
  return 0;
}
