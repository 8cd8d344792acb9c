#include "runtime/llm_model.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <regex>

#include "coreml/package.h"

namespace anec::runtime {
namespace {

// The default bound on the KV-cache states: more than the machine has can only fail later.
uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

const CompiledFunction* DefaultFunction(const Program& p) {
  const std::string& d = p.description().defaultfunctionname();
  if (!d.empty() && p.Find(d) != nullptr) return p.Find(d);
  if (p.Find("main") != nullptr) return p.Find("main");
  std::vector<std::string> names = p.function_names();
  return names.size() == 1 ? p.Find(names[0]) : nullptr;
}

const ValueSpec* FirstTensorInput(const CompiledFunction& fn) {
  for (const ValueSpec& v : fn.inputs) {
    if (!v.is_state) return &v;
  }
  return nullptr;
}

// Chunk inputs the runtime makes itself; any other input X is carried from the previous chunk's
// output `output_X` (e.g. mlp_input when a plan splits an MLP across files).
bool IsStandardChunkInput(const std::string& name) {
  return name == "hidden_states" || name == "position_ids" || name == "causal_mask" ||
         name == "current_pos" || name == "local_causal_mask";
}

// Checks that every carried input of `fn` has its `output_X` in `prev` (the previous chunk's
// function of the same kind; null for the first chunk).
Status CheckCarriedInputs(const CompiledFunction& fn, const CompiledFunction* prev) {
  for (const ValueSpec& spec : fn.inputs) {
    if (spec.is_state || IsStandardChunkInput(spec.name)) continue;
    const std::string want = "output_" + spec.name;
    if (prev != nullptr && std::find(prev->output_names.begin(), prev->output_names.end(), want) !=
                               prev->output_names.end()) {
      continue;
    }
    return InvalidArgument(
        "{}: function '{}' input '{}' is not one of hidden_states, position_ids, causal_mask, "
        "current_pos, local_causal_mask, and {} has no output '{}' to feed it; the chunks do not "
        "belong together "
        "(reconvert the model)",
        fn.package, fn.name, spec.name,
        prev ? fmt::format("the previous chunk {}", prev->package) : "no previous chunk", want);
  }
  return Status::Ok();
}

// Adds `fn`'s carried inputs from `prev_out`, the previous chunk's outputs.
Status AddCarriedInputs(const CompiledFunction& fn, const NamedTensors& prev_out,
                        NamedTensors* in) {
  for (const ValueSpec& spec : fn.inputs) {
    if (spec.is_state || IsStandardChunkInput(spec.name)) continue;
    auto it = prev_out.find("output_" + spec.name);
    if (it == prev_out.end()) {
      return InvalidArgument("{}: function '{}' input '{}' needs output_{} of the previous chunk",
                             fn.package, fn.name, spec.name, spec.name);
    }
    (*in)[spec.name] = it->second;
  }
  return Status::Ok();
}

std::string OutputNamed(const CompiledFunction& fn, std::string_view preferred) {
  for (const std::string& n : fn.output_names) {
    if (n == preferred) return n;
  }
  return fn.output_names.empty() ? std::string() : fn.output_names[0];
}

// A window from the package metadata `key` (a positive integer), into *out when present.
Status ReadWindow(const Program& program, const std::string& key, int* out) {
  const auto& meta = program.description().metadata().userdefined();
  auto it = meta.find(key);
  if (it == meta.end()) return Status::Ok();
  int w = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), w);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || w <= 0) {
    return InvalidArgument("{}: metadata {} '{}' is not a positive integer", program.name(), key,
                           it->second);
  }
  *out = w;
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const Program>> LoadPackageProgram(FileSystem* fs, const std::string& path) {
  ANEC_ASSIGN_OR_RETURN(coreml::Package pkg, coreml::Package::Open(fs, path));
  auto keep = std::make_shared<coreml::Package>(std::move(pkg));
  ValueSource src;
  src.weights = keep->weights();
  src.keep_alive = keep;
  return Program::Load(keep->model(), src, Basename(path));
}

