#include "pipeline/converter.h"

#include <gtest/gtest.h>

#include "ane/ane_test_util.h"
#include "coreml/package.h"
#include "pipeline/converter_test_util.h"

namespace anec::pipeline {
namespace {

namespace CS = CoreML::Specification;
namespace MS = CoreML::Specification::MILSpec;

ConvertHooks Quiet() {
  ConvertHooks h;
  h.log = nullptr;
  return h;
}

const CS::Model& ModelOf(const Result<coreml::Package>& p) { return p->model(); }

TEST(ConverterTest, OneChunkUntiedWritesEveryFile) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  TinyModel tm = MakeTinyModel(2, 100, /*tied=*/false);
  auto report = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), Quiet());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  for (const char* f : {"llama_embeddings.mlpackage", "llama_lm_head.mlpackage",
                        "llama_FFN_PF_chunk_01of01.mlpackage", "meta.yaml", "config.json",
                        "tokenizer.json", "tokenizer_config.json", "compile_on_mac.sh"}) {
    EXPECT_TRUE(fs.Exists(JoinPath("/out", f))) << f;
  }
  auto chunk = coreml::Package::Open(&fs, "/out/llama_FFN_PF_chunk_01of01.mlpackage");
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  const CS::ModelDescription& d = ModelOf(chunk).description();
  ASSERT_EQ(d.functions_size(), 2);
  EXPECT_EQ(d.functions(0).name(), "infer");
  EXPECT_EQ(d.functions(1).name(), "prefill");
  EXPECT_EQ(d.defaultfunctionname(), "infer");
  EXPECT_EQ(d.functions(1).input(0).type().multiarraytype().shape(1), 8);
  EXPECT_EQ(d.metadata().userdefined().at("com.anemll.context_length"), "32");
  EXPECT_EQ(d.metadata().userdefined().at("com.anemll.batch_size"), "8");
  EXPECT_EQ(d.metadata().userdefined().at("com.anemll.chunk_no"), "1");
  EXPECT_EQ(d.metadata().userdefined().at("com.anemll.num_chunks"), "1");
  // Shared weights: the two-function package is no larger than the infer-only one + a few KB.
  auto infer = coreml::Package::Open(&fs, "/out/.anec-work/llama_FFN_chunk_01of01.mlpackage");
  ASSERT_TRUE(infer.ok());
  EXPECT_LE(chunk->weight_file_bytes(), infer->weight_file_bytes() + 4096);
  EXPECT_GT(chunk->weight_file_bytes() + 1, infer->weight_file_bytes());
  // The only other growth is the second function's program text.
  auto prefill_model = fs.FileSize("/out/.anec-work/llama_prefill_chunk_01of01.mlmodel");
  ASSERT_TRUE(prefill_model.ok());
  EXPECT_LE(chunk->total_bytes(), infer->total_bytes() + *prefill_model + 4096);
  auto emb = coreml::Package::Open(&fs, "/out/llama_embeddings.mlpackage");
  ASSERT_TRUE(emb.ok());
  EXPECT_EQ(emb->model().description().metadata().userdefined().at("com.anemll.lut_bits"), "0");
  EXPECT_NE(FormatReport(*report).find("llama_FFN_PF_chunk_01of01.mlpackage"), std::string::npos);
}

// Progress counts weights, so a one-chunk conversion's step 3 moves while the chunk is written
// (a log file gets a line per 10%, not just 0/1 and done).
TEST(ConverterTest, ProgressMovesInsideASingleChunk) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  TinyModel tm = MakeTinyModel(4, 100, /*tied=*/false);
  char* text = nullptr;
  size_t size = 0;
  ConvertHooks h;
  h.log = open_memstream(&text, &size);
  ASSERT_NE(h.log, nullptr);
  auto report = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), h);
  std::fclose(h.log);
  const std::string log(text, size);
  std::free(text);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  int step3 = 0;
  for (size_t at = log.find("[3/8] FFN chunk (infer) ["); at != std::string::npos;
       at = log.find("[3/8] FFN chunk (infer) [", at + 1)) {
    const size_t end = log.find('\n', at);
    const std::string line = log.substr(at, end - at);
    EXPECT_NE(line.find(" weights"), std::string::npos) << line;
    ++step3;
  }
  EXPECT_GE(step3, 5) << log;  // 4 layers x 7 matrices: the count moves chunk-internally
}

