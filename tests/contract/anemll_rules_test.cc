// The emulated ANEMLL rules themselves, on hand-made inputs: path resolution per runtime, the
// compile script reader, masks, and the LM-head id mappings, including the cases where a rule
// gives a wrong id (so the end-to-end tests are known to be able to fail).
#include "anemll_rules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "anemll_paths.h"

namespace anec::contract {
namespace {

// meta.yaml as the contract writes it (3 chunks, LUT 6 for FFN and LM head).
constexpr const char* kMeta = R"(model_info:
  name: anemll-t-ctx64
  version: 0.1.0
  architecture: llama
  parameters:
    context_length: 64
    batch_size: 8
    lut_embeddings: none
    lut_ffn: 6
    lut_lmhead: 6
    num_chunks: 3
    model_prefix: llama
    embeddings: llama_embeddings.mlmodelc
    lm_head: llama_lm_head_lut6.mlmodelc
    ffn: llama_FFN_PF_lut6.mlmodelc
    split_lm_head: 8
    vocab_size: 250
    lm_head_chunk_sizes: [32, 32, 32, 32, 32, 32, 32, 32]
    lm_head_pad_rows: 6
)";

MetaParams Meta(std::string text = kMeta) {
  auto m = ParseMeta(text, "meta.yaml");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : MetaParams{};
}

FolderListing Packages() {
  FolderListing l;
  for (const char* n :
       {"meta.yaml", "compile_on_mac.sh", "llama_embeddings.mlpackage",
        "llama_lm_head_lut6.mlpackage", "llama_FFN_PF_lut6_chunk_01of03.mlpackage",
        "llama_FFN_PF_lut6_chunk_02of03.mlpackage", "llama_FFN_PF_lut6_chunk_03of03.mlpackage"}) {
    l.Add(n);
  }
  return l;
}

constexpr const char* kScript =
    "#!/bin/sh\nset -e\ncd \"$(dirname \"$0\")\"\n"
    "xcrun coremlcompiler compile 'llama_embeddings.mlpackage' .\n"
    "xcrun coremlcompiler compile 'llama_lm_head_lut6.mlpackage' .\n"
    "xcrun coremlcompiler compile 'llama_FFN_PF_lut6_chunk_01of03.mlpackage' .\n"
    "xcrun coremlcompiler compile 'llama_FFN_PF_lut6_chunk_02of03.mlpackage' .\n"
    "xcrun coremlcompiler compile 'llama_FFN_PF_lut6_chunk_03of03.mlpackage' .\n";

FolderListing OnMac() {
  auto steps = ParseCompileScript(kScript);
  EXPECT_TRUE(steps.ok()) << steps.status().ToString();
  return AfterCompile(Packages(), steps.ok() ? *steps : std::vector<CompileStep>{});
}

const std::vector<std::string> kCompiledChunks = {"llama_FFN_PF_lut6_chunk_01of03.mlmodelc",
                                                  "llama_FFN_PF_lut6_chunk_02of03.mlmodelc",
                                                  "llama_FFN_PF_lut6_chunk_03of03.mlmodelc"};

TEST(AnemllPaths, EveryRuntimeFindsTheCompiledFilesOnAMac) {
  for (AnemllRuntime r : AllRuntimes()) {
    auto f = ResolveFiles(r, Meta(), OnMac());
    ASSERT_TRUE(f.ok()) << RuntimeName(r) << ": " << f.status().ToString();
    EXPECT_EQ(f->embeddings, "llama_embeddings.mlmodelc") << RuntimeName(r);
    EXPECT_EQ(f->lm_head, "llama_lm_head_lut6.mlmodelc") << RuntimeName(r);
    EXPECT_EQ(f->chunks, kCompiledChunks) << RuntimeName(r);
  }
}

TEST(AnemllPaths, PythonRunsUncompiledPackagesSwiftDoesNot) {
  for (AnemllRuntime r : AllRuntimes()) {
    auto f = ResolveFiles(r, Meta(), Packages());
    if (IsSwift(r)) {
      EXPECT_FALSE(f.ok()) << RuntimeName(r) << " must need the .mlmodelc files";
      continue;
    }
    ASSERT_TRUE(f.ok()) << RuntimeName(r) << ": " << f.status().ToString();
    EXPECT_EQ(f->embeddings, "llama_embeddings.mlpackage");
    EXPECT_EQ(f->chunks[2], "llama_FFN_PF_lut6_chunk_03of03.mlpackage");
  }
}

TEST(AnemllPaths, SwiftCannotUseAnFfnKeyEndingInMlpackage) {
  // The Swift CLI strips only `.mlmodelc` before appending the chunk suffix.
  std::string text = kMeta;
  text.replace(text.find("ffn: llama_FFN_PF_lut6.mlmodelc"), 31,
               "ffn: llama_FFN_PF_lut6.mlpackage");
  auto f = ResolveFiles(AnemllRuntime::kSwiftCli034, Meta(text), OnMac());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().ToString().find("llama_FFN_PF_lut6.mlpackage_chunk_01of03.mlmodelc"),
            std::string::npos)
      << f.status().ToString();
}

