#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/mil_test_util.h"

namespace anec::runtime {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Two functions sharing state "cache" fp16[2, 3]: prefill writes every row, infer writes one row
// at a runtime position and returns the whole state.
ModelBuilder StatefulModel() {
  ModelBuilder mb;
  mb.Function("prefill")
      .State("cache", {2, 3})
      .Input("x", kFp16, {2, 3})
      .Op("read_state", "r0", {{"input", std::string("cache")}}, {{"r0", kFp16, {2, 3}}})
      .Op("slice_update", "u0",
          {{"x", std::string("r0")}, {"update", std::string("x")}, {"begin", Int32s({0, 0})},
           {"end", Int32s({2, 3})}},
          {{"u0", kFp16, {2, 3}}})
      .Op("write_state", "w0", {{"input", std::string("cache")}, {"data", std::string("u0")}}, {})
      .Op("read_state", "r1", {{"input", std::string("cache")}}, {{"r1", kFp16, {2, 3}}})
      .Op("reduce_sum", "s", {{"x", std::string("r1")}, {"keep_dims", Bool(false)}}, {{"s", kFp16, {}}})
      .Output("s");
  mb.Function("infer")
      .State("cache", {2, 3})
      .Input("row", kFp16, {1, 3})
      .Input("begin", kInt32, {2})
      .Input("end", kInt32, {2})
      .Op("read_state", "r0", {{"input", std::string("cache")}}, {{"r0", kFp16, {2, 3}}})
      .Op("slice_update", "u0",
          {{"x", std::string("r0")}, {"update", std::string("row")}, {"begin", std::string("begin")},
           {"end", std::string("end")}},
          {{"u0", kFp16, {2, 3}}})
      .Op("write_state", "w0", {{"input", std::string("cache")}, {"data", std::string("u0")}}, {})
      .Op("read_state", "r1", {{"input", std::string("cache")}}, {{"r1", kFp16, {2, 3}}})
      .Op("identity", "out", {{"x", std::string("r1")}}, {{"out", kFp16, {2, 3}}})
      .Output("out");
  // Reads the state, updates it, but returns the value read *before* the write.
  mb.Function("snapshot")
      .State("cache", {2, 3})
      .Input("row", kFp16, {1, 3})
      .Op("read_state", "r0", {{"input", std::string("cache")}}, {{"r0", kFp16, {2, 3}}})
      .Op("slice_update", "u0",
          {{"x", std::string("r0")}, {"update", std::string("row")}, {"begin", Int32s({0, 0})},
           {"end", Int32s({1, 3})}},
          {{"u0", kFp16, {2, 3}}})
      .Op("write_state", "w0", {{"input", std::string("cache")}, {"data", std::string("u0")}}, {})
      .Op("identity", "old", {{"x", std::string("r0")}}, {{"old", kFp16, {2, 3}}})
      .Output("old");
  return mb;
}

TEST(Interpreter, StateSharedAcrossFunctionsAndUpdatedInPlace) {
  ModelBuilder mb = StatefulModel();
  auto program = LoadModel(mb);
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  const CompiledFunction* prefill = (*program)->Find("prefill");
  const CompiledFunction* infer = (*program)->Find("infer");
  ASSERT_NE(prefill, nullptr);
  ASSERT_NE(infer, nullptr);
  EXPECT_TRUE(infer->ops[1].in_place_state_update);

  StateStore states;
  ASSERT_TRUE(PrepareStates(*prefill, &states).ok());
  const uint8_t* buffer = states.at("cache").bytes();
  auto s = RunFunction(*prefill, {{"x", F16({2, 3}, {1, 2, 3, 4, 5, 6})}}, &states, nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_THAT(s->at("s").ToFloats(), ElementsAre(21));
  auto out = RunFunction(*infer,
                         {{"row", F16({1, 3}, {-1, -2, -3})}, {"begin", I32({2}, {1, 0})},
                          {"end", I32({2}, {2, 3})}},
                         &states, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(out->at("out").ToFloats(), ElementsAre(1, 2, 3, -1, -2, -3));
  EXPECT_THAT(states.at("cache").ToFloats(), ElementsAre(1, 2, 3, -1, -2, -3));
  EXPECT_EQ(states.at("cache").bytes(), buffer) << "the KV update should not copy the state";
}

// The converter's pattern: keys then values of one layer updated in a chain before one write.
TEST(Interpreter, ChainedKeyValueUpdatesAreInPlace) {
  ModelBuilder mb;
  mb.Function("infer")
      .State("cache", {2, 3})
      .Input("k", kFp16, {1, 3})
      .Input("v", kFp16, {1, 3})
      .Op("read_state", "r0", {{"input", std::string("cache")}}, {{"r0", kFp16, {2, 3}}})
      .Op("slice_update", "ku",
          {{"x", std::string("r0")}, {"update", std::string("k")}, {"begin", Int32s({0, 0})},
           {"end", Int32s({1, 3})}},
          {{"ku", kFp16, {2, 3}}})
      .Op("slice_update", "vu",
          {{"x", std::string("ku")}, {"update", std::string("v")}, {"begin", Int32s({1, 0})},
           {"end", Int32s({2, 3})}},
          {{"vu", kFp16, {2, 3}}})
      .Op("write_state", "w0", {{"input", std::string("cache")}, {"data", std::string("vu")}}, {})
      .Op("read_state", "r1", {{"input", std::string("cache")}}, {{"r1", kFp16, {2, 3}}})
      .Op("identity", "out", {{"x", std::string("r1")}}, {{"out", kFp16, {2, 3}}})
      .Output("out");
  auto program = LoadModel(mb);
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  const CompiledFunction* infer = (*program)->Find("infer");
  ASSERT_NE(infer, nullptr);
  EXPECT_TRUE(infer->ops[1].in_place_state_update);
  EXPECT_TRUE(infer->ops[2].in_place_state_update);
  StateStore states;
  ASSERT_TRUE(PrepareStates(*infer, &states).ok());
  const uint8_t* buffer = states.at("cache").bytes();
  auto out = RunFunction(*infer, {{"k", F16({1, 3}, {1, 2, 3})}, {"v", F16({1, 3}, {4, 5, 6})}},
                         &states, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(out->at("out").ToFloats(), ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_EQ(states.at("cache").bytes(), buffer) << "the K and V updates should not copy the state";
}

TEST(Interpreter, ReadValueKeepsOldContentsAfterWrite) {
  ModelBuilder mb = StatefulModel();
  auto program = LoadModel(mb);
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  StateStore states;
  states["cache"] = F16({2, 3}, {1, 1, 1, 2, 2, 2});
  auto out = RunFunction(*(*program)->Find("snapshot"), {{"row", F16({1, 3}, {9, 9, 9})}}, &states, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(out->at("old").ToFloats(), ElementsAre(1, 1, 1, 2, 2, 2));
  EXPECT_THAT(states.at("cache").ToFloats(), ElementsAre(9, 9, 9, 2, 2, 2));
}

TEST(Interpreter, StateErrors) {
  ModelBuilder mb = StatefulModel();
  auto program = LoadModel(mb);
  ASSERT_TRUE(program.ok());
  auto missing = RunFunction(*(*program)->Find("prefill"), {{"x", F16({2, 3}, {1, 2, 3, 4, 5, 6})}},
                             nullptr, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("cache"));
  StateStore wrong;
  wrong["cache"] = F16({3, 2}, {0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(PrepareStates(*(*program)->Find("prefill"), &wrong).ok());
}

TEST(Program, UnknownOpTypeNamesOpFunctionAndPackage) {
  ModelBuilder mb;
  mb.Function("infer").Input("x", kFp32, {2}).Op("frobnicate", "layer3_frob", {{"x", std::string("x")}},
                                                  {{"y", kFp32, {2}}}).Output("y");
  auto p = LoadModel(mb, nullptr, "llama_FFN_PF_chunk_01of02.mlpackage");
  ASSERT_FALSE(p.ok());
  const std::string& m = p.status().message();
  EXPECT_THAT(m, HasSubstr("frobnicate"));
  EXPECT_THAT(m, HasSubstr("layer3_frob"));
  EXPECT_THAT(m, HasSubstr("infer"));
  EXPECT_THAT(m, HasSubstr("llama_FFN_PF_chunk_01of02.mlpackage"));
}

TEST(Program, UndefinedBindingAndBadConstantsAreErrors) {
  ModelBuilder mb;
  mb.Function("main").Input("x", kFp32, {2}).Op("add", "a", {{"x", std::string("x")}, {"y", std::string("nope")}},
                                                 {{"a", kFp32, {2}}}).Output("a");
  auto p = LoadModel(mb);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("'nope'"));

  ModelBuilder c;
  ms::Value v = Fp32({3}, {1, 2});  // declares 3 values, holds 2
  c.Function("main").Const("k", v).Output("k");
  auto pc = LoadModel(c);
  ASSERT_FALSE(pc.ok());
  EXPECT_THAT(pc.status().message(), HasSubstr("holds 2 values"));

  ModelBuilder h;
  h.Function("main").Const("k", Raw(kFp16, {2}, std::string(3, '\0'))).Output("k");
  auto ph = LoadModel(h);
  ASSERT_FALSE(ph.ok());
  EXPECT_THAT(ph.status().message(), HasSubstr("needs 4 bytes"));
}

TEST(Program, InputsAreCheckedAtRunTime) {
  ModelBuilder mb;
  mb.Function("main").Input("x", kFp16, {1, -1}).Op("identity", "y", {{"x", std::string("x")}},
                                                     {{"y", kFp16, {1, -1}}}).Output("y");
  auto p = LoadModel(mb);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const CompiledFunction& f = *(*p)->Find("main");
  EXPECT_TRUE(RunFunction(f, {{"x", F16({1, 5}, {1, 2, 3, 4, 5})}}, nullptr, nullptr).ok());
  auto wrong_type = RunFunction(f, {{"x", F32({1, 2}, {1, 2})}}, nullptr, nullptr);
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_THAT(wrong_type.status().message(), HasSubstr("must be fp16[1, ?]"));
  EXPECT_FALSE(RunFunction(f, {}, nullptr, nullptr).ok());
  EXPECT_FALSE(RunFunction(f, {{"x", F16({2, 1}, {1, 2})}}, nullptr, nullptr).ok());
}

TEST(Program, ImmediateEncodings) {
  // int8 / uint8 / sub-byte immediates are bytes; fp16 bytes; int32 ints; bool bools.
  ModelBuilder mb;
  std::vector<uint8_t> u3 = {1, 7, 0, 5, 3};
  std::vector<uint8_t> packed = coreml::PackBits(u3, 3);
  mb.Function("main")
      .Const("i8", Raw(ms::INT8, {3}, std::string("\xff\x02\x80", 3)))
      .Const("u3", Raw(ms::UINT3, {5}, std::string(packed.begin(), packed.end())))
      .Const("i4", Raw(ms::INT4, {2}, std::string("\xf7", 1)))
      .Const("b", Bools({2}, {true, false}))
      .Output("i8").Output("u3").Output("i4").Output("b");
  auto p = LoadModel(mb);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto out = RunFunction(*(*p)->Find("main"), {}, nullptr, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(out->at("i8").ToInts(), ElementsAre(-1, 2, -128));
  EXPECT_THAT(out->at("u3").ToInts(), ElementsAre(1, 7, 0, 5, 3));
  EXPECT_THAT(out->at("i4").ToInts(), ElementsAre(7, -1));  // low nibble first
  EXPECT_THAT(out->at("b").ToInts(), ElementsAre(1, 0));
}

}  // namespace
}  // namespace anec::runtime

namespace anec::runtime::testing {
namespace {

// A gather whose inputs are all constants (the converter's GPTQ act-order weight in input order)
// runs once at load: the compiled function keeps only the matmul, and the result is the same as
// gathering on every call.
TEST(Program, AllConstantGatherIsFoldedAtLoad) {
  auto build = [](bool foldable) {
    ModelBuilder mb;
    auto f = mb.Function("main");
    f.Input("x", kFp32, {1, 3})
        .Const("grouped", Fp32({2, 3}, {1, 2, 3, 4, 5, 6}))
        .Const("order", Int32s({2, 0, 1}));
    if (foldable) {
      f.Op("gather", "w", {{"x", std::string("grouped")}, {"indices", std::string("order")},
                           {"axis", Scalar(1)}},
           {{"w", kFp32, {2, 3}}});
    } else {  // the indices come from an input: must run per call
      f.Input("idx", kInt32, {3})
          .Op("gather", "w", {{"x", std::string("grouped")}, {"indices", std::string("idx")},
                              {"axis", Scalar(1)}},
              {{"w", kFp32, {2, 3}}});
    }
    f.Op("linear", "y", {{"x", std::string("x")}, {"weight", std::string("w")}},
         {{"y", kFp32, {1, 2}}})
        .Output("y");
    return mb;
  };
  // The programs may refer to the builders' protobuf values: keep the builders alive.
  const ModelBuilder with_constants = build(true), with_input = build(false);
  auto folded = LoadModel(with_constants);
  auto kept = LoadModel(with_input);
  ASSERT_TRUE(folded.ok()) << folded.status().ToString();
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  const CompiledFunction* a = (*folded)->Find("main");
  const CompiledFunction* b = (*kept)->Find("main");
  ASSERT_EQ(a->ops.size(), 1u);
  EXPECT_EQ(a->ops[0].type, "linear");
  ASSERT_EQ(b->ops.size(), 2u);
  EXPECT_EQ(b->ops[0].type, "gather");
  StateStore states;
  auto ya = RunFunction(*a, {{"x", F32({1, 3}, {1, 10, 100})}}, &states, nullptr);
  auto yb = RunFunction(*b, {{"x", F32({1, 3}, {1, 10, 100})}, {"idx", I32({3}, {2, 0, 1})}},
                        &states, nullptr);
  ASSERT_TRUE(ya.ok()) << ya.status().ToString();
  ASSERT_TRUE(yb.ok()) << yb.status().ToString();
  // w = [[3, 1, 2], [6, 4, 5]]: y = [3 + 10 + 200, 6 + 40 + 500].
  EXPECT_EQ(ya->at("y").ToFloats(), (std::vector<float>{213, 546}));
  EXPECT_EQ(yb->at("y").ToFloats(), ya->at("y").ToFloats());
}

}  // namespace
}  // namespace anec::runtime::testing
