// `anec convert` / `anec convert-hf`: a Hugging Face model folder (or Hub id) -> ANE-shaped Core
// ML packages in ANEMLL's layout (docs/PIPELINE.md). Both spellings of ANEMLL's and anec's flags
// are accepted (--model/--model-id, --output/--output-dir, --context/--context-length, ...).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "ane/ggml_blocks.h"
#include "ane/mlp_channel_order.h"
#include "ane/weight_source.h"
#include "base/file_system.h"
#include "calib/calibrated_conversion.h"
#include "calib/lut_bits_plan.h"
#include "cli/commands.h"
#include "cli/convert.h"
#include "cli/model_input.h"
#include "io/hub_download.h"
#include "io/prequant_source.h"
#include "model/architecture.h"
#include "model/hf_checkpoint.h"
#include "pipeline/converter.h"
#include "runtime/generation.h"
#include "runtime/llm_model.h"

namespace anec::cli {
namespace {

constexpr int kLutAuto = -1;  // ParseLut's value for "auto"

// --calibration: the text to measure the fp16 model on, or nullopt for plain k-means.
Result<std::optional<calib::CalibrationRequest>> CalibrationRequestOf(
    FileSystem* fs, const ConvertFlags& f, const pipeline::ConvertOptions& o) {
  if (f.sensitivity_tokens != 0 && o.lut_auto_budget <= 0) {
    return InvalidArgument(
        "--sensitivity-tokens {}: only --lut auto measures sensitivity; add --lut auto "
        "--lut-bits-budget B or drop the flag",
        f.sensitivity_tokens);
  }
  if (f.lut_tune_rounds < 0 || (f.lut_tune_rounds > 0 && o.lut_auto_budget <= 0)) {
    return InvalidArgument(
        "--lut-tune-rounds {}: tunes the tables --lut auto fits; give a count >= 0 with --lut "
        "auto --lut-bits-budget B, or drop the flag",
        f.lut_tune_rounds);
  }
  if (f.lut_tune_rounds > 0 && f.sensitivity_tokens > 0) {
    return InvalidArgument(
        "--lut-tune-rounds needs the loss gradients the calibration measures when "
        "--sensitivity-tokens is 0; drop one of the two");
  }
  std::string source = f.calibration;
  if (source.empty() && o.lut_auto_budget > 0) source = "default";  // auto needs a measurement
  if (source == "none" && o.lut_auto_budget > 0) {
    return InvalidArgument(
        "--lut auto chooses bits by calibrated sensitivity; drop --calibration none (or give "
        "--calibration FILE)");
  }
  if (source.empty() || source == "none") return std::optional<calib::CalibrationRequest>();
  if (o.lut.ffn == 0 && o.lut.lmhead == 0) {
    return InvalidArgument(
        "--calibration weights the LUT k-means of the FFN and LM head, but both are fp16 here; "
        "add --lut 4 or --lut 6, or drop --calibration");
  }
  if (f.calibration_tokens < 2) {
    return InvalidArgument("--calibration-tokens {}: use at least a few hundred tokens",
                           f.calibration_tokens);
  }
  calib::CalibrationRequest r;
  if (source.ends_with(".safetensors")) {
    // Statistics an earlier --calibration run stored (like llama.cpp's imatrix files).
    r.stats_file = source;
    r.text_name = source;
  } else if (source == "default") {
    r.text = std::string(calib::DefaultCalibrationText());
    r.text_name = "default calibration text";
  } else {
    auto text = fs->ReadFile(source);
    if (!text.ok()) {
      return text.status().WithContext(
          "--calibration " + source +
          " (a UTF-8 text file, 'default' for the text anec ships, a calibration.safetensors "
          "an earlier run stored, or 'none')");
    }
    r.text = std::move(*text);
    r.text_name = source;
  }
  r.options.max_tokens = f.calibration_tokens;
  if (!(f.calibration_damping >= 0)) {
    return InvalidArgument("--calibration-damping {}: must be >= 0", f.calibration_damping);
  }
  r.options.damping = f.calibration_damping;
  r.options.window = std::min<int64_t>(512, o.context);
  if (f.sensitivity_tokens < 0) {
    return InvalidArgument(
        "--sensitivity-tokens {}: give 0 (loss gradients) or a token count, e.g. 128",
        f.sensitivity_tokens);
  }
  r.options.sensitivity_tokens = o.lut_auto_budget > 0 ? f.sensitivity_tokens : 0;
  r.keep_model = r.options.sensitivity_tokens > 0 || f.lut_tune_rounds > 0;
  // --lut auto plans with loss gradients unless the block losses are measured instead.
  r.options.loss_gradients = o.lut_auto_budget > 0 && r.options.sensitivity_tokens == 0;
  return std::optional<calib::CalibrationRequest>(std::move(r));
}

// A whole-string non-negative integer, without exceptions.
std::optional<int64_t> ParseInt(const std::string& v) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return out;
}

Result<int> ParseLut(const std::string& flag, const std::string& v) {
  if (v == "none" || v == "0" || v == "no") return 0;
  if (v == "auto" && (flag == "--lut" || flag == "--lut-ffn")) return kLutAuto;
  if (auto bits = ParseInt(v);
      bits && (*bits == 1 || *bits == 2 || *bits == 3 || *bits == 4 || *bits == 6 || *bits == 8)) {
    return static_cast<int>(*bits);
  }
  const bool can_auto = flag == "--lut" || flag == "--lut-ffn";
  return InvalidArgument("{} {}: expected a number of bits (1, 2, 3, 4, 6, 8), none{}", flag, v,
                         can_auto ? " or auto (with --lut-bits-budget)" : "");
}

Result<pipeline::ConvertOptions> ToOptions(const ConvertFlags& f) {
  pipeline::ConvertOptions o;
  o.model_dir = f.model;
  o.output_dir = f.output;
  o.context = f.context;
  o.batch = f.batch;
  if (f.chunks == "auto") {
    o.chunks = 0;
  } else {
    auto n = ParseInt(f.chunks);
    if (!n || *n <= 0) {
      return InvalidArgument("--chunks {}: expected a positive number or auto", f.chunks);
    }
    o.chunks = *n;
  }
  if (f.target == "ios") {
    o.target = pipeline::Target::kIOS;
  } else if (f.target == "macos") {
    o.target = pipeline::Target::kMacOS;
  } else {
    return InvalidArgument("--target {}: expected ios or macos", f.target);
  }
  if (!(f.max_file_mb >= 0 && f.max_file_mb <= 1e9)) {  // also catches NaN
    return InvalidArgument("--max-file-mb {}: expected a size in MB (10^6 bytes), e.g. 500",
                           f.max_file_mb);
  }
  o.max_file_bytes = static_cast<uint64_t>(f.max_file_mb * 1e6 + 0.5);
  if (f.max_file_mb > 0 && o.max_file_bytes == 0) {
    return InvalidArgument("--max-file-mb {}: below one byte", f.max_file_mb);
  }
  ANEC_ASSIGN_OR_RETURN(int lut, ParseLut("--lut", f.lut));
  o.lut.ffn = lut;
  // --lut auto picks the FFN matrices' bits; the LM head keeps 6 (ANEMLL's default head): on
  // SmolLM2 a 4-bit head alone costs more perplexity than every FFN matrix at 4 bits, which no
  // per-matrix error proxy tried here predicted (docs/QUANTIZATION.md).
  o.lut.lmhead = lut == kLutAuto ? 6 : lut;
  if (!f.lut_embed.empty()) {
    ANEC_ASSIGN_OR_RETURN(o.lut.embed, ParseLut("--lut-embed", f.lut_embed));
  }
  if (!f.lut_ffn.empty()) {
    ANEC_ASSIGN_OR_RETURN(o.lut.ffn, ParseLut("--lut-ffn", f.lut_ffn));
  }
  if (!f.lut_lmhead.empty()) {
    ANEC_ASSIGN_OR_RETURN(o.lut.lmhead, ParseLut("--lut-lmhead", f.lut_lmhead));
  }
  o.lut.group = f.lut_group;
  o.lut.row_scale = f.lut_row_scale;
  const bool ffn_auto = o.lut.ffn == kLutAuto;
  if (ffn_auto) {
    if (!(f.lut_bits_budget >= 4 && f.lut_bits_budget <= 9)) {
      return InvalidArgument(
          "--lut auto needs --lut-bits-budget B: the average stored bits per FFN weight to "
          "meet, between 4 (all 4-bit) and 9 (all 8-bit, tables included), e.g. 4.5");
    }
    o.lut_auto_budget = f.lut_bits_budget;
    // Files are named, and sizes planned, at the smallest table width that covers the budget
    // (the plan only stays under it).
    const int nominal = f.lut_bits_budget <= 4 ? 4 : f.lut_bits_budget <= 6 ? 6 : 8;
    o.lut.ffn = nominal;
  } else if (f.lut_bits_budget != 0) {
    return InvalidArgument("--lut-bits-budget {}: only with --lut auto", f.lut_bits_budget);
  }
  o.prefix = f.prefix;
  o.restart = f.restart;
  o.only = f.only;
  o.skip_check = f.skip_check;
  o.architecture = f.architecture;
  o.preserve_quant = f.preserve_quant;
  o.argmax = f.argmax;
  o.residual_scale = f.residual_scale;
  if (f.kv_cache == "shared") {
    o.kv_cache = ane::KvCacheSharing::kShared;
  } else if (f.kv_cache == "per-chunk") {
    o.kv_cache = ane::KvCacheSharing::kPerChunk;
  } else {
    return InvalidArgument("--kv-cache {}: expected shared or per-chunk", f.kv_cache);
  }
  return o;
}

// Step 8: a short greedy answer from the converted folder, through the CPU runtime (which reads
// only the written files, as a Mac would).
Status AnswerTestPrompt(const std::string& dir) {
  FileSystem* fs = RealFileSystem();
  if (!fs->Exists(JoinPath(dir, "tokenizer.json"))) {
    fmt::print(stderr, "step 8: no tokenizer.json in {}; test prompt skipped\n", dir);
    return Status::Ok();
  }
  ANEC_ASSIGN_OR_RETURN(text::Tokenizer tokenizer, runtime::LoadFolderTokenizer(fs, dir));
  ANEC_ASSIGN_OR_RETURN(auto model, runtime::LlmModel::Open(fs, dir));
  runtime::ChatSession session(model.get(), &tokenizer, /*use_template=*/true);
  runtime::GenerationOptions gen;
  gen.max_tokens = 32;
  gen.sampling.temperature = 0;
  const char* prompt = "What is the capital of France?";
  std::string reply;
  ANEC_ASSIGN_OR_RETURN(
      runtime::GenerationStats stats,
      session.Reply(prompt, gen, [&](std::string_view piece) { reply += piece; }));
  fmt::print(stderr, "step 8: \"{}\" -> \"{}\" ({:.1f} tok/s decode)\n", prompt, reply,
             stats.decode_tokens_per_s());
  return Status::Ok();
}

}  // namespace