TEST(ConverterTest, ThreeChunksUnevenLayersTiedLargeVocab) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  TinyModel tm = MakeTinyModel(4, 20000, /*tied=*/true);
  auto report = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 3), Quiet());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::vector<std::vector<std::string>> expect_layers = {{"0", "1"}, {"2"}, {"3"}};
  for (int k = 1; k <= 3; ++k) {
    auto p = coreml::Package::Open(
        &fs, "/out/llama_FFN_PF_chunk_0" + std::to_string(k) + "of03.mlpackage");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    const MS::Function& infer = p->model().mlprogram().functions().at("infer");
    for (int l = 0; l < 4; ++l) {
      const bool here = std::find(expect_layers[k - 1].begin(), expect_layers[k - 1].end(),
                                  std::to_string(l)) != expect_layers[k - 1].end();
      EXPECT_EQ(ane::Producer(infer, "layers_" + std::to_string(l) + "_down_proj") != nullptr, here)
          << "chunk " << k << " layer " << l;
    }
    EXPECT_EQ(ane::Producer(infer, "final_norm") != nullptr, k == 3) << k;
  }
  auto head = coreml::Package::Open(&fs, "/out/llama_lm_head.mlpackage");
  ASSERT_TRUE(head.ok());
  // 20,000 = 8 equal pieces of 2,500 (ANEMLL's count for Llama).
  ASSERT_EQ(head->model().description().output_size(), 8);
  EXPECT_EQ(head->model().description().output(7).type().multiarraytype().shape(2), 2500);
  auto meta = fs.ReadFile("/out/meta.yaml");
  ASSERT_TRUE(meta.ok());
  EXPECT_NE(meta->find("split_lm_head: 8"), std::string::npos);
  EXPECT_NE(meta->find("vocab_size: 20000"), std::string::npos);
  EXPECT_NE(meta->find("num_chunks: 3"), std::string::npos);
}

TEST(ConverterTest, RestartFromEveryStepReproducesTheBytes) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  TinyModel tm = MakeTinyModel(3, 300, true);
  ASSERT_TRUE(Convert(&fs, tm.input(), TinyOptions("/m", "/out", 2), Quiet()).ok());
  const auto clean = Snapshot(&fs, "/out");
  ASSERT_GE(clean.size(), 8u);
  for (int n = 2; n <= kNumSteps; ++n) {
    ConvertOptions o = TinyOptions("/m", "/out", 2);
    o.restart = n;
    auto r = Convert(&fs, tm.input(), o, Quiet());
    ASSERT_TRUE(r.ok()) << "restart " << n << ": " << r.status().ToString();
    EXPECT_EQ(Snapshot(&fs, "/out"), clean) << "restart " << n;
    EXPECT_FALSE(r->steps[static_cast<size_t>(n - 2)].ran);
    EXPECT_TRUE(r->steps[static_cast<size_t>(n - 1)].ran);
  }
  for (int n = 1; n <= kNumSteps; ++n) {
    ConvertOptions o = TinyOptions("/m", "/out", 2);
    o.only = n;
    auto r = Convert(&fs, tm.input(), o, Quiet());
    ASSERT_TRUE(r.ok()) << "only " << n << ": " << r.status().ToString();
  }
  // Running only step 3 made 4 and later stale; a restart from 6 must refuse now... only 8 ran
  // last, which invalidated nothing earlier, so check the ordering rule directly:
  ConvertOptions o3 = TinyOptions("/m", "/out", 2);
  o3.only = 3;
  ASSERT_TRUE(Convert(&fs, tm.input(), o3, Quiet()).ok());
  ConvertOptions r6 = TinyOptions("/m", "/out", 2);
  r6.restart = 6;
  auto refused = Convert(&fs, tm.input(), r6, Quiet());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("step 4"), std::string::npos);
  EXPECT_NE(refused.status().message().find("--restart 4"), std::string::npos);
}

