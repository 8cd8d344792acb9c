#include "coreml/ane_rules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/half.h"
#include "coreml/ane_rules_test_util.h"

namespace anec::coreml {
namespace {

namespace milspec = CoreML::Specification::MILSpec;
using ane_test::FnBuilder;
using ane_test::Ids;

// A decode-style graph the way anec writes it: int32 positions only index (an int16 cast for the
// gather, an int32 concat + add for the KV-cache slice_update), fp16 everywhere else, norms over
// the last axis of [1, S, 2H].
void BuildCleanGraph(FnBuilder& f) {
  f.Input("hidden", milspec::FLOAT16, {1, 64, 1, 1});
  f.Input("position_ids", milspec::INT32, {1});
  f.Input("current_pos", milspec::INT32, {1});
  f.Input("mask", milspec::FLOAT16, {1, 1, 1, 64});
  f.State("kv", {4, 2, 64, 32});
  f.ConstF16("rope", {64, 32}, std::vector<float>(64 * 32, 0.5f));
  f.ConstStr("i16", "int16");
  f.Op("cast", "pos16", {{"x", {"position_ids"}}, {"dtype", {"i16"}}}, milspec::INT16, {1});
  f.ConstInts("axis0", {0}, /*scalar=*/true);
  f.Op("gather", "cos", {{"x", {"rope"}}, {"indices", {"pos16"}}, {"axis", {"axis0"}}},
       milspec::FLOAT16, {1, 32});
  f.ConstF16("w", {64, 64, 1, 1}, std::vector<float>(64 * 64, 0.01f));
  f.ConstInts("dil", {1, 1});
  f.Op("conv", "proj", {{"x", {"hidden"}}, {"weight", {"w"}}, {"dilations", {"dil"}}},
       milspec::FLOAT16, {1, 64, 1, 1});
  // The norm runs over the last axis of ANEMLL's [1, S, 2H] layout, not over [1, C, 1, 1].
  f.Input("stream", milspec::FLOAT16, {1, 1, 128});
  f.Op("layer_norm", "ln", {{"x", {"stream"}}}, milspec::FLOAT16, {1, 1, 128});
  f.Output("proj");
  f.ConstInts("b0", {0, 0});
  f.ConstInts("b3", {0});
  f.Op("concat", "begin", {{"values", {"b0", "current_pos", "b3"}}, {"axis", {"axis0"}}},
       milspec::INT32, {4});
  f.ConstInts("extent", {1, 2, 1, 32});
  f.Op("add", "end", {{"x", {"begin"}}, {"y", {"extent"}}}, milspec::INT32, {4});
  f.Op("read_state", "cache", {{"input", {"kv"}}}, milspec::FLOAT16, {4, 2, 64, 32});
  f.Op("reshape", "kv_row", {{"x", {"cos"}}, {"shape", {"extent"}}}, milspec::FLOAT16,
       {1, 2, 1, 32});
  f.Op("slice_update", "upd",
       {{"x", {"cache"}}, {"update", {"kv_row"}}, {"begin", {"begin"}}, {"end", {"end"}}},
       milspec::FLOAT16, {4, 2, 64, 32});
  f.Op("write_state", "", {{"input", {"kv"}}, {"data", {"upd"}}}, {}, {});
  f.Op("softmax", "probs", {{"x", {"mask"}}}, milspec::FLOAT16, {1, 1, 1, 64});
  f.Output("ln");
  f.Output("probs");
}

TEST(AneRulesTest, AnecStyleDecodeGraphIsClean) {
  ane_test::ModelBuilder m;
  BuildCleanGraph(m.Function("infer"));
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_TRUE(findings.empty()) << ane_test::Describe(findings);
}

TEST(AneRulesTest, Fp32TensorsAnywhereInComputeAreErrors) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("x32", milspec::FLOAT32, {1, 8, 1, 1});
  f.State("s32", {2, 8}, milspec::FLOAT32);
  f.Input("x", milspec::FLOAT16, {1, 64, 1, 64});
  f.Op("cast", "up", {{"x", {"x"}}}, milspec::FLOAT32, {1, 64, 1, 64});
  f.ConstF32("scale", {1}, {2.0f});
  f.Op("mul", "scaled", {{"x", {"x"}}, {"y", {"scale"}}}, milspec::FLOAT16, {1, 64, 1, 64});
  f.Output("up");
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "fp32-compute"), (std::vector<std::string>{"x32", "s32", "up", "scaled"}))
      << ane_test::Describe(findings);
  for (const AneFinding& fi : findings) EXPECT_EQ(fi.level, AneLevel::kError);
}