Result<std::unique_ptr<LlmModel>> LlmModel::Open(FileSystem* fs, const std::string& dir,
                                                 ThreadPool* pool, uint64_t max_state_bytes) {
  std::string meta_path = JoinPath(dir, "meta.yaml");
  auto text = fs->ReadFile(meta_path);
  if (!text.ok()) {
    return NotFound(
        "{}: no meta.yaml; --model-path must be a folder written by `anec convert` "
        "(or ANEMLL)",
        dir);
  }
  ANEC_ASSIGN_OR_RETURN(ModelFolderConfig config, ParseMetaYaml(*text, meta_path));
  ANEC_ASSIGN_OR_RETURN(ModelFiles files, LocateModelFiles(fs, dir, config));
  ANEC_ASSIGN_OR_RETURN(auto embeddings, LoadPackageProgram(fs, files.embeddings));
  ANEC_ASSIGN_OR_RETURN(auto lm_head, LoadPackageProgram(fs, files.lm_head));
  std::vector<std::shared_ptr<const Program>> chunks;
  for (const std::string& c : files.chunks) {
    ANEC_ASSIGN_OR_RETURN(auto chunk, LoadPackageProgram(fs, c));
    chunks.push_back(std::move(chunk));
  }
  return FromPrograms(std::move(config), std::move(embeddings), std::move(chunks),
                      std::move(lm_head), pool, max_state_bytes);
}

Result<std::unique_ptr<LlmModel>> LlmModel::FromPrograms(
    ModelFolderConfig config, std::shared_ptr<const Program> embeddings,
    std::vector<std::shared_ptr<const Program>> chunks, std::shared_ptr<const Program> lm_head,
    ThreadPool* pool, uint64_t max_state_bytes) {
  std::unique_ptr<LlmModel> m(new LlmModel());
  m->config_ = std::move(config);
  m->pool_ = pool ? pool : DefaultThreadPool();
  m->max_state_bytes_ = max_state_bytes ? max_state_bytes : PhysicalMemoryBytes();
  m->embeddings_ = std::move(embeddings);
  m->lm_head_ = std::move(lm_head);
  for (auto& p : chunks) m->chunks_.push_back(Chunk{std::move(p), nullptr, nullptr, {}});
  ANEC_RETURN_IF_ERROR(m->Init());
  return m;
}

// A package declaring a state of [2^20, 1, 2^20, 2] made opening the folder allocate two
// terabytes (tests/fuzz/regressions/model_folder/huge_state). Sizes are summed with overflow
// checks before PrepareStates allocates.
Status LlmModel::CheckStateSizes(const CompiledFunction& fn) {
  for (const ValueSpec& in : fn.inputs) {
    if (!in.is_state || states_.count(in.name)) continue;
    uint64_t bytes = ElementSize(in.dtype);
    bool overflow = false;
    for (int64_t d : in.dims) {
      if (d < 0) continue;  // PrepareStates rejects unknown dimensions
      const auto u = static_cast<uint64_t>(d);
      if (u != 0 && bytes > std::numeric_limits<uint64_t>::max() / u) overflow = true;
      bytes *= u;
    }
    if (!overflow && bytes <= max_state_bytes_ - std::min(state_bytes_, max_state_bytes_)) {
      state_bytes_ += bytes;
      continue;
    }
    return InvalidArgument(
        "{}: function '{}' declares state '{}' as {}, which with the states before it needs "
        "more than the {} bytes the KV cache may use (by default this machine's memory); the "
        "package is damaged or was converted for a larger context than this machine can hold",
        fn.package, fn.name, in.name, in.TypeString(), max_state_bytes_);
  }
  return Status::Ok();
}

