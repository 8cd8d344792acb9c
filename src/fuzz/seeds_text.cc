// Seeds of the text readers: tokenizer, chat_template.
#include <nlohmann/json.hpp>

#include "base/file_system.h"
#include "fuzz/fuzz_files.h"
#include "fuzz/make_fuzz_seeds.h"
#include "runtime/generation.h"
#include "text/chat_template.h"

namespace anec::fuzz {
namespace {

using nlohmann::json;

// Lines of the tokenizer test corpus, each a different kind of text (prose, numbers, code...).
std::vector<std::string> CorpusLines(const Paths& p) {
  std::vector<std::string> lines;
  std::string text = ReadFixture(p, "text/corpus.txt");
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace

void TextSeeds(const Paths& p) {
  const std::vector<std::string> lines = CorpusLines(p);
  // One seed per fixture tokenizer: its special tokens as bos/eos, a template that uses them, and
  // a corpus line to encode.
  struct Case {
    const char* file;
    const char* bos;
    const char* eos;
    const char* chat_template;  // a fixture template, or null
  };
  const Case cases[] = {{"llama2.json", "<s>", "</s>", "mistral_style.jinja"},
                        {"llama3.json", "<|begin_of_text|>", "<|eot_id|>", "llama3_style.jinja"},
                        {"mistral_metaspace.json", "<s>", "</s>", nullptr},
                        {"qwen2.json", "", "<|im_end|>", "qwen_style.jinja"},
                        {"smollm.json", "<|im_start|>", "<|im_end|>", "smollm_style.jinja"}};
  size_t line = 0;
  for (const Case& c : cases) {
    json config = {{"bos_token", c.bos}, {"eos_token", c.eos}, {"add_bos_token", true}};
    if (c.chat_template) {
      config["chat_template"] = ReadFixture(p, std::string("text/templates/") + c.chat_template);
    }
    const std::string text = lines[line % lines.size()] + "\n" + lines[(line + 1) % lines.size()];
    line += 2;
    Files files = {{"tokenizer.json", SmallTokenizer(p, c.file, 300)},
                   {"tokenizer_config.json", config.dump(2)},
                   {"text", text}};
    MemoryFileSystem fs;
    for (const auto& [name, bytes] : files) fs.SetFile("/m/" + name, bytes);
    Check(runtime::LoadFolderTokenizer(&fs, "/m").status(), c.file);
    std::string name = c.file;
    WriteSeed(p, "tokenizer", name.substr(0, name.size() - 5),
              PackFuzzFiles(files, "tokenizer.json"));
  }

  // One seed per chat-template test case: the template, its messages and variables.
  const json expected = json::parse(ReadFixture(p, "text/chat_expected.json"));
  for (const json& c : expected["cases"]) {
    const std::string tmpl = c["template"];
    Files files = {{"template.jinja", ReadFixture(p, "text/templates/" + tmpl + ".jinja")},
                   {"messages.json", c["messages"].dump(1)}};
    if (c.contains("extra_vars")) files.emplace_back("vars.json", c["extra_vars"].dump(1));
    text::ChatTemplateOptions options;
    options.now = expected["now"].get<std::time_t>();
    if (c.contains("extra_vars")) {
      options.extra_vars = text::OrderedJson::parse(c["extra_vars"].dump());
    }
    auto rendered = text::RenderChatTemplate(files[0].second,
                                             text::OrderedJson::parse(files[1].second), options);
    // A case may expect the template to raise (bad role alternation): either way it parsed.
    if (!rendered.ok() && rendered.status().message().find("raised") == std::string::npos) {
      Check(rendered.status(), tmpl);
    }
    WriteSeed(p, "chat_template", tmpl + "_" + c["name"].get<std::string>(),
              PackFuzzFiles(files, "template.jinja"));
  }
}

}  // namespace anec::fuzz
