#include "coreml/inspect.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "coreml/package.h"

namespace anec::coreml {
namespace {

namespace spec = CoreML::Specification;
namespace milspec = CoreML::Specification::MILSpec;
using nlohmann::json;

void AddArray(spec::FeatureDescription* f, const std::string& name, std::vector<int64_t> shape,
              spec::ArrayFeatureType::ArrayDataType t, bool state = false) {
  f->set_name(name);
  spec::ArrayFeatureType* a = state ? f->mutable_type()->mutable_statetype()->mutable_arraytype()
                                    : f->mutable_type()->mutable_multiarraytype();
  for (int64_t d : shape) a->add_shape(d);
  a->set_datatype(t);
}

milspec::Value BlobValue(uint64_t offset, milspec::DataType t) {
  milspec::Value v;
  v.mutable_type()->mutable_tensortype()->set_datatype(t);
  v.mutable_blobfilevalue()->set_filename(kWeightFileName);
  v.mutable_blobfilevalue()->set_offset(offset);
  return v;
}

// Two functions sharing one fp16 weight blob; "infer" also dequantizes a uint4 LUT weight whose
// parameters are op inputs (iOS18 style) and updates a state.
Status WriteMultiFunctionPackage(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(auto w, PackageWriter::Create(fs, path));
  std::vector<uint8_t> fp16(64 * 2, 0x11), lut(16 * 2, 0x22), idx(32, 0x5A);
  ANEC_ASSIGN_OR_RETURN(uint64_t shared, w->weights()->Add(BlobDType::kFloat16, fp16, 64));
  ANEC_ASSIGN_OR_RETURN(uint64_t lut_off, w->weights()->Add(BlobDType::kFloat16, lut, 16));
  ANEC_ASSIGN_OR_RETURN(uint64_t idx_off, w->weights()->Add(BlobDType::kUInt4, idx, 64));
  ANEC_ASSIGN_OR_RETURN(uint64_t again, w->weights()->Add(BlobDType::kFloat16, fp16, 64));
  if (again != shared) return Internal("dedup failed");

  spec::Model m;
  m.set_specificationversion(9);
  spec::ModelDescription* d = m.mutable_description();
  d->set_defaultfunctionname("infer");
  (*d->mutable_metadata()->mutable_userdefined())["com.anec.context"] = "512";
  for (const char* name : {"infer", "prefill"}) {
    spec::FunctionDescription* f = d->add_functions();
    f->set_name(name);
    AddArray(f->add_input(), "hidden_states", {1, std::string(name) == "infer" ? 1 : 64, 2048},
             spec::ArrayFeatureType::FLOAT16);
    AddArray(f->add_input(), "position_ids", {1}, spec::ArrayFeatureType::INT32);
    AddArray(f->add_output(), "output_hidden_states", {1, 1, 2048},
             spec::ArrayFeatureType::FLOAT16);
    AddArray(f->add_state(), "model_model_kv_cache_0", {44, 8, 512, 128},
             spec::ArrayFeatureType::FLOAT16, /*state=*/true);
  }
  // An enumerated-shape input on prefill.
  auto* a = d->mutable_functions(1)->mutable_input(0)->mutable_type()->mutable_multiarraytype();
  auto* shapes = a->mutable_enumeratedshapes();
  for (int64_t n : {1, 64}) {
    auto* s = shapes->add_shapes();
    for (int64_t x : {int64_t{1}, n, int64_t{2048}}) s->add_shape(x);
  }

  milspec::Program* prog = m.mutable_mlprogram();
  prog->set_version(1);
  for (const char* name : {"infer", "prefill"}) {
    milspec::Function& fn = (*prog->mutable_functions())[name];
    fn.set_opset("CoreML8");
    milspec::Block& b = (*fn.mutable_block_specializations())["CoreML8"];
    milspec::Operation* c = b.add_operations();
    c->set_type("const");
    (*c->mutable_attributes())["val"] = BlobValue(shared, milspec::FLOAT16);
    if (std::string(name) == "infer") {
      milspec::Operation* lut_op = b.add_operations();
      lut_op->set_type("constexpr_lut_to_dense");
      *(*lut_op->mutable_inputs())["indices"].add_arguments()->mutable_value() =
          BlobValue(idx_off, milspec::UINT4);
      *(*lut_op->mutable_inputs())["lut"].add_arguments()->mutable_value() =
          BlobValue(lut_off, milspec::FLOAT16);
      b.add_operations()->set_type("read_state");
    }
    b.add_operations()->set_type("add");
    b.add_operations()->set_type("add");
  }
  return w->Finish(m);
}

TEST(InspectTest, MultiFunctionPackage) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WriteMultiFunctionPackage(&fs, "/o/m.mlpackage").ok());
  auto r = InspectPackage(&fs, "/o/m.mlpackage");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec_version, 9);
  EXPECT_EQ(r->default_function, "infer");
  ASSERT_EQ(r->functions.size(), 2u);
  const FunctionInfo& infer = r->functions[0];
  const FunctionInfo& prefill = r->functions[1];
  EXPECT_EQ(infer.name, "infer");
  EXPECT_EQ(infer.opset, "CoreML8");
  EXPECT_EQ(infer.num_ops, 5);
  EXPECT_EQ(infer.num_const_ops, 1);
  EXPECT_EQ(infer.op_counts.at("add"), 2);
  EXPECT_EQ(infer.op_counts.at("constexpr_lut_to_dense"), 1);
  EXPECT_EQ(prefill.num_ops, 3);
  EXPECT_EQ(prefill.op_counts.count("read_state"), 0u);
  ASSERT_EQ(infer.inputs.size(), 2u);
  EXPECT_EQ(infer.inputs[0].type, "fp16");
  EXPECT_EQ(infer.inputs[0].shape, (std::vector<int64_t>{1, 1, 2048}));
  EXPECT_EQ(infer.inputs[1].type, "int32");
  ASSERT_EQ(prefill.inputs[0].enumerated_shapes.size(), 2u);
  EXPECT_EQ(prefill.inputs[0].enumerated_shapes[1], (std::vector<int64_t>{1, 64, 2048}));
  ASSERT_EQ(infer.states.size(), 1u);
  EXPECT_EQ(infer.states[0].type, "fp16");
  EXPECT_EQ(infer.states[0].shape, (std::vector<int64_t>{44, 8, 512, 128}));
  EXPECT_EQ(r->metadata.at("com.anec.context"), "512");

  EXPECT_EQ(r->num_blobs, 3u);
  EXPECT_EQ(r->weight_bytes_by_dtype.at("fp16"), 128u + 32u);
  EXPECT_EQ(r->weight_bytes_by_dtype.at("uint4"), 32u);
  EXPECT_EQ(r->num_const_ops, 2u);
  EXPECT_EQ(r->num_blob_references, 4u);  // shared x2, lut, indices
  EXPECT_EQ(r->num_referenced_blobs, 3u);
  // Header 64 + (64 meta + 128) + (64 + 32 rounded up) + (64 + 32).
  EXPECT_EQ(r->weight_file_bytes, 64u + 192u + 128u + 96u);
  EXPECT_GT(r->model_file_bytes, 0u);
  EXPECT_GT(r->total_bytes, r->weight_file_bytes + r->model_file_bytes);
  EXPECT_TRUE(r->fits_ios_budget);
  EXPECT_TRUE(r->fits_macos_budget);

  std::string text = RenderText(*r);
  EXPECT_NE(text.find("function infer [CoreML8]: 5 ops, 1 const"), std::string::npos) << text;
  EXPECT_NE(text.find("state  model_model_kv_cache_0 fp16[44,8,512,128]"), std::string::npos)
      << text;
  EXPECT_NE(text.find("enumerated {[1,1,2048] [1,64,2048]}"), std::string::npos) << text;
  EXPECT_NE(text.find("iOS (1 GiB) fits"), std::string::npos) << text;

  json j = json::parse(RenderJson(*r), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["spec_version"], 9);
  EXPECT_EQ(j["functions"][0]["op_counts"]["add"], 2);
  EXPECT_EQ(j["functions"][1]["inputs"][0]["enumerated_shapes"][0], json({1, 1, 2048}));
  EXPECT_EQ(j["weight_bytes_by_dtype"]["uint4"], 32);
  EXPECT_EQ(j["fits_macos_budget"], true);
}