TEST(ConverterTest, InjectedCrashThenRestartGivesIdenticalOutput) {
  MemoryFileSystem clean_fs;
  WriteModelFolder(&clean_fs, "/m");
  TinyModel tm = MakeTinyModel(3, 300, false);
  ASSERT_TRUE(Convert(&clean_fs, tm.input(), TinyOptions("/m", "/out", 3), Quiet()).ok());
  const auto clean = Snapshot(&clean_fs, "/out");
  for (int crash_step : {1, 3, 4, 5, 7}) {
    MemoryFileSystem fs;
    WriteModelFolder(&fs, "/m");
    ConvertHooks h = Quiet();
    h.after_unit = [&](int step, const std::string& unit) -> Status {
      if (step == crash_step && unit.find("chunk_02") != std::string::npos) {
        return Internal("injected crash");
      }
      if (step == crash_step && (crash_step == 1 || crash_step == 7)) {
        return Internal("injected crash");
      }
      return Status::Ok();
    };
    auto r = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 3), h);
    ASSERT_FALSE(r.ok()) << crash_step;
    EXPECT_NE(r.status().message().find("injected crash"), std::string::npos);
    if (crash_step >= 3 && crash_step <= 5) {
      // Step outputs written before the crash stay complete; nothing later exists.
      EXPECT_FALSE(fs.Exists("/out/llama_FFN_PF_chunk_03of03.mlpackage"));
    }
    ConvertOptions o = TinyOptions("/m", "/out", 3);
    o.restart = crash_step;
    auto again = Convert(&fs, tm.input(), o, Quiet());
    ASSERT_TRUE(again.ok()) << crash_step << ": " << again.status().ToString();
    EXPECT_EQ(Snapshot(&fs, "/out"), clean) << "crash in step " << crash_step;
  }
}

TEST(ConverterTest, RestartRefusesWithoutEarlierRunOrWithOtherOptions) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  TinyModel tm = MakeTinyModel(2, 100, false);
  ConvertOptions o = TinyOptions("/m", "/out", 1);
  o.restart = 3;
  auto none = Convert(&fs, tm.input(), o, Quiet());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("no earlier run"), std::string::npos);

  ASSERT_TRUE(Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), Quiet()).ok());
  ConvertOptions other = TinyOptions("/m", "/out", 1);
  other.context = 64;
  other.restart = 4;
  auto mismatch = Convert(&fs, tm.input(), other, Quiet());
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("different options"), std::string::npos);

  ASSERT_TRUE(fs.RemoveAll("/out/llama_FFN_PF_chunk_01of01.mlpackage").ok());
  ConvertOptions r6 = TinyOptions("/m", "/out", 1);
  r6.restart = 6;
  auto missing = Convert(&fs, tm.input(), r6, Quiet());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("llama_FFN_PF_chunk_01of01.mlpackage"),
            std::string::npos);
  EXPECT_NE(missing.status().message().find("--restart 5"), std::string::npos);
}

TEST(ConverterTest, BadOptionsFailBeforeAnyWork) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  TinyModel tm = MakeTinyModel(2, 100, false);
  ConvertOptions o = TinyOptions("/m", "/out", 3);  // 3 chunks for 2 layers
  auto r = Convert(&fs, tm.input(), o, Quiet());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--chunks 3"), std::string::npos);
  o = TinyOptions("/m", "/out", 1);
  o.context = 36;
  r = Convert(&fs, tm.input(), o, Quiet());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--context 36"), std::string::npos);
  EXPECT_FALSE(fs.Exists("/out"));
}

