#include "pipeline/convert_options.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "pipeline/meta_yaml.h"

namespace anec::pipeline {
namespace {

model::ModelSpec Spec(int64_t layers) {
  model::ModelSpec s;
  s.num_layers = layers;
  s.hidden_size = 64;
  s.vocab_size = 100;
  return s;
}

ConvertOptions Good() {
  ConvertOptions o;
  o.output_dir = "/out";
  o.context = 256;
  o.batch = 64;
  return o;
}

TEST(ConvertOptionsTest, AcceptsGoodOptions) { EXPECT_TRUE(ValidateOptions(Good(), Spec(4)).ok()); }

TEST(ConvertOptionsTest, ResidualScaleNeedsSandwichNorms) {
  ConvertOptions o = Good();
  o.residual_scale = 0.5;
  model::ModelSpec llama = Spec(4);
  Status s = ValidateOptions(o, llama);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--residual-scale 0.5"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("llama cannot"), std::string::npos) << s.message();
  model::ModelSpec gemma = Spec(4);
  gemma.architecture = model::Architecture::kGemma3;
  gemma.sandwich_norms = true;
  EXPECT_TRUE(ValidateOptions(o, gemma).ok());
  o.residual_scale = 1.0;
  EXPECT_TRUE(ValidateOptions(o, llama).ok());  // 1 changes nothing
  for (double bad : {-0.5, 2.0}) {
    o.residual_scale = bad;
    Status b = ValidateOptions(o, gemma);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.message().find("expected a factor in (0, 1]"), std::string::npos) << b.message();
  }
}

TEST(ConvertOptionsTest, ContextMustBeMultipleOfBatch) {
  ConvertOptions o = Good();
  o.context = 100;
  Status s = ValidateOptions(o, Spec(4));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--context 100"), std::string::npos);
  EXPECT_NE(s.message().find("--batch-size 64"), std::string::npos);
}

TEST(ConvertOptionsTest, ChunksAtMostLayers) {
  ConvertOptions o = Good();
  o.chunks = 5;
  Status s = ValidateOptions(o, Spec(4));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("only 4 layers"), std::string::npos);
  o.chunks = 4;
  EXPECT_TRUE(ValidateOptions(o, Spec(4)).ok());
}

TEST(ConvertOptionsTest, RejectsBadLutRestartAndPrefix) {
  ConvertOptions o = Good();
  o.lut.ffn = 5;
  EXPECT_NE(ValidateOptions(o, Spec(4)).message().find("--lut-ffn 5"), std::string::npos);
  o = Good();
  o.lut = {};  // fp16 everywhere: row scales would apply to nothing
  o.lut.row_scale = true;
  EXPECT_NE(ValidateOptions(o, Spec(4)).message().find("--lut-row-scale"), std::string::npos);
  o.lut.lmhead = 6;
  EXPECT_TRUE(ValidateOptions(o, Spec(4)).ok());
  o = Good();
  o.restart = 9;
  EXPECT_NE(ValidateOptions(o, Spec(4)).message().find("--restart 9"), std::string::npos);
  o = Good();
  o.prefix = "a/b";
  EXPECT_FALSE(ValidateOptions(o, Spec(4)).ok());
  o = Good();
  o.only = 3;
  o.restart = 2;
  EXPECT_FALSE(ValidateOptions(o, Spec(4)).ok());
}

TEST(ConvertOptionsTest, FileNamesFollowAnemll) {
  LutPlan lut;
  lut.ffn = 4;
  lut.lmhead = 6;
  FileNames n = MakeFileNames("llama", lut, 2);
  EXPECT_EQ(n.embeddings, "llama_embeddings.mlpackage");
  EXPECT_EQ(n.lm_head, "llama_lm_head_lut6.mlpackage");
  EXPECT_EQ(n.Chunk(1), "llama_FFN_PF_lut4_chunk_01of02.mlpackage");
  EXPECT_EQ(n.ffn_base, "llama_FFN_PF_lut4");
  EXPECT_EQ(MakeFileNames("qwen", {}, 12).Chunk(3), "qwen_FFN_PF_chunk_03of12.mlpackage");
}