Status LlmModel::Init() {
  if (chunks_.empty()) return InvalidArgument("a model needs at least one FFN chunk");
  embed_fn_ = DefaultFunction(*embeddings_);
  if (embed_fn_ == nullptr) return InvalidArgument("{}: no default function", embeddings_->name());
  const ValueSpec* ids = FirstTensorInput(*embed_fn_);
  if (ids == nullptr || ids->dtype != DType::kInt32 || ids->dims.size() != 2) {
    return InvalidArgument("{}: expected an int32 [1, S] input (input_ids), found {}",
                           embeddings_->name(), ids ? ids->TypeString() : "none");
  }
  embed_input_ = ids->name;
  embed_seq_ = ids->dims[1];
  embed_output_ = OutputNamed(*embed_fn_, "hidden_states");

  context_ = config_.context_length;
  batch_ = config_.batch_size;
  for (Chunk& c : chunks_) {
    c.infer = c.program->Find("infer") ? c.program->Find("infer") : DefaultFunction(*c.program);
    c.prefill = c.program->Find("prefill");
    if (c.infer == nullptr) return InvalidArgument("{}: no 'infer' function", c.program->name());
    c.output = OutputNamed(*c.infer, "output_hidden_states");
    const ValueSpec* h = c.infer->FindInput("hidden_states");
    const ValueSpec* mask = c.infer->FindInput("causal_mask");
    if (h == nullptr || h->dims.empty() || h->dims.back() <= 0) {
      return InvalidArgument("{}: function '{}' needs a hidden_states input [1, 1, H]",
                             c.program->name(), c.infer->name);
    }
    if (hidden_ == 0) hidden_ = h->dims.back();
    if (h->dims.back() != hidden_) {
      return InvalidArgument("{}: hidden size {} differs from the first chunk's {}",
                             c.program->name(), h->dims.back(), hidden_);
    }
    const int rows = mask != nullptr && !mask->dims.empty() && mask->dims.back() > 0
                         ? static_cast<int>(mask->dims.back())
                         : context_;
    if (rows > context_ || (cache_rows_ != 0 && rows != cache_rows_)) {
      return InvalidArgument(
          "{}: causal_mask has {} columns; expected meta.yaml's context_length {}, or one ring "
          "size shared by every chunk{}",
          c.program->name(), rows, context_,
          cache_rows_ ? fmt::format(" (the first chunk has {})", cache_rows_) : "");
    }
    cache_rows_ = rows;
    ANEC_RETURN_IF_ERROR(ReadWindow(*c.program, "com.anec.sliding_window", &window_));
    ANEC_RETURN_IF_ERROR(ReadWindow(*c.program, "com.anec.local_sliding_window", &local_window_));
    if (c.infer->FindInput("local_causal_mask") != nullptr && local_window_ == 0) {
      return InvalidArgument(
          "{}: function '{}' has a local_causal_mask input but no package "
          "metadata com.anec.local_sliding_window (its window); reconvert the "
          "model",
          c.program->name(), c.infer->name);
    }
    if (c.prefill != nullptr) {
      const ValueSpec* ph = c.prefill->FindInput("hidden_states");
      if (ph != nullptr && ph->dims.size() >= 2 && ph->dims[1] > 0)
        batch_ = static_cast<int>(ph->dims[1]);
    }
    const Chunk* prev = &c == &chunks_.front() ? nullptr : &c - 1;
    ANEC_RETURN_IF_ERROR(CheckCarriedInputs(*c.infer, prev ? prev->infer : nullptr));
    if (c.prefill != nullptr && (prev == nullptr || prev->prefill != nullptr)) {
      ANEC_RETURN_IF_ERROR(CheckCarriedInputs(*c.prefill, prev ? prev->prefill : nullptr));
    }
    ANEC_RETURN_IF_ERROR(CheckStateSizes(*c.infer));
    ANEC_RETURN_IF_ERROR(PrepareStates(*c.infer, &states_));
    if (c.prefill != nullptr) {
      ANEC_RETURN_IF_ERROR(CheckStateSizes(*c.prefill));
      ANEC_RETURN_IF_ERROR(PrepareStates(*c.prefill, &states_));
    }
  }
  if (cache_rows_ < context_ && (window_ == 0 || cache_rows_ < window_)) {
    return InvalidArgument(
        "{}: the KV cache has {} rows for a context of {}, which only a sliding "
        "window of at most {} rows allows (package metadata "
        "com.anec.sliding_window: {})",
        chunks_[0].program->name(), cache_rows_, context_, cache_rows_,
        window_ ? std::to_string(window_) : std::string("absent"));
  }
  has_prefill_ = std::all_of(chunks_.begin(), chunks_.end(),
                             [](const Chunk& c) { return c.prefill != nullptr; });

  head_fn_ = DefaultFunction(*lm_head_);
  if (head_fn_ == nullptr) return InvalidArgument("{}: no default function", lm_head_->name());
  const ValueSpec* hin = FirstTensorInput(*head_fn_);
  if (hin == nullptr) return InvalidArgument("{}: the LM head has no input", lm_head_->name());
  head_input_ = hin->name;
  // logits1..logitsK in numeric order (or a single "logits").
  std::vector<std::pair<int, std::string>> pieces;
  static const std::regex kLogits("logits([0-9]*)");
  for (const std::string& n : head_fn_->output_names) {
    std::smatch m;
    if (!std::regex_match(n, m, kLogits)) continue;
    int k = 0;
    std::string digits = m[1].str();
    std::from_chars(digits.data(), digits.data() + digits.size(), k);
    pieces.emplace_back(k, n);
  }
  std::sort(pieces.begin(), pieces.end());
  for (auto& [k, n] : pieces) logit_outputs_.push_back(n);
  ANEC_RETURN_IF_ERROR(ReadLmHeadLayout());
  if (logit_outputs_.empty() && argmax_piece_offsets_.empty()) {
    return InvalidArgument("{}: the LM head has no logits outputs (found: {})", lm_head_->name(),
                           fmt::join(head_fn_->output_names, ", "));
  }
  return Status::Ok();
}