Status RunConvert(const ConvertFlags& flags, pipeline::ConvertHooks hooks) {
  FileSystem* fs = RealFileSystem();
  ANEC_ASSIGN_OR_RETURN(pipeline::ConvertOptions o, ToOptions(flags));
  // Checks that need no model, before any work.
  if (o.batch <= 0 || o.context <= 0 || o.context % o.batch != 0) {
    return InvalidArgument("--context {}: must be a positive multiple of --batch-size {}",
                           o.context, o.batch);
  }
  std::optional<std::string_view> arch;
  if (!o.architecture.empty()) {
    ANEC_RETURN_IF_ERROR(model::ParseArchitectureName(o.architecture).status());
    arch = o.architecture;
  }
  ANEC_ASSIGN_OR_RETURN(ModelInput input, OpenModelInput(fs, o.model_dir, arch));
  o.model_source = o.model_dir;
  o.model_dir = input.model_dir;  // a GGUF's config.json + tokenizer files live here
  ane::CheckpointWeights weights(&input.loaded.checkpoint);
  std::optional<ane::GgufPreservingWeights> preserving;
  std::optional<ane::PrequantPreservingWeights> prequant;
  if (flags.preserve_quant && flags.no_preserve_quant) {
    return InvalidArgument(
        "--preserve-quant and --no-preserve-quant contradict each other; "
        "give one of them");
  }
  if (input.loaded.prequant != nullptr) {
    // GPTQ / AWQ int4: carried as it is unless the user asks for the dequantized weights.
    const io::PrequantConfig& q = input.loaded.prequant->config();
    if (flags.no_preserve_quant) {
      fmt::print(stderr,
                 "plan: --no-preserve-quant: the {} int4 weights ({}) are dequantized exactly and "
                 "then converted like fp16 weights (fp16 or LUT as the LUT flags say)\n",
                 io::PrequantMethodName(q.method), q.path);
    } else {
      o.preserve_quant = true;
      prequant.emplace(&input.loaded.checkpoint, input.loaded.prequant);
      // Stored per weight: a 4-bit code, and per group of inputs an fp16 scale and a uint4 zero
      // point (group_size -1: one group per row).
      const double group = q.group_size > 0 ? static_cast<double>(q.group_size) : 4096.0;
      o.lut.ffn_carried_bits = 4.0 + 20.0 / group;
      fmt::print(
          stderr,
          "plan: {} int4 checkpoint ({}, group size {}{}): its {} quantized linears become "
          "constexpr_blockwise_shift_scale (uint4 codes, fp16 scales, uint4 zero points; "
          "fp16 zero points where a zero is 16), not re-quantized{}; LUT flags apply only "
          "to the embeddings, the LM head and other unquantized weights "
          "(--no-preserve-quant to dequantize instead)\n",
          io::PrequantMethodName(q.method), q.path, q.group_size, q.desc_act ? ", act-order" : "",
          input.loaded.prequant->QuantizedWeights().size(),
          q.desc_act ? "; act-order linears gather their columns back into input order" : "");
    }
  } else if (flags.no_preserve_quant) {
    return InvalidArgument(
        "--no-preserve-quant: --model {} is not a GPTQ/AWQ checkpoint (no "
        "quantization_config in its config.json); drop the flag",
        o.model_source);
  }
  if (o.preserve_quant && prequant == std::nullopt) {
    if (input.gguf == nullptr) {
      return InvalidArgument(
          "--preserve-quant: --model {} is neither a GGUF file nor a GPTQ/AWQ "
          "checkpoint; the flag keeps a GGUF's quantized blocks (GPTQ/AWQ "
          "int4 is kept by default), so drop it or give a .gguf file",
          o.model_source);
    }
    preserving.emplace(&input.loaded.checkpoint, input.gguf);
    // Plan at the stored size: each matrix at its own bits (matrix_bits below); the messages
    // show the layers' mean, weighted by size, and the output matrix's bits.
    double layer_bits = 0, layer_elements = 0, head_bits = 0;
    bool layer_carried = false, head_carried = false;
    // Quantized matrices that are not carried, by type: count and the first name (logged once).
    std::map<io::GgmlType, std::pair<int, std::string>> fallback;
    std::map<std::string, int> carried_types;
    for (const io::GgufTensorInfo& t : input.gguf->file().tensors()) {
      if (t.dims.size() != 2) continue;
      const double carried = ane::CarriedBitsPerWeight(t.type);
      const bool layer = t.name.rfind("blk.", 0) == 0;
      if (!layer && t.name != "output.weight") continue;
      const double converted =
          (layer ? o.lut.ffn : o.lut.lmhead) > 0 ? (layer ? o.lut.ffn : o.lut.lmhead) : 16.0;
      const double bits = carried > 0 ? carried : converted;
      if (layer) {
        const double n = static_cast<double>(t.dims[0]) * static_cast<double>(t.dims[1]);
        layer_bits += bits * n;
        layer_elements += n;
      } else {
        head_bits = bits;
      }
      (layer ? layer_carried : head_carried) |= carried > 0;
      if (carried > 0) {
        ++carried_types[fmt::format("{} {:g}", io::GgmlTypeName(t.type), carried)];
      } else if (!ane::NotCarriedReason(t.type).empty()) {
        auto& [count, first] = fallback[t.type];
        if (count++ == 0) first = t.name;
      }
    }
    if (layer_carried) o.lut.ffn_carried_bits = layer_bits / layer_elements;
    if (head_carried) o.lut.lmhead_carried_bits = head_bits;
    // Each matrix at its own stored size (0: converted at the LUT bits or fp16).
    ANEC_ASSIGN_OR_RETURN(o.lut.matrix_bits, preserving->MatrixBits(input.loaded.spec.num_layers));
    const double head_matrix_bits =
        o.lut.matrix_bits[std::make_pair(model::TensorRole::kLmHead, int64_t{0})];
    // A tied LM head reads the embedding's blocks: carried although output.weight is absent.
    if (head_matrix_bits > 0) o.lut.lmhead_carried_bits = head_matrix_bits;
    std::string kept;
    for (const auto& [type_bits, count] : carried_types) {
      kept += fmt::format("{}{} {} b/w", kept.empty() ? "" : ", ", count, type_bits);
    }
    fmt::print(stderr,
               "plan: --preserve-quant: matrices carried exactly, not re-quantized ({}; Q4_0/Q5_0/"
               "Q8_0 as constexpr_blockwise_shift_scale, Q4_1/Q2_K/Q3_K/Q4_K as per-block "
               "constexpr_lut_to_dense tables); LUT flags apply only to the embeddings and to "
               "matrices of other types\n",
               kept.empty() ? "none" : kept);
    for (const auto& [type, entry] : fallback) {
      fmt::print(stderr,
                 "plan: --preserve-quant: {} {} matrices ({}{}) are dequantized to fp16 and take "
                 "the --lut path: {} (docs/GGUF_FORMAT.md)\n",
                 entry.first, io::GgmlTypeName(type), entry.second, entry.first > 1 ? ", ..." : "",
                 ane::NotCarriedReason(type));
    }
  }
  // A LUT-palettized MLP stores its channels in range order, so each shared table covers rows of
  // similar range (ane/mlp_channel_order.h). Carried GGUF / int4 blocks stay as they are.
  std::optional<ane::MlpReorderedWeights> reordered;
  if (flags.mlp_order == "range") {
    if (o.lut.ffn != 0 && o.lut.group > 1 && !preserving && !prequant) {
      reordered.emplace(&weights, o.lut.group);
      o.mlp_channel_order = "range-v1";
    }
  } else if (flags.mlp_order != "checkpoint") {
    return InvalidArgument("--mlp-order {}: expected range or checkpoint", flags.mlp_order);
  }
  pipeline::ConversionInput in;
  in.spec = input.loaded.spec;
  in.weights = &weights;
  if (reordered) in.weights = &*reordered;
  if (preserving) in.weights = &*preserving;
  if (prequant) in.weights = &*prequant;
  in.config_json = input.config_json;
  ANEC_ASSIGN_OR_RETURN(auto calibration, CalibrationRequestOf(fs, flags, o));
  // Calibration writes into OUT/.anec-work before the conversion: hold the folder's lock from
  // there to the end (without calibration, Convert takes it after its up-front checks).
  std::unique_ptr<FileLock> lock;
  if (calibration) {
    ANEC_ASSIGN_OR_RETURN(lock, pipeline::LockOutput(fs, o.output_dir));
  }
  quant::ChannelImportance importance;
  ane::LutBitsPlan bits_plan;
  if (calibration) {
    o.calibration = calib::DescribeCalibration(*calibration);
    if (flags.lut_tune_rounds > 0) {
      o.calibration += fmt::format(", tables tuned (--lut-tune-rounds {})", flags.lut_tune_rounds);
    }
    if (calibration->options.sensitivity_tokens > 0) {
      o.calibration += fmt::format(", --lut auto measured on {} tokens",
                                   calibration->options.sensitivity_tokens);
    }
    // Only steps 2 and 3 palettize; later steps reuse their packages.
    const bool palettizes = o.only ? (o.only == 2 || o.only == 3) : o.restart <= 3;
    if (palettizes) {
      ANEC_ASSIGN_OR_RETURN(importance, calib::PrepareCalibration(fs, in, o, *calibration, stderr));
      in.importance = &importance;
      if (o.lut_auto_budget > 0) {
        if (o.preserve_quant) {
          return InvalidArgument(
              "--lut auto picks LUT bits for re-quantized matrices; --preserve-quant (or a "
              "GPTQ/AWQ checkpoint) carries them as they are: drop one of the two "
              "(--no-preserve-quant for GPTQ/AWQ)");
        }
        ANEC_ASSIGN_OR_RETURN(calib::LutBitsPlanResult plan,
                              calib::PlanLutAuto(fs, in, o, *calibration, importance, stderr));
        bits_plan = std::move(plan.plan);
        in.lut_bits = &bits_plan;
        if (flags.lut_tune_rounds > 0) {
          ANEC_RETURN_IF_ERROR(calib::TuneLutAuto(fs, in, o, *calibration, importance,
                                                  flags.lut_tune_rounds, &bits_plan, stderr));
        }
      }
    }
  }
  hooks.test_prompt = [](const std::string& dir) { return AnswerTestPrompt(dir); };
  hooks.output_locked = lock != nullptr;
  ANEC_ASSIGN_OR_RETURN(pipeline::ConversionReport report, pipeline::Convert(fs, in, o, hooks));
  fmt::print(stderr, "\n{}", pipeline::FormatReport(report));
  return Status::Ok();
}

