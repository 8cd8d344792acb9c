#include "anemll_rules.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace anec::contract {

Result<DriveRules> RulesFor(AnemllRuntime runtime, const MetaParams& meta, bool compiled) {
  DriveRules r;
  r.runtime = runtime;
  const bool swift = IsSwift(runtime);
  // Context and batch: Python parse_args takes context_length / batch_size from meta.yaml
  // (required keys) and they override the package metadata in main / load_metadata; the Swift
  // CLI YAMLConfig.load defaults them to 2048 / 32.
  std::optional<int64_t> ctx = meta.Int("context_length");
  std::optional<int64_t> batch = meta.Int("batch_size");
  if (!swift && (!ctx || !batch)) {
    return InvalidArgument("{}: meta.yaml needs integer context_length and batch_size",
                           RuntimeName(runtime));
  }
  r.context = static_cast<int>(ctx.value_or(2048));
  r.batch = static_cast<int>(batch.value_or(32));
  // split_lm_head: meta.yaml, default 8 (chat.py / chat_full.py parse_args; YAMLConfig.load).
  r.split_lm_head = static_cast<int>(meta.Int("split_lm_head").value_or(8));
  r.lm_head_chunk_sizes = meta.IntList("lm_head_chunk_sizes");
  r.vocab_size = meta.Int("vocab_size");
  r.architecture_or_prefix = meta.Get("model_prefix").value_or("llama");
  const bool dynamic_prefill = meta.Bool("update_mask_prefill").value_or(false) ||
                               meta.Bool("prefill_dynamic_slice").value_or(false);
  switch (runtime) {
    case AnemllRuntime::kChatPy034:
    case AnemllRuntime::kChatFullPy034:
      // run_prefill: batches over every prompt token, padded with 0 (F.pad); generate_next_token
      // feeds `update_mask` [1,1,C,1] (1 at pos-1) to every infer call.
      r.prefill = PrefillMode::kPaddedBatches;
      r.infer_feeds_update_mask = true;
      r.logits = LogitsRule::kConcat;
      r.argmax = ArgmaxRule::kNone;  // only logits1.. or output_logits are read
      break;
    case AnemllRuntime::kChatPy035:
    case AnemllRuntime::kChatFullPy035:
      // chat_loop: without update_mask_prefill or prefill_dynamic_slice in meta.yaml the prompt
      // goes token by token through infer ("single_token_mode"); with one of them run_prefill
      // sends full batches to prefill and the rest to infer. update_mask is added to infer
      // only when the function declares it.
      r.prefill = dynamic_prefill ? PrefillMode::kFullBatchesThenInfer : PrefillMode::kInferOnly;
      r.logits = LogitsRule::kConcat;
      r.argmax =
          runtime == AnemllRuntime::kChatPy035 ? ArgmaxRule::kPython : ArgmaxRule::kPythonClamped;
      r.argmax_in_model = meta.Bool("argmax_in_model").value_or(false);
      // chat.py 0.3.5 main: the chunked path has no 'architecture' in its metadata, so the
      // architecture fallback of _resolve_argmax_chunk_layout never applies.
      r.architecture_or_prefix.clear();
      break;
    case AnemllRuntime::kSwiftCli034:
      // InferenceManager.runPrefill: batches over every prompt token (the unused tail of the
      // input array is left as allocated: zeros). generateNextToken builds the mask with
      // getCausalMask(for: 1, at: currentPos) while position_ids = currentPos - 1: the query
      // at p sees columns 0..p+1.
      r.prefill = PrefillMode::kPaddedBatches;
      r.infer_mask_lookahead = 1;
      r.logits = LogitsRule::kSwiftOffsets;
      r.argmax = ArgmaxRule::kNone;  // initializeLMHeadOutputBackings needs logits1..K
      r.reset_state_on_shift = true;
      break;
    case AnemllRuntime::kSwiftCli035:
      // runPrefill: full batches through prefill, the rest through generateNextToken (infer and
      // the LM head, result dropped); getCausalMask(for: 1, at: currentPos - 1).
      r.prefill = PrefillMode::kFullBatchesThenInfer;
      r.logits = LogitsRule::kSwiftOffsets;
      r.argmax = ArgmaxRule::kSwift;
      r.argmax_in_model = meta.Bool("argmax_in_model").value_or(false);
      r.reset_state_on_shift = true;
      break;
  }
  r.rejects_undeclared_inputs = !swift && !compiled;
  // anemllcli.swift: v110 = (config version == "0.1.1").
  r.version_is_v110 = swift && meta.version == "0.1.1";
  return r;
}