TEST(ConverterTest, ASecondRunIntoTheSameFolderFailsAtOnce) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  TinyModel tm = MakeTinyModel(2, 100, false);
  auto held = LockOutput(&fs, "/out");  // another run is writing /out
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  auto r = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), Quiet());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("another anec conversion is writing"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(fs.Exists("/out/.anec-work/options.json"));  // it touched nothing
  held->reset();
  r = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), Quiet());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  // A caller that holds the lock itself (the CLI, while calibrating) says so.
  held = LockOutput(&fs, "/out");
  ASSERT_TRUE(held.ok());
  ConvertHooks h = Quiet();
  h.output_locked = true;
  r = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), h);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(ConverterTest, UpFrontChecks) {
  MemoryFileSystem fs;
  WriteModelFolder(&fs, "/m");
  ASSERT_TRUE(fs.RemoveAll("/m/tokenizer.json").ok());
  TinyModel tm = MakeTinyModel(2, 100, false);
  auto r = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), Quiet());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/m/tokenizer.json"), std::string::npos);
  EXPECT_NE(r.status().message().find("--skip-check"), std::string::npos);
  WriteModelFolder(&fs, "/m");
  fs.set_free_space(1000);
  r = Convert(&fs, tm.input(), TinyOptions("/m", "/out", 1), Quiet());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not enough free disk"), std::string::npos);
  ConvertOptions skip = TinyOptions("/m", "/out", 1);
  skip.skip_check = true;
  EXPECT_TRUE(Convert(&fs, tm.input(), skip, Quiet()).ok());
}

// Converts the tiny 2-layer model at FFN LUT4 / LM-head LUT6 (with row scales when asked) into
// /out and opens its combined chunk.
Result<coreml::Package> ConvertTinyLut(MemoryFileSystem* fs, bool row_scale) {
  WriteModelFolder(fs, "/m");
  TinyModel tm = MakeTinyModel(2, 300, true);
  ConvertOptions o = TinyOptions("/m", "/out", 1);
  o.lut.ffn = 4;
  o.lut.lmhead = 6;
  o.lut.row_scale = row_scale;
  ANEC_RETURN_IF_ERROR(Convert(fs, tm.input(), o, Quiet()).status());
  return coreml::Package::Open(fs, "/out/llama_FFN_PF_lut4_chunk_01of01.mlpackage");
}

TEST(ConverterTest, LutChunksPalettizeOnceAndShareTables) {
  MemoryFileSystem fs;
  auto chunk = ConvertTinyLut(&fs, false);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  for (const char* fn : {"infer", "prefill"}) {
    const MS::Function& f = chunk->model().mlprogram().functions().at(fn);
    // 7 projections per layer, 2 layers; the last chunk's prefill skips the last MLP (3).
    EXPECT_EQ(ane::OpsOfType(f, "constexpr_lut_to_dense").size(),
              std::string(fn) == "prefill" ? 11u : 14u)
        << fn;
    const MS::Operation* q = ane::Producer(f, "layers_0_q_proj");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->type(), "constexpr_lut_to_dense");
    EXPECT_EQ(ane::Dims(q->inputs().at("lut").arguments(0).value().type()),
              (std::vector<int64_t>{8, 1, 1, 1, 16, 1}));  // 64 rows / group 8
  }
  // Both functions point at the same index and table blobs.
  const MS::Operation* qi =
      ane::Producer(chunk->model().mlprogram().functions().at("infer"), "layers_0_down_proj");
  const MS::Operation* qp =
      ane::Producer(chunk->model().mlprogram().functions().at("prefill"), "layers_0_down_proj");
  ASSERT_NE(qi, nullptr);
  ASSERT_NE(qp, nullptr);
  EXPECT_EQ(qi->inputs().at("indices").arguments(0).value().blobfilevalue().offset(),
            qp->inputs().at("indices").arguments(0).value().blobfilevalue().offset());
  auto infer = coreml::Package::Open(&fs, "/out/.anec-work/llama_FFN_lut4_chunk_01of01.mlpackage");
  ASSERT_TRUE(infer.ok());
  EXPECT_LE(chunk->weight_file_bytes(), infer->weight_file_bytes() + 4096);
  EXPECT_TRUE(fs.Exists("/out/llama_lm_head_lut6.mlpackage"));
  EXPECT_TRUE(fs.Exists("/out/llama_embeddings.mlpackage"));
}

