#include "pipeline/conversion_steps.h"

#include <fmt/format.h>

#include <cstdlib>

#include "ane/chunk_function.h"
#include "ane/embeddings_function.h"
#include "ane/lm_head_function.h"
#include "ane/package_constants.h"
#include "ane/weight_emitter.h"
#include "coreml/package.h"
#include "pipeline/meta_yaml.h"
#include "pipeline/package_build.h"
#include "pipeline/package_merge.h"
#include "pipeline/progress.h"

namespace anec::pipeline {

namespace {

constexpr const char* kCompileScript = "compile_on_mac.sh";

std::string LmHeadChunkSizesText(const ane::LmHeadLayout& head) {
  std::string out;
  for (int64_t i = 0; i < head.pieces; ++i) {
    if (i) out += ',';  // appended piece by piece: GCC 12 -O3 warns falsely on `"," + string`
    out += std::to_string(head.piece_rows);
  }
  return out;
}

bool RunningOnMac() {
#ifdef __APPLE__
  return true;
#else
  return false;
#endif
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

ConversionRun::ConversionRun(FileSystem* fs, const ConversionInput& in, const ConvertOptions& o,
                             const ConvertHooks& hooks, ChunkPlan plan)
    : fs_(fs),
      in_(in),
      opts_(o),
      hooks_(hooks),
      plan_(std::move(plan)),
      names_(MakeFileNames(o.prefix, o.lut, static_cast<int64_t>(plan_.chunks.size()))),
      work_(fs, o.output_dir) {}

Status ConversionRun::Unit(int step, const std::string& unit) {
  return hooks_.after_unit ? hooks_.after_unit(step, unit) : Status::Ok();
}

ane::ModelMetadata ConversionRun::Metadata(const std::string& what, int lut_bits,
                                           int64_t chunk_no) const {
  ane::ModelMetadata m;
  m.short_description = fmt::format("{} of {} for the Apple Neural Engine (anec)", what,
                                    in_.spec.name.empty() ? "a model" : in_.spec.name);
  m.version = kAnecVersion;
  m.author = "anec";
  auto& u = m.user_defined;
  u["com.anemll.context_length"] = std::to_string(opts_.context);
  u["com.anemll.state_length"] =
      std::to_string(ane::KvCacheRows(in_.spec, opts_.context, opts_.batch));
  // The runtime's causal mask must leave out rows older than the window (the chunk does not).
  if (in_.spec.sliding_window && *in_.spec.sliding_window < opts_.context) {
    u["com.anec.sliding_window"] = std::to_string(*in_.spec.sliding_window);
  }
  // Interleaved models: the window of the local layers' local_causal_mask (chunk_function.h).
  if (in_.spec.local_attention) {
    u["com.anec.local_sliding_window"] = std::to_string(in_.spec.local_attention->window);
  }
  if (opts_.kv_cache == ane::KvCacheSharing::kPerChunk) u["com.anec.kv_cache"] = "per-chunk";
  u["com.anemll.batch_size"] = std::to_string(opts_.batch);
  u["com.anemll.lut_bits"] = std::to_string(lut_bits);
  u["com.anemll.num_chunks"] = std::to_string(plan_.chunks.size());
  if (chunk_no > 0) u["com.anemll.chunk_no"] = std::to_string(chunk_no);
  u["com.anemll.info"] = fmt::format("Converted by anec {}: {}", kAnecVersion, what);
  return m;
}

// ANEMLL 0.3.5's chat.py reads these from the LM head to map in-model argmax indices to tokens.
ane::ModelMetadata ConversionRun::LmHeadMetadata() const {
  ane::ModelMetadata m = Metadata("LM head", opts_.lut.lmhead, 0);
  const ane::LmHeadLayout head = ane::LmHeadLayoutOf(in_.spec);
  m.user_defined["com.anemll.vocab_size"] = std::to_string(head.vocab);
  m.user_defined["com.anemll.lm_head_chunk_sizes"] = LmHeadChunkSizesText(head);
  if (opts_.argmax) m.user_defined["com.anemll.argmax_in_model"] = "true";
  return m;
}

std::vector<std::string> ConversionRun::StepOutputs(int step) const {
  std::vector<std::string> out;
  const int64_t n = static_cast<int64_t>(plan_.chunks.size());
  switch (step) {
    case 1:
      out.push_back(Out(names_.embeddings));
      break;
    case 2:
      out.push_back(Out(names_.lm_head));
      break;
    case 3:
      for (int64_t k = 1; k <= n; ++k) out.push_back(work_.Path(names_.InferChunk(k)));
      break;
    case 4:
      for (int64_t k = 1; k <= n; ++k) out.push_back(work_.Path(names_.PrefillChunk(k)));
      break;
    case 5:
      for (int64_t k = 1; k <= n; ++k) out.push_back(Out(names_.Chunk(k)));
      break;
    case 7:
      out.push_back(Out("meta.yaml"));
      break;
    default:
      break;
  }
  return out;
}

Status ConversionRun::RunStep(int step, std::string* note) {
  switch (step) {
    case 1:
      return Embeddings();
    case 2:
      return LmHead();
    case 3:
      return InferChunks();
    case 4:
      return PrefillChunks();
    case 5:
      return Combine();
    case 6:
      return Compile(note);
    case 7:
      return TokenizerAndMeta();
    case 8:
      return TestPrompt(note);
    default:
      return Internal("no step {}", step);
  }
}

Status ConversionRun::Embeddings() {
  Progress p(hooks_.log, "[1/8] embeddings", in_.spec.vocab_size * in_.spec.hidden_size,
             ProgressUnit::kWeights);
  ANEC_RETURN_IF_ERROR(WritePackage(
      fs_, Out(names_.embeddings),
      [&](mil::ProgramBuilder* pb) -> Result<std::vector<ane::FunctionSignature>> {
        ane::WeightEmitter w(pb, in_.weights, {opts_.lut.embed, opts_.lut.group});
        w.OnWeights([&p](int64_t n) { p.Advance(n); });
        ANEC_ASSIGN_OR_RETURN(auto sig, ane::AddEmbeddingsFunction(pb, &w, in_.spec, opts_.batch));
        return std::vector<ane::FunctionSignature>{sig};
      },
      "main", Metadata("embeddings", opts_.lut.embed, 0)));
  p.Done();
  return Unit(1, names_.embeddings);
}

Status ConversionRun::LmHead() {
  Progress p(hooks_.log, "[2/8] LM head", in_.spec.vocab_size * in_.spec.hidden_size,
             ProgressUnit::kWeights);
  ANEC_RETURN_IF_ERROR(WritePackage(
      fs_, Out(names_.lm_head),
      [&](mil::ProgramBuilder* pb) -> Result<std::vector<ane::FunctionSignature>> {
        ane::WeightEmitter w(pb, in_.weights,
                             {opts_.lut.lmhead, opts_.lut.group, opts_.lut.row_scale});
        w.OnWeights([&p](int64_t n) { p.Advance(n); });
        w.UseImportance(in_.importance);
        w.UseBitsPlan(in_.lut_bits);
        ANEC_ASSIGN_OR_RETURN(auto sig, ane::AddLmHeadFunction(pb, &w, in_.spec, opts_.argmax));
        calibrated_ += w.weighted_matrices();
        uncalibrated_ += w.unweighted_matrices();
        return std::vector<ane::FunctionSignature>{sig};
      },
      "main", LmHeadMetadata()));
  p.Done();
  NoteCalibration("LM head");
  return Unit(2, names_.lm_head);
}

namespace {
// Elements of the projection matrices chunk `span` holds (its progress total).
int64_t ChunkMatrixElements(const model::ModelSpec& s, const ChunkSpan& span) {
  int64_t e = 0;
  for (const LayerPart& part : PartsOf(span, s.intermediate_size)) {
    if (part.attention) {
      e += 2 * s.hidden_size * s.num_heads * s.head_dim;     // q, o
      e += 2 * s.hidden_size * s.num_kv_heads * s.head_dim;  // k, v
    }
    e += 3 * s.hidden_size * (part.mlp_end - part.mlp_begin);  // gate, up, down
  }
  return e;
}

// Chunk `k` (1-based) of `n`.
ane::ChunkShape ShapeOf(const model::ModelSpec& spec, const ConvertOptions& o, const ChunkSpan& r,
                        int64_t k, int64_t n) {
  ane::ChunkShape s;
  const bool ends_in_mlp = r.end.part == StackCursor::kMlp;
  s.first_layer = r.begin.layer;
  s.end_layer = ends_in_mlp ? r.end.layer + 1 : r.end.layer;
  s.context = o.context;
  s.is_last = k == n;
  if (r.begin.part == StackCursor::kMlp) s.begin_mlp = r.begin.mlp_begin;
  if (ends_in_mlp) s.end_mlp = r.end.mlp_begin;
  const LayerRange attention = AttentionLayers(r);  // a per-chunk state holds these layers
  s.kv = ane::MakeKvCacheLayout(spec, o.context, o.batch, o.kv_cache, k - 1, attention.first,
                                attention.end);
  return s;
}
}  // namespace

Status ConversionRun::InferChunks() {
  ANEC_RETURN_IF_ERROR(fs_->MakeDirs(work_.dir()));
  const int64_t n = static_cast<int64_t>(plan_.chunks.size());
  // Counted in matrix elements (one chunk can take minutes), with the chunk in the label.
  int64_t total = 0;
  for (const ChunkSpan& c : plan_.chunks) total += ChunkMatrixElements(in_.spec, c);
  Progress p(hooks_.log,
             n > 1 ? fmt::format("[3/8] FFN chunks (infer, {})", n)
                   : std::string("[3/8] FFN chunk (infer)"),
             total, ProgressUnit::kWeights);
  for (int64_t k = 1; k <= n; ++k) {
    const ane::ChunkShape shape =
        ShapeOf(in_.spec, opts_, plan_.chunks[static_cast<size_t>(k - 1)], k, n);
    ANEC_RETURN_IF_ERROR(WritePackage(
        fs_, work_.Path(names_.InferChunk(k)),
        [&](mil::ProgramBuilder* pb) -> Result<std::vector<ane::FunctionSignature>> {
          ane::WeightEmitter w(pb, in_.weights,
                               {opts_.lut.ffn, opts_.lut.group, opts_.lut.row_scale});
          w.OnWeights([&p](int64_t e) { p.Advance(e); });
          w.UseImportance(in_.importance);
          w.UseBitsPlan(in_.lut_bits);
          ANEC_ASSIGN_OR_RETURN(auto sig,
                                ane::AddChunkFunction(pb, &w, in_.spec, shape, 1, "main"));
          calibrated_ += w.weighted_matrices();
          uncalibrated_ += w.unweighted_matrices();
          planned_tables_ += w.planned_tables_used();
          return std::vector<ane::FunctionSignature>{sig};
        },
        "main", Metadata(fmt::format("FFN chunk {} of {}", k, n), opts_.lut.ffn, k)));
    ANEC_RETURN_IF_ERROR(Unit(3, names_.InferChunk(k)));
  }
  p.Done();
  NoteCalibration("FFN chunks");
  return Status::Ok();
}

void ConversionRun::NoteCalibration(std::string_view step) {
  if (in_.importance == nullptr || hooks_.log == nullptr) return;
  fmt::print(
      hooks_.log, "  {}: {} palettized matrices weighted by calibration{}{}\n", step, calibrated_,
      uncalibrated_ > 0 ? fmt::format(", {} not measured (plain k-means)", uncalibrated_)
                        : std::string(),
      planned_tables_ > 0
          ? fmt::format(", {} with the tables --lut auto fitted while planning", planned_tables_)
          : std::string());
  calibrated_ = uncalibrated_ = planned_tables_ = 0;
}

namespace {

// Stands in for a weight file whose bytes are not wanted: step 4's program refers to step 3's
// constants by name, and step 5 points them at the copies it makes (package_merge.h).
class DiscardingFile : public WritableFile {
 public:
  Status Append(std::span<const uint8_t> data) override {
    size_ += data.size();
    return Status::Ok();
  }
  uint64_t size() const override { return size_; }
  Status PatchAt(uint64_t, std::span<const uint8_t>) override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }

 private:
  uint64_t size_ = 0;
};

}  // namespace

Status ConversionRun::PrefillChunks() {
  const int64_t n = static_cast<int64_t>(plan_.chunks.size());
  Progress p(hooks_.log, "[4/8] prefill chunks", n);
  for (int64_t k = 1; k <= n; ++k) {
    const std::string infer_path = work_.Path(names_.InferChunk(k));
    ANEC_ASSIGN_OR_RETURN(coreml::Package infer, coreml::Package::Open(fs_, infer_path));
    ANEC_ASSIGN_OR_RETURN(ane::PackageConstants consts, ane::PackageConstants::Index(&infer));
    ane::ChunkShape shape =
        ShapeOf(in_.spec, opts_, plan_.chunks[static_cast<size_t>(k - 1)], k, n);
    shape.fill_cache_only = true;  // prefill only fills the cache (ane/chunk_function.h)
    coreml::BlobWriter discard(std::make_unique<DiscardingFile>());
    Result<CoreML::Specification::Model> model = Status(StatusCode::kInternal, "not built");
    {
      mil::ProgramBuilder pb(&discard);
      ane::WeightEmitter w(&pb, nullptr, {opts_.lut.ffn, opts_.lut.group, opts_.lut.row_scale});
      w.ReuseFrom(&consts);
      auto sig = ane::AddChunkFunction(&pb, &w, in_.spec, shape, opts_.batch, "main");
      if (!sig.ok()) return sig.status().WithContext(infer_path);
      model = ane::AssembleModel(
          pb, {*sig}, "main", Metadata(fmt::format("FFN chunk {} of {}", k, n), opts_.lut.ffn, k));
    }
    if (!model.ok()) return model.status();
    std::string bytes;
    if (!model->SerializeToString(&bytes)) return Internal("step 4: cannot serialize the program");
    ANEC_RETURN_IF_ERROR(fs_->WriteFileAtomic(work_.Path(names_.PrefillChunk(k)), bytes));
    p.Advance();
    ANEC_RETURN_IF_ERROR(Unit(4, names_.PrefillChunk(k)));
  }
  p.Done();
  return Status::Ok();
}

Status ConversionRun::Combine() {
  const int64_t n = static_cast<int64_t>(plan_.chunks.size());
  Progress p(hooks_.log, "[5/8] combine infer + prefill", n);
  for (int64_t k = 1; k <= n; ++k) {
    ANEC_RETURN_IF_ERROR(MergeInferPrefill(fs_, work_.Path(names_.InferChunk(k)),
                                           work_.Path(names_.PrefillChunk(k)),
                                           Out(names_.Chunk(k))));
    p.Advance();
    ANEC_RETURN_IF_ERROR(Unit(5, names_.Chunk(k)));
  }
  p.Done();
  return Status::Ok();
}

Status ConversionRun::Compile(std::string* note) {
  std::vector<std::string> packages = {names_.embeddings, names_.lm_head};
  for (int64_t k = 1; k <= names_.chunks; ++k) packages.push_back(names_.Chunk(k));
  if (RunningOnMac() && !hooks_.force_non_macos) {
    Progress p(hooks_.log, "[6/8] compile (xcrun coremlcompiler)",
               static_cast<int64_t>(packages.size()));
    for (const std::string& pkg : packages) {
      const std::string cmd = fmt::format("xcrun coremlcompiler compile {} {} >/dev/null",
                                          ShellQuote(Out(pkg)), ShellQuote(opts_.output_dir));
      if (std::system(cmd.c_str()) != 0) {
        return IoError("step 6: `{}` failed; check that Xcode is installed (xcode-select -p)", cmd);
      }
      p.Advance();
    }
    p.Done();
    return Unit(6, "");
  }
  // meta.yaml already names the .mlmodelc files (ANEMLL's runtimes load those names), so the
  // script only compiles: `coremlcompiler compile X.mlpackage .` writes ./X.mlmodelc.
  std::string script =
      "#!/bin/sh\n"
      "# Written by anec: compiles this folder's .mlpackage files to the .mlmodelc files that\n"
      "# meta.yaml names, on a Mac with Xcode (xcrun coremlcompiler).\n"
      "set -e\n"
      "cd \"$(dirname \"$0\")\"\n";
  for (const std::string& pkg : packages) {
    script += fmt::format("xcrun coremlcompiler compile {} .\n", ShellQuote(pkg));
  }
  script += "echo 'Compiled: the .mlmodelc files meta.yaml names are in place.'\n";
  ANEC_RETURN_IF_ERROR(fs_->WriteFileAtomic(Out(kCompileScript), script));
  *note = fmt::format("not on macOS: kept .mlpackage files; run `sh {}` on a Mac to compile",
                      kCompileScript);
  if (hooks_.log) fmt::print(hooks_.log, "[6/8] compile: {}\n", *note);
  return Unit(6, "");
}

Status ConversionRun::TokenizerAndMeta() {
  Progress p(hooks_.log, "[7/8] tokenizer, config.json, meta.yaml", 1);
  for (const char* f :
       {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "tokenizer.model",
        "special_tokens_map.json", "config.json", "generation_config.json"}) {
    const std::string src = JoinPath(opts_.model_dir, f);
    if (opts_.model_dir.empty() || !fs_->Exists(src)) continue;
    ANEC_ASSIGN_OR_RETURN(std::string bytes, fs_->ReadFile(src));
    ANEC_RETURN_IF_ERROR(fs_->WriteFileAtomic(Out(f), bytes));
  }
  MetaInfo m;
  m.model_name = in_.spec.name.empty() ? "model" : in_.spec.name;
  m.architecture = std::string(model::ArchitectureName(in_.spec.architecture));
  m.version = kAnecVersion;
  m.context = opts_.context;
  m.batch = opts_.batch;
  m.lut = opts_.lut;
  m.num_chunks = names_.chunks;
  m.prefix = opts_.prefix;
  m.lm_head = ane::LmHeadLayoutOf(in_.spec);
  m.argmax = opts_.argmax;
  m.state_length = ane::KvCacheRows(in_.spec, opts_.context, opts_.batch);
  if (in_.spec.sliding_window && *in_.spec.sliding_window < opts_.context) {
    m.sliding_window = *in_.spec.sliding_window;
  }
  m.kv_cache_per_chunk = opts_.kv_cache == ane::KvCacheSharing::kPerChunk;
  ANEC_RETURN_IF_ERROR(fs_->WriteFileAtomic(Out("meta.yaml"), MetaYaml(m)));
  p.Done();
  return Unit(7, "meta.yaml");
}

Status ConversionRun::TestPrompt(std::string* note) {
  if (!hooks_.test_prompt) {
    *note = "skipped: " + hooks_.test_prompt_unavailable;
    if (hooks_.log) fmt::print(hooks_.log, "[8/8] test prompt {}\n", *note);
    return Status::Ok();
  }
  ANEC_RETURN_IF_ERROR(hooks_.test_prompt(opts_.output_dir));
  return Unit(8, "");
}

}  // namespace anec::pipeline