std::vector<float> CausalMaskRow(int context, int pos, int lookahead) {
  // make_causal_mask (chat*.py): -inf, 0 where column <= row; Swift initFullCausalMask /
  // getCausalMask: the same with the row at the position passed (clamped to context - 1).
  std::vector<float> row(static_cast<size_t>(context), -std::numeric_limits<float>::infinity());
  const int last = std::min(pos + lookahead, context - 1);
  for (int j = 0; j <= last; ++j) row[static_cast<size_t>(j)] = 0.0f;
  return row;
}

int ShiftKeep(int context, int batch) {
  const int batches = std::max(1, context / batch - 2);
  return std::min(batches * batch, context - batch);
}

int64_t ConcatArgmax(const std::vector<std::vector<float>>& pieces) {
  // torch.cat(logits1..K, dim=-1) then torch.argmax: the first maximum over the whole row.
  int64_t best = -1, at = 0;
  float best_v = -std::numeric_limits<float>::infinity();
  for (const auto& p : pieces) {
    for (float v : p) {
      if (best < 0 || v > best_v) {
        best = at;
        best_v = v;
      }
      ++at;
    }
  }
  return best;
}

int64_t SwiftOffsetArgmax(const std::vector<std::vector<float>>& pieces) {
  // generateNextToken (GreedySearch): piece i (1-based) scans j from 0 with `value > max`
  // starting at -inf, index (i-1) * count(piece i) + j; the pieces' results are reduced with
  // `next.value > current.value`, starting from (-inf, 0) in piece order.
  int64_t best_index = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int64_t offset = static_cast<int64_t>(i) * static_cast<int64_t>(pieces[i].size());
    float local_max = -std::numeric_limits<float>::infinity();
    int64_t local_index = 0;
    for (size_t j = 0; j < pieces[i].size(); ++j) {
      if (pieces[i][j] > local_max) {
        local_max = pieces[i][j];
        local_index = offset + static_cast<int64_t>(j);
      }
    }
    if (local_max > best_value) {
      best_value = local_max;
      best_index = local_index;
    }
  }
  return best_index;
}

namespace {

ArgmaxLayout FromSizes(std::vector<int64_t> sizes) {
  ArgmaxLayout l;
  int64_t run = 0;
  for (int64_t s : sizes) {
    l.offsets.push_back(run);
    run += s;
  }
  l.sizes = std::move(sizes);
  return l;
}

std::vector<int64_t> Spread(int64_t vocab, int64_t pieces, bool at_least_one) {
  // divmod(vocab, pieces): the first `rem` pieces get one more row.
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < pieces; ++i) {
    int64_t s = vocab / pieces + (i < vocab % pieces ? 1 : 0);
    sizes.push_back(at_least_one ? std::max<int64_t>(s, 1) : s);
  }
  return sizes;
}

int64_t FallbackVocab(const std::string& name) {
  // Both resolvers: gemma* 262144, qwen* 151936, llama* 128257.
  if (name.rfind("gemma", 0) == 0) return 262144;
  if (name.rfind("qwen", 0) == 0) return 151936;
  if (name.rfind("llama", 0) == 0) return 128257;
  return 0;
}

}  // namespace

