// The converted folder itself against the contract the emulated runtimes rely on: meta.yaml
// keys, compile_on_mac.sh names, the packages' declared I/O and metadata; and the folder run
// uncompiled, with the per-chunk KV option, and across a context shift.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "anemll_emulator.h"
#include "base/file_system.h"
#include "contract_support.h"
#include "parity_support.h"
#include "runtime/llm_model.h"

namespace anec::contract {
namespace {

namespace spec = ::CoreML::Specification;

ContractConversion Conv(int64_t vocab, int64_t chunks, int lut, bool argmax) {
  ContractConversion c;
  c.vocab = vocab;
  c.chunks = chunks;
  c.lut = lut;
  c.argmax = argmax;
  return c;
}

ContractFolder* Folder(const ContractConversion& c) {
  ContractFolder* f = GetFolder(c);
  EXPECT_TRUE(f->status.ok()) << c.Key() << ": " << f->status.ToString();
  return f->status.ok() ? f : nullptr;
}

const spec::FunctionDescription* Function(const runtime::Program& p, const std::string& name) {
  for (const auto& f : p.description().functions()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

// name -> (dtype code, shape) of a feature list.
std::map<std::string, std::pair<int, std::vector<int64_t>>> Features(
    const google::protobuf::RepeatedPtrField<spec::FeatureDescription>& list) {
  std::map<std::string, std::pair<int, std::vector<int64_t>>> out;
  for (const auto& f : list) {
    const auto& t = f.type();
    const auto& a = t.has_statetype() ? t.statetype().arraytype() : t.multiarraytype();
    out[f.name()] = {a.datatype(), std::vector<int64_t>(a.shape().begin(), a.shape().end())};
  }
  return out;
}

constexpr int kFp16 = spec::ArrayFeatureType::FLOAT16;
constexpr int kInt32 = spec::ArrayFeatureType::INT32;

struct MetaCase {
  ContractConversion conv;
  int64_t vocab, pieces, rows, pad;
};

class FolderContract : public testing::TestWithParam<MetaCase> {};

TEST_P(FolderContract, MetaYamlPackagesAndCompileScript) {
  const MetaCase& mc = GetParam();
  ContractFolder* f = Folder(mc.conv);
  if (f == nullptr) return;
  const MetaParams& m = f->meta;
  const std::string lut = mc.conv.lut ? "_lut" + std::to_string(mc.conv.lut) : "";
  EXPECT_EQ(m.Get("embeddings"), "llama_embeddings.mlmodelc");
  EXPECT_EQ(m.Get("lm_head"), "llama_lm_head" + lut + ".mlmodelc");
  EXPECT_EQ(m.Get("ffn"), "llama_FFN_PF" + lut + ".mlmodelc") << "no chunk suffix (0.3.4 form)";
  EXPECT_EQ(m.Int("num_chunks"), mc.conv.chunks);
  EXPECT_EQ(m.Int("split_lm_head"), mc.pieces);
  EXPECT_EQ(m.Int("vocab_size"), mc.vocab);
  EXPECT_EQ(m.IntList("lm_head_chunk_sizes"), std::vector<int64_t>(mc.pieces, mc.rows));
  EXPECT_EQ(m.Int("lm_head_pad_rows"), mc.pad > 0 ? std::optional<int64_t>(mc.pad) : std::nullopt);
  EXPECT_EQ(m.Bool("argmax_in_model"), mc.conv.argmax ? std::optional<bool>(true) : std::nullopt);
  EXPECT_NE(m.version, "0.1.1") << "the Swift CLI treats version 0.1.1 as an old layout (v110)";
  // compile_on_mac.sh writes exactly the .mlmodelc names the runtimes load.
  std::set<std::string> compiled, want = {*m.Get("embeddings"), *m.Get("lm_head")};
  for (const CompileStep& s : f->compile_steps) {
    EXPECT_TRUE(f->written.Exists(s.package)) << s.package;
    compiled.insert(s.compiled);
  }
  for (int64_t k = 1; k <= mc.conv.chunks; ++k) {
    want.insert(
        fmt::format("llama_FFN_PF{}_chunk_{:02d}of{:02d}.mlmodelc", lut, k, mc.conv.chunks));
  }
  EXPECT_EQ(compiled, want);

  // LM head: K equal pieces, logits1..K fp16 [1,1,P], or argmax_idx int32 [K] / argmax_val
  // fp16 [K]; metadata com.anemll.vocab_size and com.anemll.lm_head_chunk_sizes.
  FileSystem* fs = RealFileSystem();
  auto head = runtime::LoadPackageProgram(fs, JoinPath(f->dir, SourcePackage(*m.Get("lm_head"))));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  const spec::FunctionDescription* main = Function(**head, "main");
  auto outs = Features(main ? main->output() : (*head)->description().output());
  if (mc.conv.argmax) {
    EXPECT_EQ(outs.size(), 2u);
    EXPECT_EQ(outs["argmax_idx"], std::make_pair(kInt32, std::vector<int64_t>{mc.pieces}));
    EXPECT_EQ(outs["argmax_val"], std::make_pair(kFp16, std::vector<int64_t>{mc.pieces}));
  } else {
    EXPECT_EQ(static_cast<int64_t>(outs.size()), mc.pieces);
    for (int64_t i = 1; i <= mc.pieces; ++i) {
      EXPECT_EQ(outs[fmt::format("logits{}", i)],
                std::make_pair(kFp16, std::vector<int64_t>{1, 1, mc.rows}))
          << "logits" << i;
    }
  }
  const auto& meta = (*head)->description().metadata().userdefined();
  EXPECT_EQ(meta.count("com.anemll.vocab_size") ? meta.at("com.anemll.vocab_size") : "",
            std::to_string(mc.vocab));
  std::string sizes;
  for (int64_t i = 0; i < mc.pieces; ++i) {
    if (i) sizes += ',';  // appended piece by piece: GCC 12 -O3 warns falsely on `"," + string`
    sizes += std::to_string(mc.rows);
  }
  EXPECT_EQ(
      meta.count("com.anemll.lm_head_chunk_sizes") ? meta.at("com.anemll.lm_head_chunk_sizes") : "",
      sizes);

  // Chunks: infer / prefill I/O and the shared state (3 layers, 2 kv heads, head_dim 16, H 64).
  const int64_t c = 64, b = 8, h = 64;
  for (int64_t k = 1; k <= mc.conv.chunks; ++k) {
    auto chunk = runtime::LoadPackageProgram(
        fs, JoinPath(f->dir, fmt::format("llama_FFN_PF{}_chunk_{:02d}of{:02d}.mlpackage", lut, k,
                                         mc.conv.chunks)));
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    const spec::FunctionDescription* infer = Function(**chunk, "infer");
    const spec::FunctionDescription* prefill = Function(**chunk, "prefill");
    ASSERT_TRUE(infer != nullptr && prefill != nullptr) << "chunk " << k;
    using F = std::map<std::string, std::pair<int, std::vector<int64_t>>>;
    EXPECT_EQ(Features(infer->input()), (F{{"hidden_states", {kFp16, {1, 1, h}}},
                                           {"position_ids", {kInt32, {1}}},
                                           {"causal_mask", {kFp16, {1, 1, 1, c}}},
                                           {"current_pos", {kInt32, {1}}}}));
    EXPECT_EQ(Features(prefill->input()), (F{{"hidden_states", {kFp16, {1, b, h}}},
                                             {"position_ids", {kInt32, {b}}},
                                             {"causal_mask", {kFp16, {1, 1, b, c}}},
                                             {"current_pos", {kInt32, {1}}}}));
    for (const auto* fn : {infer, prefill}) {
      EXPECT_EQ(Features(fn->state()), (F{{"model_model_kv_cache_0", {kFp16, {6, 2, c, 16}}}}))
          << fn->name() << " chunk " << k;
    }
    EXPECT_EQ(Features(infer->output()), (F{{"output_hidden_states", {kFp16, {1, 1, h}}}}));
    const int64_t rows = k == mc.conv.chunks ? 1 : b;  // the last prefill outputs one row
    EXPECT_EQ(Features(prefill->output()), (F{{"output_hidden_states", {kFp16, {1, rows, h}}}}))
        << "chunk " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Folders, FolderContract,
                         testing::Values(MetaCase{Conv(0, 1, 0, false), 256, 8, 32, 0},
                                         MetaCase{Conv(0, 3, 6, false), 256, 8, 32, 0},
                                         MetaCase{Conv(250, 3, 0, false), 250, 8, 32, 6},
                                         MetaCase{Conv(250, 3, 0, true), 250, 8, 32, 6}));

// The folder as written on Linux (no .mlmodelc): chat.py 0.3.4 picks the .mlpackage files and
// coremltools' MLModel rejects the `update_mask` it feeds to infer; 0.3.5 feeds it only when
// declared, so it runs. (On a Mac after compile_on_mac.sh, .mlmodelc is found first and
// CompiledMLModel ignores the extra input.)
TEST(UncompiledFolder, ChatPy034NeedsTheCompiledModels) {
  ContractFolder* f = Folder(Conv(0, 3, 0, false));
  if (f == nullptr) return;
  auto prompts = PromptsFor(Conv(0, 3, 0, false));
  ASSERT_TRUE(prompts.ok());
  for (AnemllRuntime r : {AnemllRuntime::kChatPy034, AnemllRuntime::kChatFullPy034}) {
    auto e = Emulator::Open(r, f->dir, f->written);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ((*e)->files().chunks[0], "llama_FFN_PF_chunk_01of03.mlpackage");
    auto g = (*e)->Greedy((*prompts)[0].ids, 1);
    ASSERT_FALSE(g.ok()) << RuntimeName(r);
    EXPECT_NE(g.status().ToString().find("update_mask"), std::string::npos)
        << g.status().ToString();
  }
  for (AnemllRuntime r : {AnemllRuntime::kChatPy035, AnemllRuntime::kChatFullPy035}) {
    auto e = Emulator::Open(r, f->dir, f->written);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    auto g = (*e)->Greedy((*prompts)[2].ids, 32);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_EQ(*g, (*prompts)[2].reference_greedy) << RuntimeName(r);
  }
}

// --kv-cache per-chunk (anec's runtime only): every chunk declares its own state, which the
// state ANEMLL makes from chunk 1's prefill does not hold. The emulation must refuse it.
TEST(PerChunkKv, AnemllRuntimesRefuseIt) {
  ContractConversion c = Conv(0, 3, 0, false);
  c.per_chunk_kv = true;
  ContractFolder* f = Folder(c);
  if (f == nullptr) return;
  for (AnemllRuntime r : AllRuntimes()) {
    auto e = Emulator::Open(r, f->dir, f->on_mac);
    ASSERT_FALSE(e.ok()) << RuntimeName(r);
    EXPECT_NE(e.status().ToString().find("model_model_kv_cache_1"), std::string::npos)
        << e.status().ToString();
  }
}

// chat_full.py and the Swift CLI shift the context at position C - 2, keeping the newest
// ShiftKeep(C, B) = 48 tokens and prefilling them again (the Python scripts into the same
// state, the Swift CLI into a fresh one). After the shift their tokens must equal LlmModel's
// greedy continuation of that window.
TEST(ContextShift, ContinuesLikeAFreshRunOnTheWindow) {
  ContractFolder* f = Folder(Conv(0, 3, 0, false));
  if (f == nullptr) return;
  ASSERT_TRUE(f->model_status.ok()) << f->model_status.ToString();
  auto prompts = PromptsFor(Conv(0, 3, 0, false));
  ASSERT_TRUE(prompts.ok());
  const std::vector<int32_t>& prompt = (*prompts)[2].ids;  // 29 tokens
  const int steps = 45;                                    // shifts at position 62
  for (AnemllRuntime r : {AnemllRuntime::kChatFullPy034, AnemllRuntime::kChatFullPy035,
                          AnemllRuntime::kSwiftCli035}) {
    auto e = Emulator::Open(r, f->dir, f->on_mac);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    auto g = (*e)->Greedy(prompt, steps);
    ASSERT_TRUE(g.ok()) << RuntimeName(r) << ": " << g.status().ToString();
    ASSERT_EQ((*e)->shift_windows().size(), 1u) << RuntimeName(r);
    const std::vector<int32_t>& window = (*e)->shift_windows()[0];
    ASSERT_EQ(window.size(), 48u);
    const size_t before = 64 - 2 - prompt.size();  // tokens generated before the shift
    auto ours = parity::GreedyDecode(f->model.get(), prompt, static_cast<int>(before));
    ASSERT_TRUE(ours.ok()) << ours.status().ToString();
    EXPECT_EQ(std::vector<int32_t>(g->begin(), g->begin() + static_cast<long>(before)), *ours)
        << RuntimeName(r);
    auto after = parity::GreedyDecode(f->model.get(), window, steps - static_cast<int>(before));
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(std::vector<int32_t>(g->begin() + static_cast<long>(before), g->end()), *after)
        << RuntimeName(r) << " after the shift";
  }
}

}  // namespace
}  // namespace anec::contract