TEST(InspectTest, SingleFunctionUsesTopLevelDescription) {
  MemoryFileSystem fs;
  auto w = PackageWriter::Create(&fs, "/s.mlpackage").value();
  spec::Model m;
  m.set_specificationversion(8);
  AddArray(m.mutable_description()->add_input(), "input_ids", {1, 1},
           spec::ArrayFeatureType::INT32);
  AddArray(m.mutable_description()->add_output(), "logits", {1, 1, 32000},
           spec::ArrayFeatureType::FLOAT16);
  milspec::Function& fn = (*m.mutable_mlprogram()->mutable_functions())["main"];
  fn.set_opset("CoreML7");
  milspec::Block& b = (*fn.mutable_block_specializations())["CoreML7"];
  b.add_operations()->set_type("gather");
  ASSERT_TRUE(w->Finish(m).ok());
  auto r = InspectPackage(&fs, "/s.mlpackage");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->functions.size(), 1u);
  EXPECT_EQ(r->functions[0].name, "main");
  EXPECT_EQ(r->default_function, "main");
  EXPECT_EQ(r->functions[0].outputs[0].shape, (std::vector<int64_t>{1, 1, 32000}));
  EXPECT_EQ(r->functions[0].op_counts.at("gather"), 1);
  EXPECT_EQ(r->num_blobs, 0u);
  EXPECT_EQ(r->weight_file_bytes, 64u);
}

