#include "pipeline/convert_options.h"

#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>

namespace anec::pipeline {

namespace {

bool ValidLut(int b) { return b == 0 || b == 1 || b == 2 || b == 3 || b == 4 || b == 6 || b == 8; }

std::string LutSuffix(int bits) { return bits > 0 ? fmt::format("_lut{}", bits) : ""; }

}  // namespace

Status ValidateOptions(const ConvertOptions& o, const model::ModelSpec& spec) {
  if (o.batch <= 0) return InvalidArgument("--batch-size {}: must be positive (e.g. 64)", o.batch);
  if (o.context <= 0 || o.context % o.batch != 0) {
    return InvalidArgument(
        "--context {}: must be a positive multiple of --batch-size {} (prefill writes the KV "
        "cache {} rows at a time); try --context {}",
        o.context, o.batch, o.batch, std::max<int64_t>(o.batch, (o.context / o.batch) * o.batch));
  }
  if (o.chunks < 0)
    return InvalidArgument("--chunks {}: must be a positive number or auto", o.chunks);
  if (o.chunks > spec.num_layers) {
    return InvalidArgument("--chunks {}: the model has only {} layers; use at most {} chunks",
                           o.chunks, spec.num_layers, spec.num_layers);
  }
  for (auto [flag, bits] :
       {std::pair{"--lut-embed", o.lut.embed}, std::pair{"--lut-ffn", o.lut.ffn},
        std::pair{"--lut-lmhead", o.lut.lmhead}}) {
    if (!ValidLut(bits)) {
      return InvalidArgument("{} {}: LUT bits must be 1, 2, 3, 4, 6, 8 or none", flag, bits);
    }
  }
  if (o.lut.group <= 0) return InvalidArgument("--lut-group {}: must be positive", o.lut.group);
  if (o.lut.row_scale && o.lut.ffn == 0 && o.lut.lmhead == 0) {
    return InvalidArgument(
        "--lut-row-scale: the FFN and the LM head are both fp16, so no matrix gets row scales; "
        "add --lut N (e.g. --lut 6) or drop --lut-row-scale");
  }
  if (o.restart < 1 || o.restart > kNumSteps) {
    return InvalidArgument("--restart {}: steps are numbered 1..{}", o.restart, kNumSteps);
  }
  if (o.only < 0 || o.only > kNumSteps) {
    return InvalidArgument("--only {}: steps are numbered 1..{}", o.only, kNumSteps);
  }
  if (o.only != 0 && o.restart != 1) {
    return InvalidArgument("--only and --restart cannot be combined; pick one");
  }
  const std::string& p = o.prefix;
  for (char ch : p) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')) {
      return InvalidArgument("--prefix '{}': use letters, digits, '_' or '-' only", p);
    }
  }
  if (o.residual_scale != 0 && !(o.residual_scale > 0 && o.residual_scale <= 1)) {
    return InvalidArgument("--residual-scale {}: expected a factor in (0, 1], e.g. 0.25",
                           o.residual_scale);
  }
  if (o.residual_scale != 0 && o.residual_scale != 1 && !spec.sandwich_norms) {
    return InvalidArgument(
        "--residual-scale {}: only models that normalize their attention and MLP outputs (Gemma 3) "
        "can carry a scaled residual stream; {} cannot",
        o.residual_scale, model::ArchitectureName(spec.architecture));
  }
  if (o.max_file_bytes != 0 && o.chunks != 0) {
    return InvalidArgument(
        "--max-file-mb plans the chunks itself; it cannot be combined with --chunks {} (use "
        "--chunks auto)",
        o.chunks);
  }
  if (o.output_dir.empty()) return InvalidArgument("--output: an output folder is required");
  return Status::Ok();
}

FileBudget BudgetOf(const ConvertOptions& o) {
  if (o.max_file_bytes == 0) return TargetBudget(o.target);
  return {o.max_file_bytes, fmt::format("from --max-file-mb {}", o.max_file_bytes / 1e6)};
}

std::string FileNames::Chunk(int64_t k) const {
  return fmt::format("{}_chunk_{:02d}of{:02d}.mlpackage", ffn_base, k, chunks);
}
std::string FileNames::InferChunk(int64_t k) const {
  return fmt::format("{}_FFN{}_chunk_{:02d}of{:02d}.mlpackage", prefix, ffn_lut_suffix, k, chunks);
}
std::string FileNames::PrefillChunk(int64_t k) const {
  return fmt::format("{}_prefill{}_chunk_{:02d}of{:02d}.mlmodel", prefix, ffn_lut_suffix, k,
                     chunks);
}

FileNames MakeFileNames(const std::string& prefix, const LutPlan& lut, int64_t chunks) {
  FileNames n;
  n.prefix = prefix;
  n.chunks = chunks;
  n.ffn_lut_suffix = LutSuffix(lut.ffn);
  n.embeddings = fmt::format("{}_embeddings{}.mlpackage", prefix, LutSuffix(lut.embed));
  n.lm_head = fmt::format("{}_lm_head{}.mlpackage", prefix, LutSuffix(lut.lmhead));
  n.ffn_base = fmt::format("{}_FFN_PF{}", prefix, n.ffn_lut_suffix);
  return n;
}

std::string OptionsFingerprint(const ConvertOptions& o, const model::ModelSpec& spec,
                               int64_t resolved_chunks, const std::string& config_json,
                               const std::string& split_plan) {
  nlohmann::ordered_json j;
  j["format"] = 1;
  j["model_dir"] = o.model_source.empty() ? o.model_dir : o.model_source;
  j["config_json"] = config_json;
  j["architecture"] = std::string(model::ArchitectureName(spec.architecture));
  j["layers"] = spec.num_layers;
  j["hidden"] = spec.hidden_size;
  j["vocab"] = spec.vocab_size;
  j["context"] = o.context;
  j["batch"] = o.batch;
  j["chunks"] = resolved_chunks;
  j["lut"] = {o.lut.embed, o.lut.ffn, o.lut.lmhead, o.lut.group};
  if (o.lut.ffn_carried_bits > 0) j["ffn_carried_bits"] = o.lut.ffn_carried_bits;
  if (o.lut.lmhead_carried_bits > 0) j["lmhead_carried_bits"] = o.lut.lmhead_carried_bits;
  j["prefix"] = o.prefix;
  if (o.preserve_quant) j["preserve_quant"] = true;
  if (o.lut.row_scale)
    j["lut_row_scale"] = true;  // absent when off: older work folders match  // absent when off:
                                // older work folders match
  if (o.kv_cache == ane::KvCacheSharing::kPerChunk) j["kv_cache"] = "per-chunk";   // likewise
  if (!o.calibration.empty()) j["calibration"] = o.calibration;                    // likewise
  if (!o.mlp_channel_order.empty()) j["mlp_channel_order"] = o.mlp_channel_order;  // likewise
  if (o.lut_auto_budget > 0) {                                                     // likewise
    j["lut_auto_budget"] = o.lut_auto_budget;
  }
  if (o.argmax) j["argmax"] = true;                                   // likewise
  if (o.residual_scale != 0) j["residual_scale"] = o.residual_scale;  // likewise
  if (o.max_file_bytes) j["max_file_bytes"] = o.max_file_bytes;       // likewise
  if (!split_plan.empty()) j["split_plan"] = split_plan;
  return j.dump(1);
}

}  // namespace anec::pipeline