void LlmModel::Reset() {
  for (auto& [name, t] : states_) {
    if (t.writable() && t.storage_use_count() == 1) {
      std::memset(t.mutable_bytes(), 0, t.nbytes());
    } else {
      t = Tensor::Zeros(t.dtype(), t.shape());
    }
  }
  cached_.clear();
}

Result<Tensor> LlmModel::Embed(std::span<const int32_t> ids, int64_t padded_len) {
  if (embed_seq_ > padded_len) {
    // Fixed longer input: pad, run, keep the leading rows.
    ANEC_ASSIGN_OR_RETURN(Tensor full, Embed(ids, embed_seq_));
    Tensor out = Tensor::Zeros(full.dtype(), {1, padded_len, hidden_});
    std::memcpy(out.mutable_bytes(), full.bytes(), out.nbytes());
    return out;
  }
  if (embed_seq_ > 0 && embed_seq_ != padded_len) {
    if (embed_seq_ != 1) {
      return InvalidArgument("{}: input_ids has a fixed length {} but {} tokens are needed",
                             embeddings_->name(), embed_seq_, padded_len);
    }
    // One token at a time, rows concatenated.
    std::vector<Tensor> rows;
    for (int64_t i = 0; i < padded_len; ++i) {
      int32_t id = i < static_cast<int64_t>(ids.size()) ? ids[static_cast<size_t>(i)] : 0;
      ANEC_ASSIGN_OR_RETURN(Tensor row, Embed(std::span<const int32_t>(&id, 1), 1));
      rows.push_back(std::move(row));
    }
    Tensor out = Tensor::Zeros(rows[0].dtype(), {1, padded_len, hidden_});
    size_t row_bytes = rows[0].nbytes();
    for (size_t i = 0; i < rows.size(); ++i)
      std::memcpy(out.mutable_bytes() + i * row_bytes, rows[i].bytes(), row_bytes);
    return out;
  }
  std::vector<int64_t> v(static_cast<size_t>(padded_len), 0);
  for (size_t i = 0; i < ids.size() && i < v.size(); ++i) v[i] = ids[i];
  NamedTensors in;
  in[embed_input_] = Tensor::FromInts(DType::kInt32, {1, padded_len}, v);
  ANEC_ASSIGN_OR_RETURN(NamedTensors out, RunFunction(*embed_fn_, in, &states_, pool_));
  Tensor h = out[embed_output_];
  if (h.rank() != 3 || h.dim(1) != padded_len || (hidden_ > 0 && h.dim(2) != hidden_)) {
    return InvalidArgument("{}: output {} is {}, expected [1, {}, {}]", embeddings_->name(),
                           embed_output_, h.TypeString(), padded_len, hidden_);
  }
  return h;
}