// Reports weight.bin as larger than it is, to check the budgets without writing gigabytes.
class InflatedWeightsFs : public MemoryFileSystem {
 public:
  explicit InflatedWeightsFs(uint64_t size) : size_(size) {}
  Result<uint64_t> FileSize(const std::string& path) override {
    if (Basename(path) == "weight.bin") return size_;
    return MemoryFileSystem::FileSize(path);
  }

 private:
  uint64_t size_;
};

TEST(InspectTest, WeightBudgets) {
  struct Case {
    uint64_t size;
    bool ios, macos;
  };
  for (Case c :
       {Case{kIosWeightBudgetBytes, true, true}, Case{kIosWeightBudgetBytes + 1, false, true},
        Case{kMacosWeightBudgetBytes, false, true},
        Case{kMacosWeightBudgetBytes + 1, false, false}}) {
    InflatedWeightsFs fs(c.size);
    ASSERT_TRUE(WriteMultiFunctionPackage(&fs, "/o/m.mlpackage").ok());
    auto r = InspectPackage(&fs, "/o/m.mlpackage");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->weight_file_bytes, c.size);
    EXPECT_EQ(r->fits_ios_budget, c.ios) << c.size;
    EXPECT_EQ(r->fits_macos_budget, c.macos) << c.size;
    if (!c.ios) {
      EXPECT_NE(RenderText(*r).find("iOS (1 GiB) EXCEEDED"), std::string::npos);
    }
  }
  EXPECT_EQ(kIosWeightBudgetBytes, 1073741824u);
}

TEST(InspectTest, CorruptBlobFileIsReported) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WriteMultiFunctionPackage(&fs, "/o/m.mlpackage").ok());
  const std::string wb = "/o/m.mlpackage/Data/com.apple.CoreML/weights/weight.bin";
  std::string bytes = fs.ReadFile(wb).value();
  bytes[64] = 0;  // first sentinel
  fs.SetFile(wb, bytes);
  auto r = InspectPackage(&fs, "/o/m.mlpackage");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sentinel"), std::string::npos) << r.status().message();
}

TEST(InspectTest, FolderListsPackagesErrorsAndMeta) {
  MemoryFileSystem fs;
  ASSERT_TRUE(WriteMultiFunctionPackage(&fs, "/out/llama_FFN_PF_chunk_01of01.mlpackage").ok());
  ASSERT_TRUE(WriteMultiFunctionPackage(&fs, "/out/llama_embeddings.mlpackage").ok());
  fs.SetFile("/out/broken.mlpackage/Manifest.json", "nope");
  fs.SetFile("/out/meta.yaml", "model_info:\n  name: anemll-llama-ctx512\n");
  fs.SetFile("/out/tokenizer.json", "{}");
  ASSERT_TRUE(fs.MakeDirs("/out/llama_lm_head.mlmodelc").ok());
  auto r = InspectFolder(&fs, "/out");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->packages.size(), 3u);
  EXPECT_EQ(r->packages[0].name, "broken.mlpackage");
  EXPECT_FALSE(r->packages[0].report.has_value());
  EXPECT_NE(r->packages[0].error.find("Manifest.json"), std::string::npos);
  EXPECT_TRUE(r->packages[1].report.has_value());
  EXPECT_EQ(r->packages[2].name, "llama_embeddings.mlpackage");
  EXPECT_EQ(r->other_models, std::vector<std::string>{"llama_lm_head.mlmodelc"});
  ASSERT_TRUE(r->meta_yaml.has_value());
  EXPECT_NE(r->meta_yaml->find("anemll-llama-ctx512"), std::string::npos);
  std::string text = RenderText(*r);
  EXPECT_NE(text.find("3 package(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("ERROR"), std::string::npos) << text;
  EXPECT_NE(text.find("name: anemll-llama-ctx512"), std::string::npos) << text;
  json j = json::parse(RenderJson(*r), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_TRUE(j["packages"][0].contains("error"));
  EXPECT_EQ(j["packages"][2]["report"]["num_blobs"], 3);
  EXPECT_FALSE(InspectFolder(&fs, "/missing").ok());
}

}  // namespace
}  // namespace anec::coreml