TEST(ConvertOptionsTest, FingerprintChangesWithOutputAffectingOptions) {
  ConvertOptions o = Good();
  const std::string a = OptionsFingerprint(o, Spec(4), 2, "{}");
  EXPECT_EQ(a, OptionsFingerprint(o, Spec(4), 2, "{}"));
  EXPECT_NE(a, OptionsFingerprint(o, Spec(4), 3, "{}"));
  EXPECT_NE(a, OptionsFingerprint(o, Spec(4), 2, "{\"x\":1}"));
  ConvertOptions c = o;
  c.context = 512;
  EXPECT_NE(a, OptionsFingerprint(c, Spec(4), 2, "{}"));
  ConvertOptions l = o;
  l.lut.lmhead = 6;
  EXPECT_NE(a, OptionsFingerprint(l, Spec(4), 2, "{}"));
  ConvertOptions s = l;  // row scales change every palettized matrix
  s.lut.row_scale = true;
  EXPECT_NE(OptionsFingerprint(l, Spec(4), 2, "{}"), OptionsFingerprint(s, Spec(4), 2, "{}"));
  ConvertOptions r = o;  // restart/only/skip-check do not change outputs
  r.restart = 3;
  r.skip_check = true;
  EXPECT_EQ(a, OptionsFingerprint(r, Spec(4), 2, "{}"));
  ConvertOptions m = o;  // a forced file budget, and the pieces of a split plan
  m.max_file_bytes = 132'000;
  EXPECT_NE(a, OptionsFingerprint(m, Spec(4), 2, "{}"));
  EXPECT_NE(OptionsFingerprint(m, Spec(4), 2, "{}"),
            OptionsFingerprint(m, Spec(4), 2, "{}", "layer 0 attention .. layer 1 mlp[0:80); "));
}

TEST(ConvertOptionsTest, MaxFileBudget) {
  ConvertOptions o = Good();
  EXPECT_EQ(BudgetOf(o).bytes, 1'000'000'000u);
  EXPECT_EQ(BudgetOf(o).origin, "for --target ios");
  o.max_file_bytes = 132'000;
  EXPECT_EQ(BudgetOf(o).bytes, 132'000u);
  EXPECT_EQ(BudgetOf(o).origin, "from --max-file-mb 0.132");
  EXPECT_TRUE(ValidateOptions(o, Spec(4)).ok());
  o.chunks = 2;  // an explicit count plans nothing: the budget would be ignored
  Status st = ValidateOptions(o, Spec(4));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--max-file-mb"), std::string::npos);
  EXPECT_NE(st.message().find("--chunks 2"), std::string::npos);
}

TEST(MetaYamlTest, HasAnemllKeys) {
  MetaInfo m;
  m.model_name = "Llama-3.2-1B";
  m.architecture = "llama";
  m.version = "0.1.0";
  m.context = 1024;
  m.batch = 64;
  m.lut.ffn = 4;
  m.lut.lmhead = 6;
  m.num_chunks = 2;
  m.prefix = "llama";
  m.lm_head = ane::PlanLmHead(128256, 8);
  YAML::Node y = YAML::Load(MetaYaml(m));
  YAML::Node p = y["model_info"]["parameters"];
  EXPECT_EQ(y["model_info"]["name"].as<std::string>(), "anemll-Llama-3.2-1B-ctx1024");
  EXPECT_EQ(y["model_info"]["architecture"].as<std::string>(), "llama");
  EXPECT_EQ(p["context_length"].as<int>(), 1024);
  EXPECT_EQ(p["batch_size"].as<int>(), 64);
  EXPECT_EQ(p["lut_embeddings"].as<std::string>(), "none");
  EXPECT_EQ(p["lut_ffn"].as<int>(), 4);
  EXPECT_EQ(p["lut_lmhead"].as<int>(), 6);
  EXPECT_EQ(p["num_chunks"].as<int>(), 2);
  EXPECT_EQ(p["model_prefix"].as<std::string>(), "llama");
  // ANEMLL writes the compiled names (its Swift CLI loads them as they are).
  EXPECT_EQ(p["embeddings"].as<std::string>(), "llama_embeddings.mlmodelc");
  EXPECT_EQ(p["lm_head"].as<std::string>(), "llama_lm_head_lut6.mlmodelc");
  EXPECT_EQ(p["ffn"].as<std::string>(), "llama_FFN_PF_lut4.mlmodelc");
  EXPECT_EQ(p["split_lm_head"].as<int>(), 8);
  EXPECT_EQ(p["vocab_size"].as<int>(), 128256);
  EXPECT_EQ(p["lm_head_chunk_sizes"].as<std::vector<int>>(), std::vector<int>(8, 16032));
  EXPECT_FALSE(p["lm_head_pad_rows"]);
  EXPECT_FALSE(p["argmax_in_model"]);
  EXPECT_TRUE(p["prefill_dynamic_slice"].as<bool>());
  // A vocabulary no ANEMLL count divides: the pad is stated, and --argmax is recorded.
  m.lm_head = ane::PlanLmHead(32001, 8);
  m.argmax = true;
  YAML::Node c = YAML::Load(MetaYaml(m))["model_info"]["parameters"];
  EXPECT_EQ(c["split_lm_head"].as<int>(), 8);
  EXPECT_EQ(c["lm_head_chunk_sizes"].as<std::vector<int>>(), std::vector<int>(8, 4001));
  EXPECT_EQ(c["lm_head_pad_rows"].as<int>(), 7);
  EXPECT_TRUE(c["argmax_in_model"].as<bool>());
}

}  // namespace
}  // namespace anec::pipeline