Result<NamedTensors> LlmModel::ChunkInputs(const CompiledFunction& fn, Tensor hidden, int pos,
                                           int64_t rows) {
  NamedTensors in;
  for (const ValueSpec& spec : fn.inputs) {
    if (spec.is_state) continue;
    if (spec.name == "hidden_states") {
      in[spec.name] = std::move(hidden);
    } else if (spec.name == "position_ids") {
      std::vector<int64_t> p(static_cast<size_t>(rows));
      for (int64_t i = 0; i < rows; ++i) p[static_cast<size_t>(i)] = pos + i;
      Shape shape = spec.dims.size() == 2 ? Shape{1, rows} : Shape{rows};
      in[spec.name] = Tensor::FromInts(spec.dtype, shape, p);
    } else if (spec.name == "causal_mask" || spec.name == "local_causal_mask") {
      // Row s holds position p_s, the latest p <= last with p = s (mod R) (for R = context and
      // no wrap, simply s). The local layers' mask also leaves out rows older than their window.
      const int64_t cr = cache_rows_, last = pos + rows - 1;
      const int64_t window = spec.name == "causal_mask" ? window_ : local_window_;
      std::vector<float> m(static_cast<size_t>(rows * cr));
      for (int64_t s = 0; s < cr; ++s) {
        const int64_t held = last - (((last - s) % cr) + cr) % cr;
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t q = pos + r;
          const bool seen = held >= 0 && held <= q && (window == 0 || q - held < window);
          m[static_cast<size_t>(r * cr + s)] = seen ? 0.0f : -INFINITY;
        }
      }
      in[spec.name] = Tensor::FromFloats(spec.dtype, {1, 1, rows, cr}, m);
    } else if (spec.name == "current_pos") {
      Shape shape = spec.dims.empty() ? Shape{} : Shape{1};
      in[spec.name] = Tensor::FromInts(spec.dtype, shape, std::vector<int64_t>{pos % cache_rows_});
    }  // any other input is carried from the previous chunk (AddCarriedInputs)
  }
  return in;
}

Status LlmModel::PrefillBatch(std::span<const int32_t> ids, int pos) {
  ANEC_ASSIGN_OR_RETURN(Tensor hidden, Embed(ids, batch_));
  NamedTensors out;
  for (Chunk& c : chunks_) {
    ANEC_ASSIGN_OR_RETURN(NamedTensors in, ChunkInputs(*c.prefill, hidden, pos, batch_));
    ANEC_RETURN_IF_ERROR(AddCarriedInputs(*c.prefill, out, &in));
    ANEC_ASSIGN_OR_RETURN(out, RunFunction(*c.prefill, in, &states_, pool_));
    // The last chunk's prefill output only fills the cache; it may be a single row.
    hidden = out[OutputNamed(*c.prefill, "output_hidden_states")];
  }
  return Status::Ok();
}