TEST(AnemllPaths, SwiftUsesTheEmbeddingsKeyVerbatim) {
  std::string text = kMeta;
  text.replace(text.find("embeddings: llama_embeddings.mlmodelc"), 37,
               "embeddings: llama_embeddings.mlpackage");
  auto swift = ResolveFiles(AnemllRuntime::kSwiftCli035, Meta(text), OnMac());
  ASSERT_TRUE(swift.ok()) << swift.status().ToString();
  EXPECT_EQ(swift->embeddings, "llama_embeddings.mlpackage");  // loaded as is: not compiled
  // chat.py 0.3.5 strips the extension and prefers .mlmodelc; 0.3.4 ignores the key.
  auto py = ResolveFiles(AnemllRuntime::kChatPy035, Meta(text), OnMac());
  ASSERT_TRUE(py.ok()) << py.status().ToString();
  EXPECT_EQ(py->embeddings, "llama_embeddings.mlmodelc");
}

TEST(AnemllPaths, ChunkCountMustMatchTheName) {
  FolderListing l = OnMac();
  l.Add("llama_FFN_PF_lut6_chunk_04of03.mlmodelc");  // a stray chunk of another conversion
  for (AnemllRuntime r : {AnemllRuntime::kChatPy034, AnemllRuntime::kChatPy035}) {
    auto f = ResolveFiles(r, Meta(), l);
    EXPECT_FALSE(f.ok()) << RuntimeName(r);
  }
  // The Swift CLI builds chunk names from num_chunks and never looks at others.
  EXPECT_TRUE(ResolveFiles(AnemllRuntime::kSwiftCli034, Meta(), l).ok());
}

TEST(AnemllPaths, OneChunkSwiftAppendsChunk01of01) {
  std::string text = kMeta;
  text.replace(text.find("num_chunks: 3"), 13, "num_chunks: 1");
  FolderListing l;
  for (const char* n : {"llama_embeddings.mlmodelc", "llama_lm_head_lut6.mlmodelc",
                        "llama_FFN_PF_lut6_chunk_01of01.mlmodelc"}) {
    l.Add(n);
  }
  for (AnemllRuntime r : AllRuntimes()) {
    auto f = ResolveFiles(r, Meta(text), l);
    ASSERT_TRUE(f.ok()) << RuntimeName(r) << ": " << f.status().ToString();
    EXPECT_EQ(f->chunks, std::vector<std::string>{"llama_FFN_PF_lut6_chunk_01of01.mlmodelc"});
  }
}

TEST(AnemllPaths, LutNoneAddsNoSuffix) {
  std::string text = kMeta;
  text.replace(text.find("lut_ffn: 6"), 10, "lut_ffn: none");
  FolderListing l;
  l.Add("llama_FFN_PF_chunk_01of03.mlmodelc");
  l.Add("llama_FFN_PF_chunk_02of03.mlmodelc");
  l.Add("llama_FFN_PF_chunk_03of03.mlmodelc");
  l.Add("llama_embeddings.mlmodelc");
  l.Add("llama_lm_head_lut6.mlmodelc");
  // lut_ffn says none but the ffn key names lut6: chat.py builds the name from lut_ffn, the
  // Swift CLI follows the key. (A converter must keep the two consistent.)
  auto py = ResolveFiles(AnemllRuntime::kChatPy034, Meta(text), l);
  ASSERT_TRUE(py.ok()) << py.status().ToString();
  EXPECT_EQ(py->chunks[0], "llama_FFN_PF_chunk_01of03.mlmodelc");
  EXPECT_FALSE(ResolveFiles(AnemllRuntime::kSwiftCli034, Meta(text), l).ok())
      << "the ffn key and lut_ffn disagree: the Swift CLI follows the key";
}

TEST(CompileScript, NamesAndErrors) {
  auto steps = ParseCompileScript(kScript);
  ASSERT_TRUE(steps.ok()) << steps.status().ToString();
  ASSERT_EQ(steps->size(), 5u);
  EXPECT_EQ((*steps)[0].compiled, "llama_embeddings.mlmodelc");
  EXPECT_FALSE(ParseCompileScript("cd \"$(dirname \"$0\")\"\n"
                                  "xcrun coremlcompiler compile 'a.mlpackage' out\n")
                   .ok());
  EXPECT_FALSE(ParseCompileScript("xcrun coremlcompiler compile 'a.mlpackage' .\n").ok())
      << "no cd to the script's folder";
}

