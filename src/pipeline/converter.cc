#include "pipeline/converter.h"

#include <fmt/format.h>

#include <chrono>

#include "ane/lm_head_function.h"
#include "pipeline/ane_check_step.h"
#include "pipeline/conversion_steps.h"
#include "pipeline/kv_memory.h"
#include "pipeline/package_build.h"
#include "pipeline/progress.h"

namespace anec::pipeline {

std::string_view StepName(int step) {
  static constexpr std::string_view kNames[] = {"",
                                                "embeddings",
                                                "LM head",
                                                "FFN chunks (infer)",
                                                "prefill chunks",
                                                "combine (multi-function)",
                                                "compile",
                                                "tokenizer + meta.yaml",
                                                "test prompt"};
  return step >= 1 && step <= kNumSteps ? kNames[step] : "?";
}

namespace {

// Which earlier steps' outputs step `s` reads.
std::vector<int> Prerequisites(int s) {
  switch (s) {
    case 4:
      return {3};
    case 5:
      return {3, 4};
    case 6:
      return {1, 2, 5};
    case 8:
      return {1, 2, 5, 7};
    default:
      return {};
  }
}

void PrintPlan(std::FILE* log, const ConversionInput& in, const ConvertOptions& o,
               const ChunkPlan& plan, bool auto_chunks, int first, int last) {
  if (log == nullptr) return;
  const model::ModelSpec& s = in.spec;
  const std::vector<ChunkSpan>& chunks = plan.chunks;
  SizePlan sizes = EstimateSizes(s, chunks, o.lut, o.context);
  auto lut = [](int b) { return b ? std::to_string(b) + "-bit" : std::string("fp16"); };
  const FileBudget budget = BudgetOf(o);
  fmt::print(log, "anec convert: {} ({}, {} layers, hidden {}, vocab {}) -> {}\n",
             s.name.empty() ? "model" : s.name, model::ArchitectureName(s.architecture),
             s.num_layers, s.hidden_size, s.vocab_size, o.output_dir);
  fmt::print(log, "  context {}, batch {}, target {} (budget {} per file{})\n", o.context, o.batch,
             TargetName(o.target), HumanBytes(budget.bytes),
             o.max_file_bytes ? ", --max-file-mb" : "");
  const std::string ffn =
      o.lut.ffn_carried_bits > 0
          ? fmt::format("as stored (~{:.2f} bits/weight)", o.lut.ffn_carried_bits)
          : lut(o.lut.ffn);
  const std::string head =
      o.lut.lmhead_carried_bits > 0
          ? fmt::format("as stored (~{:.2f} bits/weight)", o.lut.lmhead_carried_bits)
          : lut(o.lut.lmhead);
  fmt::print(log, "  weights: embeddings {}, FFN {}, LM head {} (LUT group {}){}\n",
             lut(o.lut.embed), ffn, head, o.lut.group,
             o.preserve_quant ? "; quantized matrices are carried as they are, these settings "
                                "apply to the others (sizes below assume them)"
                              : "");
  const ane::LmHeadLayout pieces = ane::LmHeadLayoutOf(s);
  fmt::print(
      log, "  embeddings ~{}, LM head ~{} in {} pieces of {} rows{}\n",
      HumanBytes(sizes.embeddings), HumanBytes(sizes.lm_head), pieces.pieces, pieces.piece_rows,
      pieces.pad_rows() > 0 ? fmt::format(" (last piece padded by {} rows)", pieces.pad_rows())
                            : "");
  fmt::print(log, "  {} FFN chunk(s){}:\n", chunks.size(), auto_chunks ? " (auto)" : "");
  if (!plan.whole_layers()) {
    fmt::print(log,
               "  one layer exceeds the budget: chunks may end after an attention block or inside "
               "an MLP (slices of {} of its {} intermediate rows)\n",
               plan.mlp_slice, s.intermediate_size);
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (plan.whole_layers()) {
      const int64_t first_layer = chunks[i].begin.layer, end_layer = chunks[i].end.layer;
      fmt::print(log, "    chunk {}: layers {}-{} ({} layers, ~{})\n", i + 1, first_layer,
                 end_layer - 1, end_layer - first_layer, HumanBytes(sizes.chunks[i]));
    } else {
      fmt::print(log, "    chunk {}/{}: {}  ~{}\n", i + 1, chunks.size(),
                 DescribeChunk(chunks[i], s.intermediate_size, plan.mlp_slice),
                 HumanBytes(sizes.chunks[i]));
    }
  }
  std::vector<LayerRange> attention;
  for (const ChunkSpan& c : chunks) attention.push_back(AttentionLayers(c));
  fmt::print(log, "  {}\n", DescribeKvCache(s, o, attention));
  fmt::print(log, "  steps {}..{}\n", first, last);
}

// Disk a whole conversion needs: the final files, and the work folder's infer and prefill chunks
// next to the final (merged) ones.
uint64_t DiskNeeded(const ConversionInput& in, const ConvertOptions& o,
                    const std::vector<ChunkSpan>& chunks) {
  const SizePlan sizes = EstimateSizes(in.spec, chunks, o.lut, o.context);
  uint64_t need = sizes.embeddings + sizes.lm_head;
  for (uint64_t c : sizes.chunks) need += 3 * c;
  return need;
}

Status UpFrontChecks(FileSystem* fs, const ConversionInput& in, const ConvertOptions& o,
                     const std::vector<ChunkSpan>& chunks) {
  // Input complete: the tokenizer files ANEMLL's runtimes load.
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
    const std::string p = JoinPath(o.model_dir, f);
    if (!fs->Exists(p)) {
      return NotFound(
          "{} is missing: the converted model needs it at run time; add it to the "
          "model folder (or pass --skip-check to convert anyway)",
          p);
    }
  }
  const uint64_t need = DiskNeeded(in, o, chunks);
  auto free_bytes = fs->FreeSpace(o.output_dir);
  if (free_bytes.ok() && *free_bytes < need) {
    return FailedPrecondition(
        "not enough free disk for {}: about {} needed (final files plus the work folder), {} "
        "free; free some space or choose another --output (or --skip-check)",
        o.output_dir, HumanBytes(need), HumanBytes(*free_bytes));
  }
#ifdef __APPLE__
  if (std::system("xcrun --find coremlcompiler >/dev/null 2>&1") != 0) {
    return FailedPrecondition(
        "xcrun coremlcompiler not found: install Xcode (xcode-select --install) or pass "
        "--skip-check (step 6 will then fail)");
  }
#endif
  return Status::Ok();
}

// A step that ran out of disk: the message names what failed (the file system's error names the
// file), how much the whole conversion needs and has, and how to go on. Outputs are written by
// temp + rename, so the failed step left nothing half-written at a final path; the steps before
// it stay done, so --restart at the failed step loses nothing.
Status ExplainNoSpace(Status st, FileSystem* fs, const ConversionInput& in, const ConvertOptions& o,
                      const std::vector<ChunkSpan>& chunks, int step) {
  if (st.code() != StatusCode::kNoSpace) return st;
  auto free_bytes = fs->FreeSpace(o.output_dir);
  return NoSpace(
      "{}; the disk holding {} is full ({} free now; the whole conversion needs about {}, final "
      "files plus the work folder): free some space, then run the same command with --restart {} "
      "to go on from step {}",
      st.message(), o.output_dir, free_bytes.ok() ? HumanBytes(*free_bytes) : "unknown",
      HumanBytes(DiskNeeded(in, o, chunks)), step, step);
}

}  // namespace