Result<std::vector<float>> LlmModel::InferOne(int32_t id, int pos) {
  ANEC_ASSIGN_OR_RETURN(Tensor hidden, Embed(std::span<const int32_t>(&id, 1), 1));
  NamedTensors carried;
  for (Chunk& c : chunks_) {
    ANEC_ASSIGN_OR_RETURN(NamedTensors in, ChunkInputs(*c.infer, hidden, pos, 1));
    ANEC_RETURN_IF_ERROR(AddCarriedInputs(*c.infer, carried, &in));
    ANEC_ASSIGN_OR_RETURN(carried, RunFunction(*c.infer, in, &states_, pool_));
    hidden = carried[c.output];
  }
  NamedTensors in;
  in[head_input_] = hidden;
  ANEC_ASSIGN_OR_RETURN(NamedTensors out, RunFunction(*head_fn_, in, &states_, pool_));
  if (argmax_only()) return ArgmaxLogits(out);
  std::vector<float> logits;
  for (const std::string& name : logit_outputs_) {
    std::vector<float> piece = out[name].ToFloats();
    logits.insert(logits.end(), piece.begin(), piece.end());
  }
  if (vocab_ == 0) vocab_ = static_cast<int64_t>(logits.size());
  if (static_cast<int64_t>(logits.size()) < vocab_) {
    return InvalidArgument(
        "{}: the LM head gave {} logits for a vocabulary of {} "
        "(com.anemll.vocab_size)",
        lm_head_->name(), logits.size(), vocab_);
  }
  logits.resize(static_cast<size_t>(vocab_));  // drops the last piece's pad rows
  return logits;
}

// The vocabulary and, for an argmax head, where each piece starts: from the LM head's metadata
// (com.anemll.vocab_size, com.anemll.lm_head_chunk_sizes, as ANEMLL 0.3.5 writes them).
// Without them, the vocabulary is every logit the pieces give (older packages had no padding).
Status LlmModel::ReadLmHeadLayout() {
  const auto& meta = lm_head_->description().metadata().userdefined();
  auto number = [&](const std::string& text, const char* key) -> Result<int64_t> {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v <= 0) {
      return InvalidArgument("{}: metadata {} has '{}' where a positive integer belongs",
                             lm_head_->name(), key, text);
    }
    return v;
  };
  if (auto it = meta.find("com.anemll.vocab_size"); it != meta.end()) {
    ANEC_ASSIGN_OR_RETURN(vocab_, number(it->second, "com.anemll.vocab_size"));
  }
  const bool argmax = std::find(head_fn_->output_names.begin(), head_fn_->output_names.end(),
                                "argmax_idx") != head_fn_->output_names.end();
  if (!argmax) return Status::Ok();
  auto sizes = meta.find("com.anemll.lm_head_chunk_sizes");
  if (sizes == meta.end() || vocab_ == 0) {
    return InvalidArgument(
        "{}: an argmax LM head needs metadata com.anemll.vocab_size and "
        "com.anemll.lm_head_chunk_sizes to map piece indices to tokens; "
        "convert the model again",
        lm_head_->name());
  }
  int64_t offset = 0;
  std::string_view rest = sizes->second;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    ANEC_ASSIGN_OR_RETURN(
        int64_t n, number(std::string(rest.substr(0, comma)), "com.anemll.lm_head_chunk_sizes"));
    argmax_piece_offsets_.push_back(offset);
    offset += n;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (argmax_piece_offsets_.empty() || offset < vocab_) {
    return InvalidArgument(
        "{}: metadata com.anemll.lm_head_chunk_sizes '{}' covers {} rows, "
        "fewer than the vocabulary's {}",
        lm_head_->name(), sizes->second, offset, vocab_);
  }
  return Status::Ok();
}