TEST(AnemllRules, CausalMaskRows) {
  std::vector<float> row = CausalMaskRow(8, 3);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(row[static_cast<size_t>(j)] == 0.0f, j <= 3) << j;
  row = CausalMaskRow(8, 3, 1);  // Swift 0.3.4's infer row
  EXPECT_EQ(row[4], 0.0f);
  EXPECT_TRUE(std::isinf(row[5]));
  EXPECT_EQ(ShiftKeep(64, 8), 48);
  EXPECT_EQ(ShiftKeep(512, 64), 384);
}

TEST(AnemllRules, PrefillModes) {
  auto r = RulesFor(AnemllRuntime::kChatPy035, Meta(), true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prefill, PrefillMode::kInferOnly) << "no update_mask_prefill/prefill_dynamic_slice";
  std::string text = std::string(kMeta) + "    prefill_dynamic_slice: true\n";
  r = RulesFor(AnemllRuntime::kChatPy035, Meta(text), true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prefill, PrefillMode::kFullBatchesThenInfer);
  r = RulesFor(AnemllRuntime::kSwiftCli034, Meta(), true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prefill, PrefillMode::kPaddedBatches);
  EXPECT_EQ(r->infer_mask_lookahead, 1);
  EXPECT_EQ(r->context, 64);
  EXPECT_EQ(r->batch, 8);
  r = RulesFor(AnemllRuntime::kChatPy034, Meta(), /*compiled=*/false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->rejects_undeclared_inputs && r->infer_feeds_update_mask);
}

// Pieces of `sizes` rows, all -1 but a 5 at global row `winner`.
std::vector<std::vector<float>> Pieces(const std::vector<int64_t>& sizes, int64_t winner) {
  std::vector<std::vector<float>> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    std::vector<float> p(static_cast<size_t>(s), -1.0f);
    for (int64_t j = 0; j < s; ++j, ++at) {
      if (at == winner) p[static_cast<size_t>(j)] = 5.0f;
    }
    out.push_back(std::move(p));
  }
  return out;
}

TEST(AnemllRules, SwiftOffsetsNeedEqualPieces) {
  // Equal pieces (250 padded to 8 x 32): a winner in the last piece maps to its id.
  const std::vector<int64_t> equal(8, 32);
  EXPECT_EQ(SwiftOffsetArgmax(Pieces(equal, 229)), 229);
  EXPECT_EQ(ConcatArgmax(Pieces(equal, 229)), 229);
  EXPECT_EQ(SwiftOffsetArgmax(Pieces(equal, 3)), 3);
  // Unequal pieces (7 x 32 + 26, the old layout): offset 7 * 26 = 182, not 224.
  std::vector<int64_t> unequal(7, 32);
  unequal.push_back(26);
  EXPECT_EQ(ConcatArgmax(Pieces(unequal, 229)), 229);
  EXPECT_EQ(SwiftOffsetArgmax(Pieces(unequal, 229)), 187) << "the Swift rule's wrong id";
  EXPECT_EQ(SwiftOffsetArgmax(Pieces(unequal, 40)), 40) << "earlier pieces are unaffected";
}

TEST(AnemllRules, ArgmaxLayouts) {
  std::vector<int32_t> idx(8, 0);
  std::vector<float> val(8, -1.0f);
  idx[7] = 5;  // local 5 of the last piece: token 7 * 32 + 5
  val[7] = 3.0f;
  for (ArgmaxRule a : {ArgmaxRule::kPython, ArgmaxRule::kPythonClamped, ArgmaxRule::kSwift}) {
    auto rules =
        RulesFor(a == ArgmaxRule::kSwift ? AnemllRuntime::kSwiftCli035 : AnemllRuntime::kChatPy035,
                 Meta(), true);
    ASSERT_TRUE(rules.ok());
    DriveRules r = *rules;
    r.argmax = a;
    EXPECT_EQ(ArgmaxInModelToken(r, idx, val), 229);
    // Without lm_head_chunk_sizes, vocab_size 250 is spread by divmod (32, 32, 31, ...): the
    // offsets of pieces 3..8 are wrong for equal padded pieces.
    r.lm_head_chunk_sizes.reset();
    EXPECT_EQ(ArgmaxInModelToken(r, idx, val), 32 + 32 + 5 * 31 + 5) << static_cast<int>(a);
    // With a vocabulary the piece count divides, the spread is the equal layout.
    r.vocab_size = 256;
    EXPECT_EQ(ArgmaxInModelToken(r, idx, val), 229);
    // Neither key: Swift falls back to llama's 128257 rows, Python (no architecture in the
    // chunked metadata) to max(local) + 1 per piece.
    r.vocab_size.reset();
    const int64_t want = a == ArgmaxRule::kSwift ? 7 * 16032 + 1 + 5 : 7 * 6 + 5;
    EXPECT_EQ(ArgmaxInModelToken(r, idx, val), want) << static_cast<int>(a);
  }
}

}  // namespace
}  // namespace anec::contract