ArgmaxLayout PythonArgmaxLayout(const DriveRules& r, int64_t pieces,
                                std::span<const int32_t> local_idx) {
  // 1. lm_head_chunk_sizes with one positive entry per piece; 2. vocab_size spread by divmod;
  // 3. the architecture's default vocabulary spread the same way; 4. max(local) + 1 for all.
  if (r.lm_head_chunk_sizes && static_cast<int64_t>(r.lm_head_chunk_sizes->size()) == pieces &&
      std::all_of(r.lm_head_chunk_sizes->begin(), r.lm_head_chunk_sizes->end(),
                  [](int64_t v) { return v > 0; })) {
    return FromSizes(*r.lm_head_chunk_sizes);
  }
  if (r.vocab_size && *r.vocab_size > 0 && pieces > 0) {
    return FromSizes(Spread(*r.vocab_size, pieces, false));
  }
  const int64_t fallback = FallbackVocab(r.architecture_or_prefix);
  if (fallback > 0 && pieces > 0) return FromSizes(Spread(fallback, pieces, false));
  int64_t inferred = 1;
  for (int32_t v : local_idx) inferred = std::max<int64_t>(inferred, v + 1);
  return FromSizes(
      std::vector<int64_t>(static_cast<size_t>(std::max<int64_t>(pieces, 1)), inferred));
}

ArgmaxLayout SwiftArgmaxLayout(const DriveRules& r, int64_t pieces,
                               std::span<const int32_t> local_idx) {
  // The same order as Python, sizes at least 1; the fallback vocabulary keys on model_prefix;
  // the last resort uses max(local) + 1, or 16384 for 16 pieces / 32768 for 8 if that is <= 1.
  const int64_t n = std::max<int64_t>(pieces, 1);
  if (r.lm_head_chunk_sizes && static_cast<int64_t>(r.lm_head_chunk_sizes->size()) == n &&
      std::all_of(r.lm_head_chunk_sizes->begin(), r.lm_head_chunk_sizes->end(),
                  [](int64_t v) { return v > 0; })) {
    return FromSizes(*r.lm_head_chunk_sizes);
  }
  if (r.vocab_size && *r.vocab_size > 0) return FromSizes(Spread(*r.vocab_size, n, true));
  const int64_t fallback = FallbackVocab(r.architecture_or_prefix);
  if (fallback > 0) return FromSizes(Spread(fallback, n, true));
  int64_t inferred = 1;
  for (size_t i = 0; i < local_idx.size() && static_cast<int64_t>(i) < n; ++i) {
    inferred = std::max<int64_t>(inferred, local_idx[i] + 1);
  }
  if (inferred <= 1) inferred = n == 16 ? 16384 : n == 8 ? 32768 : inferred;
  return FromSizes(std::vector<int64_t>(static_cast<size_t>(n), inferred));
}

int64_t ArgmaxInModelToken(const DriveRules& r, std::span<const int32_t> local_idx,
                           std::span<const float> values) {
  // Python: best = np.argmax(argmax_val) (first maximum); Swift: scan with `val > best`
  // from -inf (also the first maximum). Token = local index + the piece's offset.
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    if (values[i] > values[best]) best = i;
  }
  const int64_t pieces = static_cast<int64_t>(local_idx.size());
  const ArgmaxLayout layout = r.argmax == ArgmaxRule::kSwift
                                  ? SwiftArgmaxLayout(r, pieces, local_idx)
                                  : PythonArgmaxLayout(r, pieces, local_idx);
  int64_t local = local_idx[best];
  if (r.argmax == ArgmaxRule::kPythonClamped && best < layout.sizes.size()) {
    // chat_full.py 0.3.5 generate_next_token: local clamped into [0, size - 1].
    local = std::clamp<int64_t>(local, 0, layout.sizes[best] - 1);
  }
  return local + layout.offsets[std::min(best, layout.offsets.size() - 1)];
}

}  // namespace anec::contract