// argmax_idx (the row within each piece) and argmax_val -> a vocabulary-sized vector that is
// the lowest float everywhere but at the winner (the first piece wins ties, as ANEMLL's do).
Result<std::vector<float>> LlmModel::ArgmaxLogits(NamedTensors& out) {
  const std::vector<float> idx = out["argmax_idx"].ToFloats(), val = out["argmax_val"].ToFloats();
  if (idx.size() != argmax_piece_offsets_.size() || val.size() != idx.size()) {
    return InvalidArgument("{}: argmax_idx/argmax_val have {}/{} entries for {} pieces",
                           lm_head_->name(), idx.size(), val.size(), argmax_piece_offsets_.size());
  }
  size_t best = 0;
  for (size_t i = 1; i < val.size(); ++i) {
    if (val[i] > val[best]) best = i;
  }
  const int64_t token = argmax_piece_offsets_[best] + static_cast<int64_t>(idx[best]);
  if (idx[best] < 0 || token >= vocab_) {
    return InvalidArgument(
        "{}: argmax of piece {} is row {}, token {} outside the vocabulary "
        "of {}",
        lm_head_->name(), best + 1, idx[best], token, vocab_);
  }
  std::vector<float> logits(static_cast<size_t>(vocab_), std::numeric_limits<float>::lowest());
  logits[static_cast<size_t>(token)] = val[best];
  return logits;
}

Result<std::vector<float>> LlmModel::Forward(std::span<const int32_t> tokens) {
  const int n = static_cast<int>(tokens.size());
  if (n < 1 || n > context_) {
    return InvalidArgument("{} tokens do not fit the context of {} (need 1..{})", n, context_,
                           context_);
  }
  size_t keep = 0;
  while (keep < cached_.size() && keep + 1 < tokens.size() && cached_[keep] == tokens[keep]) ++keep;
  // In a ring, rows of dropped positions past `keep` overwrote older ones; they are harmless
  // (masked, then rewritten) only while they lie within R - window positions of `keep`.
  if (cache_rows_ < context_ &&
      cached_.size() - keep > static_cast<size_t>(cache_rows_ - window_)) {
    keep = 0;
  }
  cached_.resize(keep);
  int pos = static_cast<int>(keep);
  last_prefill_tokens_ = 0;
  while (pos < n - 1) {
    int count = std::min(batch_, n - 1 - pos);
    if (has_prefill_ && pos + batch_ <= context_ && pos % cache_rows_ + batch_ <= cache_rows_) {
      ANEC_RETURN_IF_ERROR(
          PrefillBatch(tokens.subspan(static_cast<size_t>(pos), static_cast<size_t>(count)), pos));
      last_prefill_tokens_ += count;
    } else {
      count = 1;
      ANEC_RETURN_IF_ERROR(InferOne(tokens[static_cast<size_t>(pos)], pos).status());
    }
    cached_.insert(cached_.end(), tokens.begin() + pos, tokens.begin() + pos + count);
    pos += count;
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<float> logits,
                        InferOne(tokens[static_cast<size_t>(n - 1)], n - 1));
  cached_.push_back(tokens[static_cast<size_t>(n - 1)]);
  return logits;
}

Result<std::vector<float>> LlmModel::Step(int32_t token) {
  int pos = static_cast<int>(cached_.size());
  if (pos >= context_) {
    return FailedPrecondition("the context of {} tokens is full; shift it with Forward()",
                              context_);
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<float> logits, InferOne(token, pos));
  cached_.push_back(token);
  return logits;
}

Result<std::vector<std::vector<float>>> LlmModel::LogitsPerPosition(
    std::span<const int32_t> tokens) {
  if (tokens.size() > static_cast<size_t>(context_)) {
    return InvalidArgument("{} tokens do not fit the context of {}", tokens.size(), context_);
  }
  Reset();
  std::vector<std::vector<float>> all;
  for (int32_t t : tokens) {
    ANEC_ASSIGN_OR_RETURN(std::vector<float> logits, Step(t));
    all.push_back(std::move(logits));
  }
  return all;
}

}  // namespace anec::runtime
