#include "model/checkpoint_binding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "io/safetensors.h"
#include "io/safetensors_writer.h"

namespace anec::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ModelSpec TinySpec(Architecture a) {
  ModelSpec s;
  s.architecture = a;
  s.hidden_size = 8;
  s.num_layers = 2;
  s.num_heads = 2;
  s.num_kv_heads = 1;
  s.head_dim = 4;
  s.intermediate_size = 12;
  s.vocab_size = 10;
  return s;
}

io::SafetensorsEntry F32(const std::string& name, std::vector<int64_t> shape, float base) {
  io::SafetensorsEntry e;
  e.info.name = name;
  e.info.dtype = io::TensorDType::kF32;
  e.info.shape = std::move(shape);
  std::vector<float> v(static_cast<size_t>(e.info.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = base + 0.5f * static_cast<float>(i);
  e.data.resize(v.size() * 4);
  if (!v.empty()) std::memcpy(e.data.data(), v.data(), e.data.size());
  return e;
}

// Every tensor `spec` uses, named by its table, f32, values base + 0.5*i where base is unique.
std::vector<io::SafetensorsEntry> Entries(const ModelSpec& spec) {
  const ArchitectureTable& table = GetArchitectureTable(spec.architecture);
  std::vector<io::SafetensorsEntry> out;
  float base = 0;
  for (TensorRole role : AllTensorRoles()) {
    if (!RoleUsed(spec, role)) continue;
    const int64_t count = IsLayerRole(role) ? spec.num_layers : 1;
    for (int64_t layer = 0; layer < count; ++layer) {
      out.push_back(F32(TensorNameFor(table, role, layer), ExpectedShape(spec, role), base));
      base += 100;
    }
  }
  return out;
}

struct Fixture {
  MemoryFileSystem fs;
  std::unique_ptr<io::SafetensorsSource> source;
};

std::unique_ptr<Fixture> Write(const std::vector<io::SafetensorsEntry>& entries) {
  auto f = std::make_unique<Fixture>();
  f->fs.SetFile("/m/model.safetensors", io::EncodeSafetensors(entries));
  auto src = io::SafetensorsSource::OpenFile(&f->fs, "/m/model.safetensors");
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  if (src.ok()) f->source = std::move(*src);
  return f;
}

TEST(CheckpointBindingTest, BindsEveryRoleOfAnUntiedLlama) {
  ModelSpec spec = TinySpec(Architecture::kLlama);
  auto entries = Entries(spec);
  entries.push_back(F32("model.layers.0.self_attn.rotary_emb.inv_freq", {2}, 0));
  auto f = Write(entries);
  auto b = Bind(spec, *f->source);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->Name(TensorRole::kQProj, 1), "model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(b->Name(TensorRole::kLmHead), "lm_head.weight");
  EXPECT_EQ(b->Name(TensorRole::kFinalNorm, 5), "model.norm.weight");  // layer ignored
  EXPECT_THAT(b->Info(TensorRole::kKProj, 0).shape, ElementsAre(4, 8));
  EXPECT_TRUE(b->Has(TensorRole::kGateProj));
  EXPECT_FALSE(b->Has(TensorRole::kQBias));
  EXPECT_FALSE(b->Has(TensorRole::kQNorm));
  EXPECT_EQ(b->Name(TensorRole::kQBias, 0), "");
  EXPECT_THAT(b->unused_tensors(), ElementsAre("model.layers.0.self_attn.rotary_emb.inv_freq"));

  auto down = b->ReadFloat32(TensorRole::kDownProj, 1);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  ASSERT_EQ(down->size(), 8u * 12u);
  // Expected values: the first element of the tensor as the test wrote it, then +0.5 steps.
  float expected_base = 0;
  for (const auto& e : entries) {
    if (e.info.name == "model.layers.1.mlp.down_proj.weight") {
      std::memcpy(&expected_base, e.data.data(), 4);
    }
  }
  EXPECT_EQ((*down)[0], expected_base);
  EXPECT_EQ((*down)[3], expected_base + 1.5f);

  EXPECT_EQ(b->Read(TensorRole::kQBias, 0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(b->Read(TensorRole::kQProj, 2).status().message(),
              HasSubstr("role q_proj: layer 2 is out of range [0, 2)"));
  EXPECT_THAT(b->Read(TensorRole::kQProj, -1).status().message(), HasSubstr("out of range"));
}

TEST(CheckpointBindingTest, TiedLmHeadReadsTheEmbedding) {
  ModelSpec spec = TinySpec(Architecture::kLlama);
  spec.tie_word_embeddings = true;
  auto f = Write(Entries(spec));
  ASSERT_FALSE(f->source->Has("lm_head.weight"));
  auto b = Bind(spec, *f->source);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->Has(TensorRole::kLmHead));
  EXPECT_EQ(b->Name(TensorRole::kLmHead), "model.embed_tokens.weight");
  auto head = b->ReadFloat32(TensorRole::kLmHead);
  auto emb = b->ReadFloat32(TensorRole::kEmbedding);
  ASSERT_TRUE(head.ok() && emb.ok());
  EXPECT_EQ(*head, *emb);
}

TEST(CheckpointBindingTest, Qwen2BiasesAndQwen3Norms) {
  ModelSpec q2 = TinySpec(Architecture::kQwen2);
  q2.attention_bias = true;
  auto f2 = Write(Entries(q2));
  auto b2 = Bind(q2, *f2->source);
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  EXPECT_EQ(b2->Name(TensorRole::kKBias, 1), "model.layers.1.self_attn.k_proj.bias");
  EXPECT_THAT(b2->Info(TensorRole::kQBias, 0).shape, ElementsAre(8));

  ModelSpec q3 = TinySpec(Architecture::kQwen3);
  q3.qk_norm = true;
  q3.head_dim = 6;  // != hidden / heads
  auto f3 = Write(Entries(q3));
  auto b3 = Bind(q3, *f3->source);
  ASSERT_TRUE(b3.ok()) << b3.status().ToString();
  EXPECT_THAT(b3->Info(TensorRole::kQNorm, 1).shape, ElementsAre(6));
  EXPECT_THAT(b3->Info(TensorRole::kQProj, 1).shape, ElementsAre(12, 8));
  EXPECT_THAT(b3->Info(TensorRole::kOProj, 1).shape, ElementsAre(8, 12));
}

TEST(CheckpointBindingTest, MissingTensorIsNamed) {
  ModelSpec spec = TinySpec(Architecture::kQwen2);
  spec.attention_bias = true;
  auto entries = Entries(spec);
  std::erase_if(entries, [](const io::SafetensorsEntry& e) {
    return e.info.name == "model.layers.1.self_attn.v_proj.bias";
  });
  auto f = Write(entries);
  auto b = Bind(spec, *f->source);
  EXPECT_EQ(b.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b.status().message(),
            "checkpoint has no tensor model.layers.1.self_attn.v_proj.bias (role v_bias, layer 1) "
            "needed by this qwen2 model");
}

TEST(CheckpointBindingTest, MissingLmHeadHintsAtTying) {
  ModelSpec tied = TinySpec(Architecture::kLlama);
  tied.tie_word_embeddings = true;
  auto f = Write(Entries(tied));  // no lm_head.weight
  ModelSpec untied = tied;
  untied.tie_word_embeddings = false;
  auto b = Bind(untied, *f->source);
  EXPECT_THAT(b.status().message(), HasSubstr("no tensor lm_head.weight (role lm_head)"));
  EXPECT_THAT(b.status().message(), HasSubstr("set tie_word_embeddings: true"));
}

TEST(CheckpointBindingTest, MisshapenTensorNamesExpectedAndActual) {
  ModelSpec spec = TinySpec(Architecture::kMistral);
  auto entries = Entries(spec);
  for (auto& e : entries) {
    if (e.info.name == "model.layers.0.mlp.up_proj.weight") e = F32(e.info.name, {8, 12}, 0);
  }
  auto f = Write(entries);
  auto b = Bind(spec, *f->source);
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message(),
            "tensor model.layers.0.mlp.up_proj.weight (role up_proj) has shape [8, 12] but the "
            "model config implies [12, 8]; the weights do not match the config");
}

TEST(CheckpointBindingTest, IntegerWeightIsRejected) {
  ModelSpec spec = TinySpec(Architecture::kLlama);
  auto entries = Entries(spec);
  for (auto& e : entries) {
    if (e.info.name == "model.norm.weight") e.info.dtype = io::TensorDType::kI32;
  }
  auto f = Write(entries);
  EXPECT_THAT(Bind(spec, *f->source).status().message(),
              HasSubstr("tensor model.norm.weight (role final_norm) has dtype i32"));
}

// Phi-3 layout: q/k/v stacked in qkv_proj, gate/up in gate_up_proj. Each role reads its rows.
std::vector<io::SafetensorsEntry> Phi3Entries(const ModelSpec& spec, int64_t qkv_rows) {
  std::vector<io::SafetensorsEntry> out;
  const ArchitectureTable& table = GetArchitectureTable(spec.architecture);
  float base = 0;
  for (TensorRole role : AllTensorRoles()) {
    if (!RoleUsed(spec, role) || FindFusedTensor(table, role) != nullptr) continue;
    const int64_t count = IsLayerRole(role) ? spec.num_layers : 1;
    for (int64_t layer = 0; layer < count; ++layer) {
      out.push_back(F32(TensorNameFor(table, role, layer), ExpectedShape(spec, role), base));
      base += 1000;
    }
  }
  for (int64_t layer = 0; layer < spec.num_layers; ++layer) {
    const std::string l = std::to_string(layer);
    out.push_back(F32("model.layers." + l + ".self_attn.qkv_proj.weight",
                      {qkv_rows, spec.hidden_size}, base));
    out.push_back(F32("model.layers." + l + ".mlp.gate_up_proj.weight",
                      {2 * spec.intermediate_size, spec.hidden_size}, base + 1000));
    base += 2000;
  }
  return out;
}

float FirstValue(const BoundCheckpoint& b, TensorRole role, int64_t layer) {
  auto v = b.ReadFloat32(role, layer);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(static_cast<int64_t>(v->size()),
            ExpectedShape(b.spec(), role)[0] * ExpectedShape(b.spec(), role)[1]);
  return v.ok() && !v->empty() ? (*v)[0] : -1;
}

TEST(CheckpointBindingTest, Phi3FusedProjectionsAreReadAsRowSlices) {
  ModelSpec spec = TinySpec(Architecture::kPhi3);  // q 8 rows, k 4, v 4; gate 12, up 12; 8 cols
  auto f = Write(Phi3Entries(spec, 16));
  auto b = Bind(spec, *f->source);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->Name(TensorRole::kKProj, 1), "model.layers.1.self_attn.qkv_proj.weight");
  EXPECT_TRUE(b->IsSlice(TensorRole::kKProj, 1));
  EXPECT_FALSE(b->IsSlice(TensorRole::kOProj, 1));
  EXPECT_EQ(b->Info(TensorRole::kVProj, 0).shape, (std::vector<int64_t>{4, 8}));
  // Values are base + 0.5 * flat index: a slice starting at row r starts at base + 0.5 * 8r.
  const float qkv1 = FirstValue(*b, TensorRole::kQProj, 1);
  EXPECT_EQ(FirstValue(*b, TensorRole::kKProj, 1), qkv1 + 0.5f * 8 * 8);
  EXPECT_EQ(FirstValue(*b, TensorRole::kVProj, 1), qkv1 + 0.5f * 8 * 12);
  const float gate0 = FirstValue(*b, TensorRole::kGateProj, 0);
  EXPECT_EQ(FirstValue(*b, TensorRole::kUpProj, 0), gate0 + 0.5f * 8 * 12);
  EXPECT_TRUE(b->unused_tensors().empty());
}

TEST(CheckpointBindingTest, AFusedTensorOfTheWrongSizeNamesItAndItsRoles) {
  ModelSpec spec = TinySpec(Architecture::kPhi3);
  auto f = Write(Phi3Entries(spec, 12));  // k/v rows missing
  auto b = Bind(spec, *f->source);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("model.layers.0.self_attn.qkv_proj.weight"));
  EXPECT_THAT(b.status().message(), HasSubstr("q_proj+k_proj+v_proj"));
  EXPECT_THAT(b.status().message(), HasSubstr("[16, 8]"));
}

}  // namespace
}  // namespace anec::model