TEST(AneRulesTest, IntegersOnlyIndexingAreFineDataUseIsAnError) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("pos", milspec::INT32, {1});     // only indexes (through add, concat, reshape shape)
  f.Input("ids", milspec::INT32, {1, 1});  // cast to fp16: data
  f.Input("step", milspec::INT32, {1});    // add whose sum is multiplied as data
  f.Input("x", milspec::FLOAT16, {1, 64, 1, 64});
  f.ConstInts("one", {1});
  f.Op("add", "next", {{"x", {"pos"}}, {"y", {"one"}}}, milspec::INT32, {1});
  f.ConstInts("axis0", {0}, true);
  f.ConstInts("lead", {1, 64, 1});
  f.Op("concat", "shape", {{"values", {"lead", "next"}}, {"axis", {"axis0"}}}, milspec::INT32, {4});
  f.Op("reshape", "r", {{"x", {"x"}}, {"shape", {"shape"}}}, milspec::FLOAT16, {1, 64, 1, 64});
  f.Op("cast", "ids_f", {{"x", {"ids"}}}, milspec::FLOAT16, {1, 1});
  f.Op("add", "step2", {{"x", {"step"}}, {"y", {"one"}}}, milspec::INT32, {1});
  f.Op("mul", "twice", {{"x", {"step2"}}, {"y", {"step2"}}}, milspec::INT32, {1});
  // An argmax with arithmetic on it is data; argmax indices only concatenated and returned
  // (ANEMLL 0.3.5's in-model argmax) are not.
  f.Op("reduce_argmax", "best", {{"x", {"r"}}}, milspec::INT32, {1, 64, 1, 1});
  f.Op("add", "best1", {{"x", {"best"}}, {"y", {"one"}}}, milspec::INT32, {1, 64, 1, 1});
  f.Op("reduce_argmax", "win_a", {{"x", {"r"}}}, milspec::INT32, {1, 64, 1, 1});
  f.Op("reduce_argmax", "win_b", {{"x", {"r"}}}, milspec::INT32, {1, 64, 1, 1});
  f.ConstInts("axis1", {1}, true);
  f.Op("concat", "winners", {{"values", {"win_a", "win_b"}}, {"axis", {"axis1"}}}, milspec::INT32,
       {1, 128, 1, 1});
  f.Output("r");
  f.Output("ids_f");
  f.Output("twice");
  f.Output("best1");
  f.Output("winners");
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "int-compute"),
            (std::vector<std::string>{"ids", "step", "step2", "twice", "best", "best1"}))
      << ane_test::Describe(findings);
}

TEST(AneRulesTest, DimensionsOver16384InComputeButNotGatherTables) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("ids", milspec::INT32, {1, 1});
  f.Input("x", milspec::FLOAT16, {1, 64, 1, 64});
  f.State("big_state", {2, 16385});
  f.ConstF16("table", {40000, 64}, {}, /*blob=*/true);  // embeddings: its own model
  f.Op("gather", "emb", {{"x", {"table"}}, {"indices", {"ids"}}}, milspec::FLOAT16, {1, 1, 64});
  f.ConstF16("head", {20000, 64, 1, 1}, {}, true);
  f.Op("conv", "logits", {{"x", {"x"}}, {"weight", {"head"}}}, milspec::FLOAT16, {1, 16384, 1, 64});
  f.Op("reshape", "wide", {{"x", {"x"}}}, milspec::FLOAT16, {1, 1, 1, 65536 * 2});
  f.Op("reshape", "channels", {{"x", {"x"}}}, milspec::FLOAT16, {1, 20000, 1, 1});
  f.Output("emb");
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "dim-over-16384"),
            (std::vector<std::string>{"big_state", "wide", "channels", "logits"}))
      << ane_test::Describe(findings);
  const std::string all = ane_test::Describe(findings);
  EXPECT_NE(all.find("weight 'weight': 'head'"), std::string::npos) << all;
  EXPECT_NE(all.find("channel axis takes up to 65,536"), std::string::npos) << all;
}

TEST(AneRulesTest, RankOverFiveInComputeOnly) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("x", milspec::FLOAT16, {1, 64, 1, 64});
  // A palettized conv weight's LUT is rank 6 by the format: a constant, not compute.
  f.ConstF16("lut", {64, 1, 1, 1, 16, 1}, std::vector<float>(64 * 16, 1.0f));
  f.Op("reshape", "r6", {{"x", {"x"}}}, milspec::FLOAT16, {1, 2, 32, 1, 8, 8});
  f.Op("reshape", "r5", {{"x", {"x"}}}, milspec::FLOAT16, {2, 32, 1, 8, 8});
  f.Output("r6");
  f.Output("r5");
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "rank-over-5"), (std::vector<std::string>{"r6"}))
      << ane_test::Describe(findings);
}

