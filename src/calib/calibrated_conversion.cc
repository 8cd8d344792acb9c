#include "calib/calibrated_conversion.h"

#include <fmt/format.h>

#include <chrono>

#include "ane/lm_head_function.h"
#include "calib/activation_stats.h"
#include "calib/importance_file.h"
#include "calib/loss_gradients.h"
#include "calib/lut_table_tuning.h"
#include "io/hub_sha256.h"
#include "runtime/generation.h"
#include "runtime/llm_model.h"

namespace anec::calib {
namespace {

constexpr uint64_t kNoFileBudget = uint64_t{1} << 50;

// One line rewritten in place on a terminal, a line per 10% otherwise.
class TokenProgress {
 public:
  explicit TokenProgress(std::FILE* log) : log_(log), start_(Clock::now()), last_(start_) {}
  void Update(int64_t done, int64_t total) {
    if (log_ == nullptr) return;
    const auto now = Clock::now();
    const bool end = done == total;
    if (!end && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    const double rate = s > 0 ? static_cast<double>(done) / s : 0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    fmt::print(log_, "  calibration: {}/{} tokens ({:.0f} tok/s, ETA {:.0f} s){}", done, total,
               rate, eta, "\n");
    std::fflush(log_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* log_;
  Clock::time_point start_, last_;
};

std::string CalibrationModelDir(const pipeline::ConvertOptions& options) {
  return JoinPath(JoinPath(options.output_dir, ".anec-work"), "calibration-fp16");
}

// The fp16 model calibration measures on, converted into OUT/.anec-work/calibration-fp16.
Result<std::string> ConvertCalibrationModel(FileSystem* fs, const pipeline::ConversionInput& input,
                                            const pipeline::ConvertOptions& options,
                                            std::FILE* log) {
  pipeline::ConvertOptions fp16 = options;
  fp16.output_dir = CalibrationModelDir(options);
  fp16.lut = pipeline::LutPlan{};
  fp16.lut.group = options.lut.group;
  fp16.restart = 1;
  fp16.only = 0;
  fp16.skip_check = true;
  fp16.argmax = false;
  fp16.chunks = 0;
  fp16.max_file_bytes = kNoFileBudget;
  fp16.calibration.clear();
  fp16.lut_auto_budget = 0;
  pipeline::ConversionInput fp16_input = input;
  fp16_input.importance = nullptr;
  fp16_input.lut_bits = nullptr;
  if (log) {
    fmt::print(log, "calibration: converting the fp16 model to measure it on ({})\n",
               fp16.output_dir);
  }
  pipeline::ConvertHooks hooks;
  hooks.log = log;  // its plan and progress, under the header line above
  hooks.test_prompt_unavailable = "calibration model";
  const auto start = std::chrono::steady_clock::now();
  ANEC_RETURN_IF_ERROR(
      pipeline::Convert(fs, fp16_input, fp16, hooks)
          .status()
          .WithContext("calibration (fp16 conversion into " + fp16.output_dir + ")"));
  if (log) {
    fmt::print(log, "calibration: fp16 model ready in {:.1f} s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return fp16.output_dir;
}

// The statistics from the fp32 reference (reference_transformer.h), one pass over the tokens:
// every projection's and the LM head's input second moments, the mean next-token distribution,
// and with CalibrationOptions::loss_gradients the backward pass's gradient rows. The same
// quantities the fp16 runtime's decode steps measure (Calibrate; on SmolLM2 the column moments
// agree within 0.3%), without stepping the model token by token: 1,024 tokens of SmolLM2 took
// 30 s that way, ~4 s forward-only here (docs/QUANTIZATION.md).
Result<quant::ChannelImportance> MeasureWithReference(const pipeline::ConversionInput& input,
                                                      const CalibrationOptions& options,
                                                      std::span<const int32_t> ids,
                                                      std::string description, std::FILE* log) {
  const size_t used = std::min<size_t>(ids.size(), static_cast<size_t>(options.max_tokens));
  if (used < 2) {
    return InvalidArgument(
        "calibration text has {} tokens; give a text of at least a few hundred tokens "
        "(--calibration FILE)",
        ids.size());
  }
  if (options.damping < 0) return InvalidArgument("calibration damping must be >= 0");
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  LossGradientOptions g;
  g.window = options.window;
  g.backward = options.loss_gradients;
  const char* what = g.backward ? "forward and loss-gradient" : "forward";
  g.progress = [&](int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (log == nullptr || (done < total && now - last < std::chrono::seconds(2))) return;
    last = now;
    const double s = std::chrono::duration<double>(now - start).count();
    fmt::print(
        log, "  calibration: fp32 reference, {}/{} {} layer passes ({:.0f} s, ETA {:.0f} s)\n",
        done, total, what, s, s / static_cast<double>(done) * static_cast<double>(total - done));
    std::fflush(log);
  };
  ANEC_ASSIGN_OR_RETURN(LossGradients m,
                        MeasureLossGradients(*input.weights, input.spec, ids.first(used), g));
  if (log) {
    fmt::print(log,
               "calibration: fp32 reference over {} tokens in {:.1f} s ({} pass; mean loss {:.3f} "
               "nats per token)\n",
               m.tokens,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
               what, m.mean_loss);
  }
  quant::ChannelImportance out;
  out.description = std::move(description);
  for (const auto& [name, mean_sq] : m.columns) {
    ANEC_ASSIGN_OR_RETURN(out.columns[name], DampedImportance(name, mean_sq, options.damping));
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<float> head,
                        DampedImportance("lm_head", m.head_columns, options.damping));
  // The converter's LM head pieces (lm_head_function.h) all read the same input.
  const ane::LmHeadLayout layout = ane::LmHeadLayoutOf(input.spec);
  for (int64_t i = 0; i < layout.pieces; ++i) {
    if (layout.RealRows(i) > 0) out.columns["lm_head_" + std::to_string(i + 1)] = head;
  }
  out.lm_head_rows = std::move(m.next_token_probability);
  if (options.loss_gradients) {
    out.gradient_rows = std::move(m.rows);
    out.gradient_columns = std::move(m.columns);
  }
  return out;
}

}  // namespace

std::string DescribeCalibration(const CalibrationRequest& r) {
  if (!r.stats_file.empty()) return "stored statistics " + r.stats_file;
  return fmt::format("{} (sha256 {}), first {} tokens, window {}, damping {}{}", r.text_name,
                     io::Sha256Hex(r.text).substr(0, 16), r.options.max_tokens, r.options.window,
                     r.options.damping, r.options.loss_gradients ? ", loss gradients" : "");
}

Result<quant::ChannelImportance> PrepareCalibration(FileSystem* fs,
                                                    const pipeline::ConversionInput& input,
                                                    const pipeline::ConvertOptions& options,
                                                    const CalibrationRequest& request,
                                                    std::FILE* log) {
  const std::string description = DescribeCalibration(request);
  if (!request.stats_file.empty()) {
    ANEC_ASSIGN_OR_RETURN(quant::ChannelImportance stored,
                          ReadImportanceFile(fs, request.stats_file));
    if (log) {
      fmt::print(log, "calibration: {} weights from {} ({})\n", stored.columns.size(),
                 request.stats_file, stored.description);
    }
    if (stored.mlp_channel_order != options.mlp_channel_order) {
      auto name = [](const std::string& o) {
        return o.empty() ? std::string("the checkpoint's MLP channel order")
                         : "MLP channel order " + o;
      };
      return InvalidArgument(
          "--calibration {}: measured on a model in {}, but this conversion stores {} "
          "(down_proj's columns differ); measure again with --calibration default or a text file",
          request.stats_file, name(stored.mlp_channel_order), name(options.mlp_channel_order));
    }
    stored.description = description;
    return stored;
  }
  const std::string work = JoinPath(options.output_dir, ".anec-work");
  const std::string stats_path = JoinPath(work, "calibration.safetensors");
  if (options.restart > 1 && fs->Exists(stats_path)) {
    auto stored = ReadImportanceFile(fs, stats_path);
    if (stored.ok() && stored->description == description &&
        stored->mlp_channel_order == options.mlp_channel_order) {
      if (log) fmt::print(log, "calibration: reusing {} ({})\n", stats_path, description);
      return stored;
    }
    if (log)
      fmt::print(log, "calibration: {} is from other settings; measuring again\n", stats_path);
  }

  ANEC_ASSIGN_OR_RETURN(const std::string model_dir,
                        ConvertCalibrationModel(fs, input, options, log));
  ANEC_ASSIGN_OR_RETURN(text::Tokenizer tokenizer, runtime::LoadFolderTokenizer(fs, model_dir));
  const std::vector<int32_t> ids = tokenizer.Encode(request.text, /*add_special_tokens=*/false);
  if (log) {
    fmt::print(log, "calibration: {} tokens of {} ({} used)\n", ids.size(), request.text_name,
               std::min<int64_t>(static_cast<int64_t>(ids.size()), request.options.max_tokens));
  }
  Result<quant::ChannelImportance> importance = Internal("calibration: not measured");
  if (Status s = CheckLossGradientsSupported(input.spec); s.ok()) {
    importance = MeasureWithReference(input, request.options, ids, description, log);
  } else {
    // A model the fp32 reference does not cover: its fp16 conversion, stepped token by token.
    if (log) fmt::print(log, "calibration: by the fp16 model's decode steps ({})\n", s.message());
    ANEC_ASSIGN_OR_RETURN(auto model, runtime::LlmModel::Open(fs, model_dir));
    TokenProgress progress(log);
    CalibrationOptions copts = request.options;
    copts.progress = [&](int64_t done, int64_t total) { progress.Update(done, total); };
    importance = Calibrate(model.get(), ids, copts, description);
    model.reset();
  }
  if (!importance.ok())
    return importance.status().WithContext("calibration with " + request.text_name);
  importance->mlp_channel_order = options.mlp_channel_order;
  ANEC_RETURN_IF_ERROR(WriteImportanceFile(fs, stats_path, *importance));
  if (!request.keep_model) ANEC_RETURN_IF_ERROR(fs->RemoveAll(model_dir));
  if (log) {
    fmt::print(log, "calibration: {} weights measured -> {}\n", importance->columns.size(),
               stats_path);
  }
  return importance;
}

Result<LutBitsPlanResult> PlanLutAuto(FileSystem* fs, const pipeline::ConversionInput& input,
                                      const pipeline::ConvertOptions& options,
                                      const CalibrationRequest& request,
                                      const quant::ChannelImportance& importance, std::FILE* log) {
  const int64_t n = request.options.sensitivity_tokens;
  if (n <= 0) {
    return PlanLutBits(*input.weights, input.spec, importance, options.lut_auto_budget,
                       options.lut.group, options.lut.row_scale, log);
  }
  std::string model_dir = CalibrationModelDir(options);
  if (!fs->Exists(JoinPath(model_dir, "meta.yaml"))) {
    ANEC_ASSIGN_OR_RETURN(model_dir, ConvertCalibrationModel(fs, input, options, log));
  }
  ANEC_ASSIGN_OR_RETURN(text::Tokenizer tokenizer, runtime::LoadFolderTokenizer(fs, model_dir));
  ANEC_ASSIGN_OR_RETURN(auto model, runtime::LlmModel::Open(fs, model_dir));
  const bool has_text = !request.text.empty();
  std::vector<int32_t> ids =
      tokenizer.Encode(has_text ? request.text : std::string(DefaultCalibrationText()), false);
  const int64_t used = std::min<int64_t>(
      {n, static_cast<int64_t>(ids.size()), static_cast<int64_t>(model->context_length())});
  ids.resize(static_cast<size_t>(std::max<int64_t>(used, 0)));
  if (log) {
    fmt::print(log,
               "--lut auto: measuring the model's response to each block at 4 bits on {} tokens "
               "of {} (--sensitivity-tokens)\n",
               ids.size(), has_text ? request.text_name : "the default calibration text");
  }
  const auto start = std::chrono::steady_clock::now();
  ANEC_ASSIGN_OR_RETURN(LossProbe probe, LossProbe::Create(model.get(), std::move(ids)));
  auto plan =
      PlanLutBits(*input.weights, input.spec, importance, options.lut_auto_budget,
                  options.lut.group, options.lut.row_scale, log,
                  [&](std::span<const WeightDelta> deltas) { return probe.MeanKl(deltas); });
  model.reset();
  if (!plan.ok()) return plan.status().WithContext("--lut auto on " + model_dir);
  ANEC_RETURN_IF_ERROR(fs->RemoveAll(model_dir));
  if (log) {
    fmt::print(log, "--lut auto: plan made in {:.1f} s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return plan;
}

Status TuneLutAuto(FileSystem* fs, const pipeline::ConversionInput& input,
                   const pipeline::ConvertOptions& options, const CalibrationRequest& request,
                   const quant::ChannelImportance& importance, int rounds, ane::LutBitsPlan* plan,
                   std::FILE* log) {
  std::string model_dir = CalibrationModelDir(options);
  if (!fs->Exists(JoinPath(model_dir, "meta.yaml"))) {
    ANEC_ASSIGN_OR_RETURN(model_dir, ConvertCalibrationModel(fs, input, options, log));
  }
  ANEC_ASSIGN_OR_RETURN(text::Tokenizer tokenizer, runtime::LoadFolderTokenizer(fs, model_dir));
  const bool has_text = !request.text.empty();
  std::vector<int32_t> ids =
      tokenizer.Encode(has_text ? request.text : std::string(DefaultCalibrationText()), false);
  // The tokens calibration measured on, then as many again (when the text has them) to judge
  // each step on tokens it was not fitted to.
  const size_t used = std::min(ids.size(), static_cast<size_t>(request.options.max_tokens));
  const size_t held = std::min(ids.size() - used, used);
  const std::span<const int32_t> all(ids);
  LutTableTuningOptions topts;
  topts.rounds = rounds;
  topts.window = request.options.window;
  auto report = TuneLutTables(*input.weights, input.spec, importance, all.first(used),
                              all.subspan(used, held), options.lut.group, plan, topts, log);
  if (!report.ok()) return report.status().WithContext("--lut-tune-rounds");
  ANEC_RETURN_IF_ERROR(fs->RemoveAll(model_dir));
  if (log) {
    fmt::print(log, "table tuning: {} matrices, kept round {} (mean KL {:.5f} -> {:.5f})\n",
               report->matrices, report->best_round,
               report->mean_kl.empty() ? 0.0 : report->mean_kl.front(),
               report->mean_kl.empty() ? 0.0 : report->mean_kl[report->best_round]);
  }
  return Status::Ok();
}

}  // namespace anec::calib
