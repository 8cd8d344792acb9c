// Our converted folders run by emulations of ANEMLL's own runtimes (docs/ANEMLL_CONTRACT.md).
//
// Each case converts a parity fixture (3 layers, vocab 256, or cut to 250) with the real
// pipeline at context 64, batch 8, and, for every runtime (chat.py, chat_full.py, Swift CLI;
// 0.3.4 and 0.3.5) on the folder as a Mac holds it after compile_on_mac.sh: resolves the files
// that runtime would load, checks every input and state it feeds against the packages' declared
// I/O, runs the packages with anec's Program/RunFunction the way that runtime drives them, maps
// the LM head's outputs to ids by that runtime's rule, and requires the greedy tokens to equal
// runtime::LlmModel's on the same folder and transformers' where the fixture has them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "anemll_emulator.h"
#include "contract_support.h"
#include "parity_support.h"

namespace anec::contract {
namespace {

constexpr int kSteps = 32;

struct Case {
  std::string label;
  ContractConversion conv;
  ContractConversion logits_twin;  // argmax cases: the same conversion with logits, for LlmModel
  std::string prefix;
  int64_t pieces, piece_rows, pad_rows;
};

std::vector<Case> Cases() {
  auto conv = [](std::string fixture, int64_t vocab, int64_t chunks, int lut, bool argmax) {
    ContractConversion c;
    c.fixture = std::move(fixture);
    c.vocab = vocab;
    c.chunks = chunks;
    c.lut = lut;
    c.argmax = argmax;
    return c;
  };
  std::vector<Case> out;
  auto add = [&](std::string label, ContractConversion c, std::string prefix, int64_t k, int64_t p,
                 int64_t r) {
    ContractConversion twin = c;
    twin.argmax = false;
    out.push_back({std::move(label), c, twin, std::move(prefix), k, p, r});
  };
  // Llama: split_lm_head 8 divides 256 (8 x 32); 250 is divided by neither 8 nor 16: 8 x 32
  // with 6 padded rows. Qwen: 16 x 16.
  add("llama_c1_fp16", conv("llama_untied", 0, 1, 0, false), "llama", 8, 32, 0);
  add("llama_c3_fp16", conv("llama_untied", 0, 3, 0, false), "llama", 8, 32, 0);
  add("llama_c3_lut6", conv("llama_untied", 0, 3, 6, false), "llama", 8, 32, 0);
  add("qwen2_c3_fp16", conv("qwen2_tied", 0, 3, 0, false), "qwen25", 16, 16, 0);
  add("llama_v250_c3_fp16", conv("llama_untied", 250, 3, 0, false), "llama", 8, 32, 6);
  add("llama_c1_argmax", conv("llama_untied", 0, 1, 0, true), "llama", 8, 32, 0);
  add("llama_v250_c3_argmax", conv("llama_untied", 250, 3, 0, true), "llama", 8, 32, 6);
  return out;
}

struct Param {
  Case c;
  AnemllRuntime runtime;
};

void PrintTo(const Param& p, std::ostream* os) {
  *os << p.c.label << " / " << RuntimeName(p.runtime);
}

std::string ParamName(const testing::TestParamInfo<Param>& info) {
  std::string r = RuntimeName(info.param.runtime);
  for (char& ch : r) {
    if (ch == '.' || ch == ' ') ch = '_';
  }
  return info.param.c.label + "_" + r;
}

std::vector<Param> AllParams() {
  std::vector<Param> out;
  for (const Case& c : Cases()) {
    for (AnemllRuntime r : AllRuntimes()) out.push_back({c, r});
  }
  return out;
}

ContractFolder* Converted(const ContractConversion& c) {
  ContractFolder* f = GetFolder(c);
  EXPECT_TRUE(f->status.ok()) << c.Key() << ": " << f->status.ToString();
  return f->status.ok() ? f : nullptr;
}

// What the folder must hold for this runtime, by the contract: the .mlmodelc names.
std::vector<std::string> ExpectedChunks(const Case& c) {
  std::vector<std::string> out;
  const std::string lut = c.conv.lut > 0 ? "_lut" + std::to_string(c.conv.lut) : "";
  for (int64_t k = 1; k <= c.conv.chunks; ++k) {
    out.push_back(
        fmt::format("{}_FFN_PF{}_chunk_{:02d}of{:02d}.mlmodelc", c.prefix, lut, k, c.conv.chunks));
  }
  return out;
}

int Same(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  int n = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) n += a[i] == b[i];
  return n;
}

class AnemllRuntimeContract : public testing::TestWithParam<Param> {};

TEST_P(AnemllRuntimeContract, FindsTheCompiledFiles) {
  const Case& c = GetParam().c;
  ContractFolder* f = Converted(c.conv);
  if (f == nullptr) return;
  auto files = ResolveFiles(GetParam().runtime, f->meta, f->on_mac);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  const std::string lut = c.conv.lut > 0 ? "_lut" + std::to_string(c.conv.lut) : "";
  EXPECT_EQ(files->embeddings, c.prefix + "_embeddings.mlmodelc");
  EXPECT_EQ(files->lm_head, c.prefix + "_lm_head" + lut + ".mlmodelc");
  EXPECT_EQ(files->chunks, ExpectedChunks(c));
}

TEST_P(AnemllRuntimeContract, GreedyTokensMatchLlmModelAndTransformers) {
  const Case& c = GetParam().c;
  const AnemllRuntime rt = GetParam().runtime;
  ContractFolder* f = Converted(c.conv);
  ContractFolder* twin = c.conv.argmax ? Converted(c.logits_twin) : f;
  if (f == nullptr || twin == nullptr) return;
  ASSERT_TRUE(twin->model_status.ok()) << "LlmModel::Open: " << twin->model_status.ToString();
  auto prompts = PromptsFor(c.conv);
  ASSERT_TRUE(prompts.ok()) << prompts.status().ToString();
  auto emulator = Emulator::Open(rt, f->dir, f->on_mac);
  if (c.conv.argmax && !Is035(rt)) {
    // 0.3.4 reads only logits1..K (or output_logits): an --argmax folder cannot run there.
    ASSERT_TRUE(emulator.ok()) << emulator.status().ToString();
    auto g = (*emulator)->Greedy((*prompts)[0].ids, 1);
    EXPECT_FALSE(g.ok()) << RuntimeName(rt) << " ran an argmax LM head";
    if (!g.ok())
      std::printf("EXPECTED %s: %s\n", RuntimeName(rt).c_str(), g.status().ToString().c_str());
    return;
  }
  ASSERT_TRUE(emulator.ok()) << emulator.status().ToString();
  // Swift CLI 0.3.4 lets the infer query at p see mask column p + 1 (getCausalMask at
  // currentPos; fixed in 0.3.5), a row holding a padding token's or no key: its tokens are
  // compared with the mask as 0.3.5 builds it, and its own agreement is printed.
  const bool swift034 = rt == AnemllRuntime::kSwiftCli034;
  for (size_t p = 0; p < prompts->size(); ++p) {
    const ContractPrompt& prompt = (*prompts)[p];
    if (swift034) {
      auto faithful = Emulator::Open(rt, f->dir, f->on_mac);
      ASSERT_TRUE(faithful.ok()) << faithful.status().ToString();
      auto g = (*faithful)->Greedy(prompt.ids, kSteps);
      ASSERT_TRUE(g.ok()) << g.status().ToString();
      auto ours = parity::GreedyDecode(twin->model.get(), prompt.ids, kSteps);
      ASSERT_TRUE(ours.ok()) << ours.status().ToString();
      std::printf(
          "CONTRACT %s Swift CLI 0.3.4 (its own mask, column p+1 visible) prompt %zu: "
          "%d/%d tokens equal LlmModel's\n",
          c.label.c_str(), p, Same(*g, *ours), kSteps);
    }
    // A fresh state per prompt.
    auto emu =
        Emulator::Open(rt, f->dir, f->on_mac, swift034 ? std::optional<int>(0) : std::nullopt);
    ASSERT_TRUE(emu.ok()) << emu.status().ToString();
    auto got = (*emu)->Greedy(prompt.ids, kSteps);
    ASSERT_TRUE(got.ok()) << "prompt " << p << ": " << got.status().ToString();
    auto ours = parity::GreedyDecode(twin->model.get(), prompt.ids, kSteps);
    if (ours.ok()) {
      std::printf("CONTRACT %s %s prompt %zu: %d/%d tokens equal LlmModel's\n", c.label.c_str(),
                  RuntimeName(rt).c_str(), p, Same(*got, *ours), kSteps);
      EXPECT_EQ(*got, *ours) << RuntimeName(rt) << " prompt " << p << " (" << prompt.ids.size()
                             << " tokens)";
    } else {
      ADD_FAILURE() << "LlmModel greedy: " << ours.status().ToString();
    }
    if (!prompt.reference_greedy.empty() && c.conv.lut == 0) {
      std::printf("CONTRACT %s %s prompt %zu: %d/%d tokens equal transformers'\n", c.label.c_str(),
                  RuntimeName(rt).c_str(), p, Same(*got, prompt.reference_greedy), kSteps);
      EXPECT_EQ(*got, prompt.reference_greedy) << "transformers, prompt " << p;
    }
    // Every step: the runtime's id is the argmax over the real vocabulary of the logits it read
    // (padded rows never win; the Swift offsets land on the same ids as concatenation).
    const int64_t vocab = c.conv.vocab > 0 ? c.conv.vocab : 256;
    for (const Emulator::Step& s : (*emu)->steps()) {
      ASSERT_GE(s.token, 0);
      ASSERT_LT(s.token, vocab) << "a padded LM-head row won at position " << s.position;
      if (s.logits.empty()) continue;
      std::vector<float> flat;
      for (const auto& piece : s.logits) {
        ASSERT_EQ(static_cast<int64_t>(piece.size()), c.piece_rows);
        flat.insert(flat.end(), piece.begin(), piece.end());
      }
      ASSERT_EQ(static_cast<int64_t>(flat.size()), c.pieces * c.piece_rows);
      flat.resize(static_cast<size_t>(vocab));
      EXPECT_EQ(s.token, parity::Argmax(flat)) << "position " << s.position;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Folders, AnemllRuntimeContract, testing::ValuesIn(AllParams()), ParamName);

}  // namespace
}  // namespace anec::contract