TEST(AneRulesTest, NarrowLastAxisOnHeavyOps) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("x", milspec::FLOAT16, {1, 4, 8, 16});
  f.Input("wide", milspec::FLOAT16, {1, 4, 8, 64});
  f.Input("dec", milspec::FLOAT16, {1, 64, 1, 1});
  f.Input("big", milspec::FLOAT16, {1, 4096, 1, 8});
  f.Input("pre", milspec::FLOAT16, {1, 64, 1, 8});
  f.Op("softmax", "narrow_softmax", {{"x", {"x"}}}, milspec::FLOAT16, {1, 4, 8, 16});
  f.Op("softmax", "wide_softmax", {{"x", {"wide"}}}, milspec::FLOAT16, {1, 4, 8, 64});
  f.Op("matmul", "scores", {{"x", {"x"}}, {"y", {"x"}}}, milspec::FLOAT16, {1, 4, 8, 8});
  f.Op("layer_norm", "decode_ln", {{"x", {"dec"}}}, milspec::FLOAT16, {1, 64, 1, 1});
  f.Op("layer_norm", "prefill_ln", {{"x", {"pre"}}}, milspec::FLOAT16, {1, 64, 1, 8});
  f.Op("reduce_mean", "wide_mean", {{"x", {"wide"}}}, milspec::FLOAT16, {1, 4, 8, 1});
  f.Op("add", "small_add", {{"x", {"x"}}, {"y", {"x"}}}, milspec::FLOAT16, {1, 4, 8, 16});
  f.Op("add", "big_add", {{"x", {"big"}}, {"y", {"big"}}}, milspec::FLOAT16, {1, 4096, 1, 8});
  // One decode token between two convs: elementwise ops pass (ANEMLL's graphs do the same), a
  // norm over it (decode_ln above) does not.
  f.Input("act", milspec::FLOAT16, {1, 16384, 1, 1});
  f.Op("silu", "decode_silu", {{"x", {"act"}}}, milspec::FLOAT16, {1, 16384, 1, 1});
  f.ConstF16("w", {64, 64, 1, 1}, std::vector<float>(64 * 64, 0.0f));
  f.Op("conv", "conv_s8", {{"x", {"pre"}}, {"weight", {"w"}}}, milspec::FLOAT16, {1, 64, 1, 8});
  for (const char* o : {"narrow_softmax", "wide_softmax", "scores", "decode_ln", "prefill_ln",
                        "wide_mean", "small_add", "big_add", "decode_silu", "conv_s8"}) {
    f.Output(o);
  }
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(
      Ids(findings, "narrow-last-axis"),
      (std::vector<std::string>{"narrow_softmax", "scores", "decode_ln", "prefill_ln", "big_add"}))
      << ane_test::Describe(findings);
  for (const AneFinding& fi : findings) EXPECT_EQ(fi.level, AneLevel::kWarning);
}

TEST(AneRulesTest, SdpaIsAnErrorAlsoInNestedBlocks) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("q", milspec::FLOAT16, {1, 4, 64, 64});
  f.Op("scaled_dot_product_attention", "attn", {{"query", {"q"}}, {"key", {"q"}}, {"value", {"q"}}},
       milspec::FLOAT16, {1, 4, 64, 64});
  FnBuilder inner = f.NestedBlock("cond", "branch", milspec::FLOAT16, {1, 4, 64, 64});
  inner.Op("scaled_dot_product_attention", "inner_attn",
           {{"query", {"q"}}, {"key", {"q"}}, {"value", {"q"}}}, milspec::FLOAT16, {1, 4, 64, 64});
  inner.Output("inner_attn");
  f.Output("attn");
  f.Output("branch");
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "sdpa"), (std::vector<std::string>{"attn", "inner_attn"}))
      << ane_test::Describe(findings);
}