namespace {

std::function<Status()> SetupConvert(CLI::App* sub) {
  auto f = std::make_shared<ConvertFlags>();
  sub->add_option("--model,--model-id", f->model,
                  "Hugging Face model folder, or a Hub id (downloaded into the Hub cache)")
      ->required();
  sub->add_option("--output,--output-dir", f->output, "Output folder")->required();
  sub->add_option("--context,--context-length", f->context, "Context length (KV cache rows)")
      ->capture_default_str();
  sub->add_option("--chunks,--num-chunks", f->chunks,
                  "FFN chunks: a number, or auto (smallest count whose files fit the target)")
      ->capture_default_str();
  sub->add_option("--lut,--lut-bits", f->lut,
                  "LUT bits for FFN and LM head (N or none), or auto: 4, 6 or 8 bits per FFN "
                  "matrix by calibrated sensitivity to meet --lut-bits-budget (LM head 6)")
      ->capture_default_str();
  sub->add_option("--lut-bits-budget", f->lut_bits_budget,
                  "With --lut auto: average stored bits per FFN weight (tables included), e.g. "
                  "4.5. Calibrates (--calibration default unless given)");
  sub->add_option("--lut-embed", f->lut_embed, "LUT bits for the embeddings (N or none)");
  sub->add_option("--lut-ffn", f->lut_ffn, "LUT bits for the FFN chunks (N, none or auto)");
  sub->add_option("--lut-lmhead", f->lut_lmhead, "LUT bits for the LM head (N or none)");
  sub->add_option("--lut-group", f->lut_group, "Output channels per LUT")->capture_default_str();
  sub->add_flag("--lut-row-scale", f->lut_row_scale,
                "Per-output-channel scales for the palettized FFN and LM-head matrices "
                "(coremltools' enable_per_channel_scale): each row is normalised before its "
                "LUT is fitted and a mul after the matmul scales it back. Lowers the LUT error, "
                "most at 4 bits; one fp16 per row more (docs/QUANTIZATION.md)");
  sub->add_option("--batch-size,--batch", f->batch, "Prefill batch size")->capture_default_str();
  sub->add_option(
      "--architecture", f->architecture,
      "Override the detected architecture (" + model::SupportedArchitectureNames() + ")");
  sub->add_option("--restart", f->restart, "Resume from step N (1-8), reusing earlier outputs");
  sub->add_option("--only", f->only, "Run only step N (1-8)");
  sub->add_flag("--skip-check", f->skip_check, "Skip the up-front input, disk and xcrun checks");
  sub->add_option("--prefix", f->prefix, "File name prefix (default: per architecture)");
  sub->add_option("--target", f->target, "ios (1 GB per file) or macos (2 GB)")
      ->capture_default_str();
  sub->add_option("--max-file-mb", f->max_file_mb,
                  "Per-file budget in MB (10^6 bytes) for --chunks auto instead of the target's "
                  "(1000 for ios, 2000 for macos); decimals allowed. When one layer does not fit, "
                  "chunks end after attention blocks or inside MLPs (for tests and experts)");
  sub->add_flag(
      "--preserve-quant", f->preserve_quant,
      "GGUF input: carry Q4_0/Q4_1/Q5_0/Q8_0/Q2_K/Q3_K/Q4_K weights into Core ML exactly (no "
      "re-quantization; LUT flags then apply only to the other weights). GPTQ/AWQ int4 "
      "input is always carried this way unless --no-preserve-quant");
  sub->add_flag("--no-preserve-quant", f->no_preserve_quant,
                "GPTQ/AWQ input: dequantize the int4 weights and convert them like fp16 ones "
                "(fp16 or LUT) instead of carrying the int4 groups");
  sub->add_option("--kv-cache", f->kv_cache,
                  "shared: one KV state for the whole model, as ANEMLL's runtimes expect; "
                  "per-chunk: each chunk keeps only its own layers (smaller state per model; "
                  "anec's runtime, not ANEMLL's)")
      ->capture_default_str();
  sub->add_option(
      "--residual-scale", f->residual_scale,
      "Gemma 3: carry the residual stream times this factor in (0, 1] (embedding scale "
      "and the attention/MLP output norms take it; every RMSNorm cancels it) so its "
      "activations stay inside fp16's 65504, e.g. 0.5 for gemma-3-4b-it, 0.1875 for its "
      "QAT checkpoint (docs/PARITY.md)");
  sub->add_flag("--argmax", f->argmax,
                "LM head outputs each piece's argmax (argmax_idx int32, argmax_val fp16) instead "
                "of the logits, as ANEMLL 0.3.5's --argmax (meta.yaml argmax_in_model: true): "
                "far less data per token, greedy decoding only");
  sub->add_option("--calibration", f->calibration,
                  "Weight the LUT k-means by how much each input channel matters, measured by "
                  "running the model over a text: 'default' (a text anec ships), a UTF-8 "
                  "text file, or 'none' (plain k-means, the default). Costs one forward pass of "
                  "an fp32 reference over --calibration-tokens (SmolLM2: ~5 s for 1,024; with "
                  "--lut auto a backward pass too); the measurement is kept as "
                  "OUT/.anec-work/calibration.safetensors, which --calibration also takes "
                  "(convert the same model other ways without measuring again)");
  sub->add_option("--calibration-tokens", f->calibration_tokens,
                  "Tokens of the calibration text to run (windows of up to 512)")
      ->capture_default_str();
  sub->add_option("--mlp-order", f->mlp_order,
                  "range: a LUT conversion stores each MLP's intermediate channels sorted by "
                  "their rows' range, so the LUT shared by --lut-group rows fits them better (the "
                  "same function: gate/up rows and down columns move together); checkpoint: as "
                  "the checkpoint has them")
      ->capture_default_str();
  sub->add_option("--sensitivity-tokens", f->sensitivity_tokens,
                  "With --lut auto: measure the fp16 model's response (KL divergence) to each "
                  "layer's attention and MLP at 4 bits on this many tokens of the calibration "
                  "text, one model run per block. 0 (the default): weigh each matrix's error by "
                  "the loss gradients the calibration measures (one back-propagation pass over "
                  "its tokens), which planned better on SmolLM2 (docs/QUANTIZATION.md)")
      ->capture_default_str();
  sub->add_option("--lut-tune-rounds", f->lut_tune_rounds,
                  "With --lut auto: after the k-means, move the FFN table entries to lower the "
                  "KL divergence of the palettized model from the original on the calibration "
                  "tokens, N gradient passes, each step kept only if it lowers the KL on the "
                  "next --calibration-tokens of the text. 3 lowered SmolLM2's KL on unseen text "
                  "by 4% for ~2 min more (docs/QUANTIZATION.md). 0: off")
      ->capture_default_str();
  sub->add_option("--calibration-damping", f->calibration_damping,
                  "Added to every input channel's importance, as a fraction of their mean "
                  "(keeps rarely active channels from being ignored)")
      ->capture_default_str();
  sub->footer(
      "Steps: 1 embeddings, 2 LM head, 3 FFN chunks, 4 prefill chunks, 5 combine, 6 compile,\n"
      "7 tokenizer + meta.yaml, 8 test prompt.");
  return [f] { return RunConvert(*f); };
}

const Registrar kConvert({"convert",
                          "Convert a Hugging Face model to Core ML packages for the Neural Engine",
                          SetupConvert});
const Registrar kConvertHf({"convert-hf", "Same as convert (ANEMLL-style name)", SetupConvert});

}  // namespace
}  // namespace anec::cli