// --lut-row-scale: every palettized matmul is followed by a mul with its [1, rows, 1, 1] fp16
// row scales, the same data in both functions (written by step 3, reused by step 4); the LM
// head's pieces likewise.
TEST(ConverterTest, LutRowScalesFollowEveryPalettizedMatmul) {
  MemoryFileSystem fs;
  auto chunk = ConvertTinyLut(&fs, true);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  std::string stored[2];  // the q_proj scale's value (inline or blob reference) in each function
  int fn_index = 0;
  for (const char* fn : {"infer", "prefill"}) {
    SCOPED_TRACE(fn);
    const MS::Function& f = chunk->model().mlprogram().functions().at(fn);
    const size_t matmuls = std::string(fn) == "prefill" ? 11u : 14u;
    EXPECT_EQ(ane::OpsOfType(f, "constexpr_lut_to_dense").size(), matmuls);
    size_t scaled = 0;
    for (const MS::Operation* mul : ane::OpsOfType(f, "mul")) {
      const MS::Operation* conv = ane::Producer(f, mul->inputs().at("x").arguments(0).name());
      if (conv == nullptr || conv->type() != "conv") continue;
      ++scaled;
      const MS::Operation* weight =
          ane::Producer(f, conv->inputs().at("weight").arguments(0).name());
      ASSERT_NE(weight, nullptr);
      EXPECT_EQ(weight->type(), "constexpr_lut_to_dense");
      EXPECT_FALSE(conv->inputs().contains("bias"));
      const MS::Operation* scale = ane::Producer(f, mul->inputs().at("y").arguments(0).name());
      ASSERT_NE(scale, nullptr);
      EXPECT_EQ(scale->type(), "const");
      const std::vector<int64_t> dims = ane::Dims(scale->outputs(0).type());
      const std::vector<int64_t> rows = ane::Dims(weight->outputs(0).type());
      EXPECT_EQ(dims, (std::vector<int64_t>{1, rows[0], 1, 1}));
      EXPECT_EQ(scale->outputs(0).type().tensortype().datatype(), MS::DataType::FLOAT16);
    }
    EXPECT_EQ(scaled, matmuls);
    const MS::Operation* s = ane::Producer(f, "layers_0_q_proj_row_scale");
    ASSERT_NE(s, nullptr);
    stored[fn_index++] = s->attributes().at("val").SerializeAsString();
  }
  EXPECT_FALSE(stored[0].empty());
  EXPECT_EQ(stored[0], stored[1]);  // the same data (the same blob when not inline)
  auto head = coreml::Package::Open(&fs, "/out/llama_lm_head_lut6.mlpackage");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  const MS::Function& hf = head->model().mlprogram().functions().at("main");
  size_t head_scaled = 0;
  for (const MS::Operation* mul : ane::OpsOfType(hf, "mul")) {
    const MS::Operation* conv = ane::Producer(hf, mul->inputs().at("x").arguments(0).name());
    head_scaled += conv != nullptr && conv->type() == "conv";
  }
  EXPECT_EQ(head_scaled, ane::OpsOfType(hf, "constexpr_lut_to_dense").size());
  EXPECT_GT(head_scaled, 0u);
}

}  // namespace
}  // namespace anec::pipeline