TEST(AneRulesTest, Int32GatherIndicesOnTablesInt16CanIndex) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("ids", milspec::INT32, {1, 4});
  f.Input("ids16", milspec::INT16, {1, 4});
  f.ConstF16("small", {32767, 64}, {}, true);
  f.ConstF16("large", {32768, 64}, {}, true);
  f.ConstF16("wide", {40000, 100}, {}, true);
  f.ConstInts("axis1", {1}, true);
  f.ConstInts("axis_neg", {-2}, true);
  f.Op("gather", "g_small", {{"x", {"small"}}, {"indices", {"ids"}}}, milspec::FLOAT16, {1, 4, 64});
  f.Op("gather", "g_large", {{"x", {"large"}}, {"indices", {"ids"}}}, milspec::FLOAT16, {1, 4, 64});
  f.Op("gather", "g_int16", {{"x", {"small"}}, {"indices", {"ids16"}}}, milspec::FLOAT16,
       {1, 4, 64});
  f.Op("gather", "g_axis1", {{"x", {"wide"}}, {"indices", {"ids"}}, {"axis", {"axis1"}}},
       milspec::FLOAT16, {40000, 1, 4});
  f.Op("gather", "g_axis_neg", {{"x", {"large"}}, {"indices", {"ids"}}, {"axis", {"axis_neg"}}},
       milspec::FLOAT16, {1, 4, 64});
  f.ConstInts("const_idx", {1, 2});
  f.Op("gather", "g_folded", {{"x", {"small"}}, {"indices", {"const_idx"}}}, milspec::FLOAT16,
       {2, 64});
  for (const char* o : {"g_small", "g_large", "g_int16", "g_axis1", "g_axis_neg", "g_folded"}) {
    f.Output(o);
  }
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "gather-int32-indices"), (std::vector<std::string>{"g_small", "g_axis1"}))
      << ane_test::Describe(findings);

  // Before the iOS17 opset gather took no int16 indices: nothing to ask for.
  ane_test::ModelBuilder old;
  FnBuilder& o = old.Function("main", "CoreML6");
  o.Input("ids", milspec::INT32, {1, 4});
  o.ConstF16("small", {100, 64}, {}, true);
  o.Op("gather", "g", {{"x", {"small"}}, {"indices", {"ids"}}}, milspec::FLOAT16, {1, 4, 64});
  o.Output("g");
  EXPECT_TRUE(Ids(CheckAneModel(old.model(), nullptr, "p"), "gather-int32-indices").empty());
}

TEST(AneRulesTest, DilatedConv) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("x", milspec::FLOAT16, {1, 64, 1, 64});
  f.ConstF16("w", {64, 64, 1, 3}, std::vector<float>(64 * 64 * 3, 0.0f));
  f.ConstInts("d1", {1, 1});
  f.ConstInts("d2", {1, 2});
  f.Op("conv", "plain", {{"x", {"x"}}, {"weight", {"w"}}, {"dilations", {"d1"}}}, milspec::FLOAT16,
       {1, 64, 1, 62});
  f.Op("conv", "dilated", {{"x", {"x"}}, {"weight", {"w"}}, {"dilations", {"d2"}}},
       milspec::FLOAT16, {1, 64, 1, 60});
  f.Output("plain");
  f.Output("dilated");
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "dilated-conv"), (std::vector<std::string>{"dilated"}))
      << ane_test::Describe(findings);
}

TEST(AneRulesTest, NegativeInfinityConstants) {
  ane_test::ModelBuilder m;
  FnBuilder& f = m.Function("main");
  f.Input("x", milspec::FLOAT16, {1, 1, 64, 64});
  const float inf = -std::numeric_limits<float>::infinity();
  f.ConstF16("mask_inf", {1, 1, 1, 64}, std::vector<float>(64, inf));
  f.ConstF16("mask_finite", {1, 1, 1, 64}, std::vector<float>(64, -65504.0f));
  f.ConstF16("plus_inf", {1}, {std::numeric_limits<float>::infinity()});
  f.ConstF32("mask32", {2}, {0.0f, inf});  // unused: its -inf alone is the finding
  f.Op("add", "a", {{"x", {"x"}}, {"y", {"mask_inf"}}}, milspec::FLOAT16, {1, 1, 64, 64});
  f.Op("add", "b", {{"x", {"x"}}, {"y", {"mask_finite"}}}, milspec::FLOAT16, {1, 1, 64, 64});
  f.Output("a");
  f.Output("b");
  const auto findings = CheckAneModel(m.model(), nullptr, "p.mlpackage");
  EXPECT_EQ(Ids(findings, "neg-inf-constant"), (std::vector<std::string>{"mask_inf", "mask32"}))
      << ane_test::Describe(findings);
}

TEST(AneRulesTest, EveryRuleIsDocumented) {
  const char* src = std::getenv("ANEC_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "ANEC_SOURCE_DIR not set (run through ctest)";
  std::ifstream in(std::string(src) + "/docs/ANE_RULES.md");
  ASSERT_TRUE(in.good());
  std::stringstream doc;
  doc << in.rdbuf();
  for (const AneRule& r : AneRules()) {
    // Built by appends: GCC 12 -O3 warns falsely (-Wrestrict) on `const char* + string`.
    std::string quoted(1, '`');
    quoted += r.id;
    quoted += '`';
    EXPECT_NE(doc.str().find(quoted), std::string::npos) << r.id;
    EXPECT_FALSE(r.source.empty()) << r.id;
    EXPECT_EQ(&AneRuleById(r.id), &r);
  }
}

}  // namespace
}  // namespace anec::coreml