Result<std::unique_ptr<FileLock>> LockOutput(FileSystem* fs, const std::string& output_dir) {
  const std::string work = JoinPath(output_dir, ".anec-work");
  ANEC_RETURN_IF_ERROR(fs->MakeDirs(work));
  auto lock = fs->TryLock(JoinPath(work, "lock"));
  if (!lock.ok() && lock.status().code() == StatusCode::kFailedPrecondition) {
    return FailedPrecondition(
        "{}: another anec conversion is writing this folder right now ({}); wait for it to "
        "finish, or give another --output",
        output_dir, lock.status().message());
  }
  return lock;
}

Result<ConversionReport> Convert(FileSystem* fs, const ConversionInput& in_given, ConvertOptions o,
                                 const ConvertHooks& hooks) {
  if (in_given.weights == nullptr) return Internal("Convert: no weight source");
  // --residual-scale lives in the spec the layer builders read.
  ConversionInput in = in_given;
  if (o.residual_scale != 0) in.spec.residual_scale = o.residual_scale;
  if (o.prefix.empty())
    o.prefix = in.spec.default_prefix.empty() ? "llama" : in.spec.default_prefix;
  ANEC_RETURN_IF_ERROR(ValidateOptions(o, in.spec));
  ChunkPlan plan;
  if (o.chunks == 0) {
    ANEC_ASSIGN_OR_RETURN(plan, PlanChunks(in.spec, o.lut, o.context, BudgetOf(o)));
  } else {
    plan.chunks = LayerSpans(SplitLayers(in.spec.num_layers, o.chunks));
  }
  const int64_t n = static_cast<int64_t>(plan.chunks.size());
  const int first = o.only ? o.only : o.restart;
  const int last = o.only ? o.only : kNumSteps;
  PrintPlan(hooks.log, in, o, plan, o.chunks == 0, first, last);
  if (!o.skip_check) ANEC_RETURN_IF_ERROR(UpFrontChecks(fs, in, o, plan.chunks));

  std::unique_ptr<FileLock> lock;
  if (!hooks.output_locked) {
    ANEC_ASSIGN_OR_RETURN(lock, LockOutput(fs, o.output_dir));
  }
  std::string split_plan;
  if (!plan.whole_layers()) {
    for (const ChunkSpan& c : plan.chunks) {
      split_plan += DescribeChunk(c, in.spec.intermediate_size, plan.mlp_slice) + "; ";
    }
  }
  const std::string fingerprint = OptionsFingerprint(o, in.spec, n, in.config_json, split_plan);
  const std::vector<ChunkSpan> chunk_spans = plan.chunks;  // for ExplainNoSpace
  ConversionRun run(fs, in, o, hooks, std::move(plan));
  const bool resuming = first > 1 || o.only != 0;
  if (resuming) {
    ANEC_RETURN_IF_ERROR(run.work().Resume(fingerprint));
    std::vector<int> needed;
    if (o.only) {
      needed = Prerequisites(o.only);
    } else {
      for (int s = 1; s < first; ++s) needed.push_back(s);
    }
    for (int s : needed) {
      if (!run.work().IsDone(s)) {
        return FailedPrecondition(
            "cannot start at step {}: step {} ({}) has not completed in {}; rerun with --restart "
            "{}",
            first, s, StepName(s), o.output_dir, s);
      }
      for (const std::string& f : run.StepOutputs(s)) {
        if (!fs->Exists(f)) {
          return FailedPrecondition(
              "cannot start at step {}: {} (an output of step {}) is missing; rerun with --restart "
              "{}",
              first, f, s, s);
        }
      }
    }
  } else {
    ANEC_RETURN_IF_ERROR(run.work().Start(fingerprint));
  }

  ConversionReport report;
  report.chunks = n;
  for (int s = 1; s <= kNumSteps; ++s) {
    StepTiming t;
    t.step = s;
    t.name = std::string(StepName(s));
    if (s < first || s > last) {
      t.note = "reused";
      report.steps.push_back(t);
      continue;
    }
    auto explain = [&](Status failed) {
      return ExplainNoSpace(std::move(failed), fs, in, o, chunk_spans, s);
    };
    if (Status st = run.work().Invalidate(s); !st.ok()) return explain(st);
    const auto start = std::chrono::steady_clock::now();
    Status st = run.RunStep(s, &t.note);
    if (!st.ok()) {
      return explain(st.WithContext(fmt::format("step {} ({})", s, StepName(s))));
    }
    if (Status done = run.work().MarkDone(s); !done.ok()) return explain(done);
    t.ran = true;
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.steps.push_back(t);
  }
  std::vector<std::string> finals = {run.names().embeddings, run.names().lm_head};
  for (int64_t k = 1; k <= n; ++k) finals.push_back(run.names().Chunk(k));
  for (const std::string& f : finals) {
    if (fs->Exists(run.Out(f))) report.files.push_back({f, PathBytes(fs, run.Out(f))});
  }
  ANEC_RETURN_IF_ERROR(RunAneCheckStep(fs, o.output_dir, report.files, hooks.log));
  return report;
}

std::string FormatReport(const ConversionReport& r) {
  std::string out = fmt::format("{:<48} {:>10} {:>5} {:>6}\n", "file", "size", "iOS", "macOS");
  uint64_t total = 0;
  for (const OutputFile& f : r.files) {
    total += f.bytes;
    out += fmt::format("{:<48} {:>10} {:>5} {:>6}\n", f.name, HumanBytes(f.bytes),
                       f.bytes <= TargetBudgetBytes(Target::kIOS) ? "yes" : "NO",
                       f.bytes <= TargetBudgetBytes(Target::kMacOS) ? "yes" : "NO");
  }
  out += fmt::format("{:<48} {:>10}\n\n", "total", HumanBytes(total));
  double seconds = 0;
  for (const StepTiming& s : r.steps) {
    seconds += s.seconds;
    out += fmt::format("step {} {:<26} {:>8}  {}\n", s.step, s.name,
                       s.ran ? FormatDuration(s.seconds) : "-", s.note);
  }
  out += fmt::format("total time {}\n", FormatDuration(seconds));
  return out;
}

}  // namespace anec::pipeline
