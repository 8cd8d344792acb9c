// Internals of anec_fuzz_seeds (make_fuzz_seeds_main.cc): shared helpers and one function per
// group of corpora. Not a library for anything else.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace anec::fuzz {

// (name, bytes) of the files of one seed, for PackFuzzFiles.
using Files = std::vector<std::pair<std::string, std::string>>;

struct Paths {
  std::string root;      // repository root
  std::string fixtures;  // root/tests/fixtures
  std::string out;       // root/tests/fuzz/corpus
};

// Exits with a message naming `what` when `s` is not OK: a seed that its reader rejects would
// waste the corpus.
void Check(const Status& s, std::string_view what);
// Bytes of tests/fixtures/`rel`.
std::string ReadFixture(const Paths& p, const std::string& rel);
// Writes out/`target`/`name` (creating the folder).
void WriteSeed(const Paths& p, const std::string& target, const std::string& name,
               std::string_view bytes);
// tests/fixtures/text/tokenizers/`file` reduced to ids < `keep_ids` (plus its added tokens) and
// the merges among them: the same pipeline components in a few KB.
std::string SmallTokenizer(const Paths& p, const std::string& file, int keep_ids);

void GgufSeeds(const Paths& p);         // gguf
void SafetensorsSeeds(const Paths& p);  // safetensors
void ConfigSeeds(const Paths& p);       // hf_config, prequant_config
void TextSeeds(const Paths& p);         // tokenizer, chat_template

}  // namespace anec::fuzz
