#include "anemll_emulator.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/file_system.h"
#include "runtime/llm_model.h"
#include "runtime/thread_pool.h"

namespace anec::contract {

namespace spec = ::CoreML::Specification;
using runtime::CompiledFunction;
using runtime::DType;
using runtime::NamedTensors;
using runtime::Tensor;

namespace {

// The function description Core ML checks a prediction against: the named entry of
// description.functions, or the top-level input/output/state of a single-function model.
spec::FunctionDescription DescriptionOf(const runtime::Program& p, const std::string& fn) {
  const spec::ModelDescription& d = p.description();
  for (const auto& f : d.functions()) {
    if (f.name() == fn) return f;
  }
  spec::FunctionDescription f;
  f.set_name(fn);
  *f.mutable_input() = d.input();
  *f.mutable_output() = d.output();
  *f.mutable_state() = d.state();
  return f;
}

const spec::FeatureDescription* Feature(
    const google::protobuf::RepeatedPtrField<spec::FeatureDescription>& list,
    const std::string& name) {
  for (const auto& f : list) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

std::string DTypeOfArray(int code) {
  switch (code) {
    case spec::ArrayFeatureType::FLOAT16:
      return "fp16";
    case spec::ArrayFeatureType::FLOAT32:
      return "fp32";
    case spec::ArrayFeatureType::INT32:
      return "int32";
    case spec::ArrayFeatureType::DOUBLE:
      return "fp64";
    case spec::ArrayFeatureType::INT8:
      return "int8";
  }
  return "invalid";
}

std::string ShapeText(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

std::vector<int64_t> Dims(const spec::ArrayFeatureType& a) {
  return std::vector<int64_t>(a.shape().begin(), a.shape().end());
}

// Whether Core ML accepts `shape` for this multi-array feature: one of its enumerated shapes,
// within its shape range, or its fixed shape.
bool ShapeAccepted(const spec::ArrayFeatureType& a, const std::vector<int64_t>& shape) {
  auto equal = [&](const auto& dims) {
    return static_cast<size_t>(dims.size()) == shape.size() &&
           std::equal(dims.begin(), dims.end(), shape.begin());
  };
  if (a.has_enumeratedshapes()) {
    for (const auto& s : a.enumeratedshapes().shapes()) {
      if (equal(s.shape())) return true;
    }
    return false;
  }
  if (a.has_shaperange()) {
    const auto& r = a.shaperange().sizeranges();
    if (static_cast<size_t>(r.size()) != shape.size()) return false;
    for (int i = 0; i < r.size(); ++i) {
      if (shape[static_cast<size_t>(i)] < static_cast<int64_t>(r[i].lowerbound())) return false;
      if (r[i].upperbound() >= 0 && shape[static_cast<size_t>(i)] > r[i].upperbound()) return false;
    }
    return true;
  }
  return equal(a.shape());
}

Tensor Ints(std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  return Tensor::FromInts(DType::kInt32, std::move(shape), v);
}

}  // namespace

Result<std::unique_ptr<Emulator>> Emulator::Open(AnemllRuntime runtime, const std::string& dir,
                                                 const FolderListing& listing,
                                                 std::optional<int> mask_lookahead) {
  std::unique_ptr<Emulator> e(new Emulator());
  e->runtime_ = runtime;
  e->dir_ = dir;
  const std::string meta_path = JoinPath(dir, "meta.yaml");
  ANEC_ASSIGN_OR_RETURN(std::string text, RealFileSystem()->ReadFile(meta_path));
  ANEC_ASSIGN_OR_RETURN(e->meta_, ParseMeta(text, meta_path));
  ANEC_ASSIGN_OR_RETURN(e->files_, ResolveFiles(runtime, e->meta_, listing));
  const bool compiled = EndsWith(e->files_.chunks[0], ".mlmodelc");
  ANEC_ASSIGN_OR_RETURN(e->rules_, RulesFor(runtime, e->meta_, compiled));
  if (mask_lookahead) e->rules_.infer_mask_lookahead = *mask_lookahead;
  ANEC_RETURN_IF_ERROR(e->Load());
  return e;
}

Status Emulator::Load() {
  FileSystem* fs = RealFileSystem();
  auto load = [&](const std::string& file, Loaded* out) -> Status {
    out->file = file;
    ANEC_ASSIGN_OR_RETURN(out->program,
                          runtime::LoadPackageProgram(fs, JoinPath(dir_, SourcePackage(file))));
    return Status::Ok();
  };
  // Embeddings and LM head: loaded without a function name (chat*.py load_model(path);
  // ModelLoader with no functionName), i.e. the default function.
  auto default_fn = [&](const Loaded& l) -> const CompiledFunction* {
    const std::string& d = l.program->description().defaultfunctionname();
    if (!d.empty()) return l.program->Find(d);
    if (l.program->Find("main") != nullptr) return l.program->Find("main");
    auto names = l.program->function_names();
    return names.size() == 1 ? l.program->Find(names[0]) : nullptr;
  };
  ANEC_RETURN_IF_ERROR(load(files_.embeddings, &embeddings_));
  ANEC_RETURN_IF_ERROR(load(files_.lm_head, &lm_head_));
  embed_fn_ = default_fn(embeddings_);
  head_fn_ = default_fn(lm_head_);
  if (embed_fn_ == nullptr || head_fn_ == nullptr) {
    return InvalidArgument("{}: embeddings or LM head has no default function",
                           RuntimeName(runtime_));
  }
  // Chunks: each loaded twice, function 'infer' and 'prefill' (chat*.py load_models;
  // ModelLoader.loadModel with modelConfig.functionName).
  for (const std::string& c : files_.chunks) {
    Loaded l;
    ANEC_RETURN_IF_ERROR(load(c, &l));
    for (const char* fn : {"infer", "prefill"}) {
      if (l.program->Find(fn) == nullptr) {
        return InvalidArgument("{}: {} has no function '{}' (the runtime loads it by name)",
                               RuntimeName(runtime_), c, fn);
      }
    }
    infer_.push_back(l.program->Find("infer"));
    prefill_.push_back(l.program->Find("prefill"));
    chunks_.push_back(std::move(l));
  }
  // One state, made from chunk 1's prefill function (create_unified_state: ffn_models[0]
  // ['prefill'].make_state(); InferenceManager.initState: ffnChunks[0].prefillModel.makeState())
  // and passed to every chunk and function.
  ANEC_RETURN_IF_ERROR(runtime::PrepareStates(*prefill_[0], &state_));
  for (size_t k = 0; k < chunks_.size(); ++k) {
    ANEC_RETURN_IF_ERROR(CheckStates(*infer_[k], chunks_[k].file + " infer"));
    ANEC_RETURN_IF_ERROR(CheckStates(*prefill_[k], chunks_[k].file + " prefill"));
  }
  // Swift backings (initializeHiddenStatesBackings): shape of chunk 1 infer's hidden_states.
  const spec::FunctionDescription d = DescriptionOf(*chunks_[0].program, "infer");
  const spec::FeatureDescription* h = Feature(d.input(), "hidden_states");
  if (h == nullptr || !h->type().has_multiarraytype()) {
    return InvalidArgument("{}: {} infer declares no multi-array input hidden_states",
                           RuntimeName(runtime_), chunks_[0].file);
  }
  infer_hidden_shape_.assign(h->type().multiarraytype().shape().begin(),
                             h->type().multiarraytype().shape().end());
  hidden_ = infer_hidden_shape_.empty() ? 0 : infer_hidden_shape_.back();
  return Status::Ok();
}

Status Emulator::CheckStates(const CompiledFunction& fn, const std::string& where) const {
  for (const runtime::ValueSpec& v : fn.inputs) {
    if (!v.is_state) continue;
    auto it = state_.find(v.name);
    if (it == state_.end()) {
      return InvalidArgument(
          "{}: {} declares state '{}', which the state made from chunk 1's "
          "prefill does not have (the runtime shares that one state)",
          RuntimeName(runtime_), where, v.name);
    }
    if (it->second.dtype() != v.dtype || it->second.shape() != v.dims) {
      return InvalidArgument("{}: {} declares state '{}' as {}, the shared state is {}",
                             RuntimeName(runtime_), where, v.name, v.TypeString(),
                             it->second.TypeString());
    }
  }
  return Status::Ok();
}

Result<NamedTensors> Emulator::Call(const Loaded& pkg, const CompiledFunction& fn,
                                    const std::string& kind, NamedTensors fed) {
  ++calls_[kind];
  const std::string where =
      fmt::format("{}: {} function '{}'", RuntimeName(runtime_), pkg.file, fn.name);
  const spec::FunctionDescription d = DescriptionOf(*pkg.program, fn.name);
  for (const auto& f : d.input()) {
    if (f.type().has_statetype()) continue;
    auto it = fed.find(f.name());
    if (it == fed.end()) {
      return InvalidArgument("{} declares input '{}' that the runtime does not feed", where,
                             f.name());
    }
    if (!f.type().has_multiarraytype()) {
      return InvalidArgument("{}: input '{}' is not a multi-array", where, f.name());
    }
    const spec::ArrayFeatureType& a = f.type().multiarraytype();
    const Tensor& t = it->second;
    if (DTypeOfArray(a.datatype()) != runtime::DTypeName(t.dtype()) ||
        !ShapeAccepted(a, t.shape())) {
      return InvalidArgument("{}: the runtime feeds '{}' as {}, the function declares {}{}{}",
                             where, f.name(), t.TypeString(), DTypeOfArray(a.datatype()),
                             ShapeText(Dims(a)),
                             a.has_enumeratedshapes() ? " (enumerated shapes)" : "");
    }
  }
  for (auto it = fed.begin(); it != fed.end();) {
    if (Feature(d.input(), it->first) != nullptr) {
      ++it;
      continue;
    }
    if (rules_.rejects_undeclared_inputs) {
      return InvalidArgument(
          "{}: the runtime feeds '{}', which the function does not declare; "
          "coremltools' MLModel.predict raises KeyError for it",
          where, it->first);
    }
    it = fed.erase(it);  // Core ML reads only the features the function declares
  }
  ANEC_RETURN_IF_ERROR(CheckStates(fn, pkg.file + " " + fn.name));
  ANEC_ASSIGN_OR_RETURN(NamedTensors out,
                        runtime::RunFunction(fn, fed, &state_, runtime::DefaultThreadPool()));
  // Every output must have the declared type (Core ML returns declared features; the Swift CLI
  // binds output backings of the declared shapes). A function with flexible inputs (the
  // embeddings' enumerated shapes) has outputs of the matching size, not of the declared
  // default; their shapes are checked against the Swift backings instead (Expect).
  bool flexible = false;
  for (const auto& f : d.input()) {
    const auto& a = f.type().multiarraytype();
    flexible |= a.has_enumeratedshapes() || a.has_shaperange();
  }
  for (const auto& [name, t] : out) {
    const spec::FeatureDescription* f = Feature(d.output(), name);
    if (f == nullptr || !f->type().has_multiarraytype()) {
      return InvalidArgument("{}: output '{}' is not a declared multi-array output", where, name);
    }
    const spec::ArrayFeatureType& a = f->type().multiarraytype();
    if (DTypeOfArray(a.datatype()) != runtime::DTypeName(t.dtype()) ||
        (!flexible && !ShapeAccepted(a, t.shape()))) {
      return InvalidArgument("{}: output '{}' is {}, declared {}{}", where, name, t.TypeString(),
                             DTypeOfArray(a.datatype()), ShapeText(Dims(a)));
    }
  }
  return out;
}

Status Emulator::Expect(const Tensor& t, const std::vector<int64_t>& shape,
                        const std::string& what) const {
  if (t.shape() != shape) {
    return InvalidArgument("{}: {} is {}, but the runtime's output backing is {}",
                           RuntimeName(runtime_), what, t.TypeString(), ShapeText(shape));
  }
  return Status::Ok();
}

Result<Tensor> Emulator::Embed(std::span<const int32_t> ids, int64_t length, bool prefill) {
  // input_ids int32 [1, S] (S = 1 for infer, batch for prefill), padded with 0; the output
  // `hidden_states` is read by name.
  std::vector<int64_t> v(static_cast<size_t>(length), 0);
  for (size_t i = 0; i < ids.size() && i < v.size(); ++i) v[i] = ids[i];
  NamedTensors in;
  in["input_ids"] = Ints({1, length}, v);
  ANEC_ASSIGN_OR_RETURN(NamedTensors out, Call(embeddings_, *embed_fn_, "embeddings", in));
  auto it = out.find("hidden_states");
  if (it == out.end()) {
    return InvalidArgument("{}: {} has no output hidden_states", RuntimeName(runtime_),
                           embeddings_.file);
  }
  if (IsSwift(runtime_)) {
    // hiddenStatesBackings_emb (chunk 1 infer's hidden_states shape) / _emb_prefill [1, B, H].
    ANEC_RETURN_IF_ERROR(Expect(
        it->second, prefill ? std::vector<int64_t>{1, rules_.batch, hidden_} : infer_hidden_shape_,
        embeddings_.file + " hidden_states"));
  }
  return it->second;
}

Status Emulator::PrefillBatch(std::span<const int32_t> tokens, int batch_pos) {
  const int b = rules_.batch, c = rules_.context;
  const int end = std::min<int>(batch_pos + b, static_cast<int>(tokens.size()));
  ANEC_ASSIGN_OR_RETURN(Tensor hidden, Embed(tokens.subspan(batch_pos, end - batch_pos), b, true));
  // position_ids arange(batch_pos, batch_pos + B) (also through the padding); causal_mask rows
  // batch_pos .. batch_pos + B of the host mask (Python slices the [C, C] mask, so rows past C
  // are missing; Swift builds B rows); current_pos [batch_pos].
  std::vector<int64_t> pos(static_cast<size_t>(b));
  for (int i = 0; i < b; ++i) pos[static_cast<size_t>(i)] = batch_pos + i;
  const int rows = IsSwift(runtime_) ? b : std::min(b, c - batch_pos);
  std::vector<float> mask;
  for (int i = 0; i < rows; ++i) {
    std::vector<float> row = CausalMaskRow(c, batch_pos + i);
    mask.insert(mask.end(), row.begin(), row.end());
  }
  const Tensor mask_t = Tensor::FromFloats(DType::kFloat16, {1, 1, rows, c}, mask);
  for (size_t k = 0; k < chunks_.size(); ++k) {
    NamedTensors in;
    in["hidden_states"] = hidden;
    in["position_ids"] = Ints({b}, pos);
    in["causal_mask"] = mask_t;
    in["current_pos"] = Ints({1}, {batch_pos});
    ANEC_ASSIGN_OR_RETURN(NamedTensors out, Call(chunks_[k], *prefill_[k], "prefill", in));
    auto it = out.find("output_hidden_states");
    if (it == out.end()) {
      return InvalidArgument("{}: {} prefill has no output_hidden_states", RuntimeName(runtime_),
                             chunks_[k].file);
    }
    if (IsSwift(runtime_) && !rules_.version_is_v110) {
      // runPrefill: a declared output batch dim of 1 takes the [1, 1, H] backing, else
      // [1, B, H].
      const spec::FunctionDescription d = DescriptionOf(*chunks_[k].program, "prefill");
      const spec::FeatureDescription* f = Feature(d.output(), "output_hidden_states");
      const bool one_row = f != nullptr && f->type().multiarraytype().shape_size() > 1 &&
                           f->type().multiarraytype().shape(1) == 1;
      ANEC_RETURN_IF_ERROR(Expect(it->second, {1, one_row ? 1 : static_cast<int64_t>(b), hidden_},
                                  chunks_[k].file + " prefill output_hidden_states"));
    }
    hidden = it->second;
  }
  return Status::Ok();
}

Result<Tensor> Emulator::InferHidden(int32_t token, int pos) {
  const int c = rules_.context;
  ANEC_ASSIGN_OR_RETURN(Tensor hidden, Embed(std::span<const int32_t>(&token, 1), 1, false));
  const Tensor mask = Tensor::FromFloats(DType::kFloat16, {1, 1, 1, c},
                                         CausalMaskRow(c, pos, rules_.infer_mask_lookahead));
  for (size_t k = 0; k < chunks_.size(); ++k) {
    // hidden_states [1,1,H]; position_ids [pos]; causal_mask row pos [1,1,1,C]; current_pos
    // [pos] (generate_next_token; generateNextToken).
    NamedTensors in;
    in["hidden_states"] = hidden;
    in["position_ids"] = Ints({1}, {pos});
    in["causal_mask"] = mask;
    in["current_pos"] = Ints({1}, {pos});
    const spec::FunctionDescription d = DescriptionOf(*chunks_[k].program, "infer");
    if (rules_.infer_feeds_update_mask ||
        (Is035(runtime_) && !IsSwift(runtime_) && Feature(d.input(), "update_mask") != nullptr)) {
      std::vector<float> um(static_cast<size_t>(c), 0.0f);
      um[static_cast<size_t>(pos)] = 1.0f;
      in["update_mask"] = Tensor::FromFloats(DType::kFloat16, {1, 1, c, 1}, um);
    }
    ANEC_ASSIGN_OR_RETURN(NamedTensors out, Call(chunks_[k], *infer_[k], "infer", in));
    auto it = out.find("output_hidden_states");
    if (it == out.end()) {
      return InvalidArgument("{}: {} infer has no output_hidden_states", RuntimeName(runtime_),
                             chunks_[k].file);
    }
    if (IsSwift(runtime_)) {
      ANEC_RETURN_IF_ERROR(
          Expect(it->second, infer_hidden_shape_, chunks_[k].file + " infer output_hidden_states"));
    }
    hidden = it->second;
  }
  return hidden;
}

Result<int64_t> Emulator::HeadToken(const Tensor& hidden) {
  NamedTensors in;
  in["hidden_states"] = hidden;
  ANEC_ASSIGN_OR_RETURN(NamedTensors out, Call(lm_head_, *head_fn_, "lm_head", in));
  Step step;
  const int k = rules_.split_lm_head;
  const spec::FunctionDescription d = DescriptionOf(*lm_head_.program, head_fn_->name);
  if (rules_.argmax != ArgmaxRule::kNone && rules_.argmax_in_model && out.count("argmax_idx")) {
    const Tensor& idx = out.at("argmax_idx");
    const Tensor& val = out.at("argmax_val");
    if (IsSwift(runtime_)) {
      // initializeLMHeadOutputBackings (argmax mode): int32 [split_lm_head], fp16 [split_lm_head].
      ANEC_RETURN_IF_ERROR(Expect(idx, {k}, lm_head_.file + " argmax_idx"));
      ANEC_RETURN_IF_ERROR(Expect(val, {k}, lm_head_.file + " argmax_val"));
    }
    if (idx.dtype() != DType::kInt32 || val.dtype() != DType::kFloat16 ||
        idx.size() != val.size()) {
      return InvalidArgument("{}: argmax_idx {} / argmax_val {}: expected int32 [K] and fp16 [K]",
                             RuntimeName(runtime_), idx.TypeString(), val.TypeString());
    }
    for (int64_t v : idx.ToInts()) step.argmax_idx.push_back(static_cast<int32_t>(v));
    step.argmax_val = val.ToFloats();
    step.token = ArgmaxInModelToken(rules_, step.argmax_idx, step.argmax_val);
  } else if (IsSwift(runtime_)) {
    // initializeLMHeadOutputBackings: logits1..split_lm_head must be declared multi-arrays;
    // the backings take the declared shapes.
    for (int i = 1; i <= k; ++i) {
      const std::string name = fmt::format("logits{}", i);
      const spec::FeatureDescription* f = Feature(d.output(), name);
      auto it = out.find(name);
      if (f == nullptr || it == out.end()) {
        return InvalidArgument("{}: {} has no output {} (Missing feature description)",
                               RuntimeName(runtime_), lm_head_.file, name);
      }
      ANEC_RETURN_IF_ERROR(
          Expect(it->second, Dims(f->type().multiarraytype()), lm_head_.file + " " + name));
      step.logits.push_back(it->second.ToFloats());
    }
    step.token = SwiftOffsetArgmax(step.logits);
  } else {
    // generate_next_token: logits1..N that exist (N = split_lm_head; chat_full.py 0.3.5 caps N
    // at the highest logitsN present), concatenated; else output_logits (KeyError if absent).
    if (out.count("logits1") == 0) {
      return InvalidArgument(
          "{}: {} has no logits1 and no output_logits (KeyError in "
          "generate_next_token)",
          RuntimeName(runtime_), lm_head_.file);
    }
    for (int i = 1; i <= k; ++i) {
      auto it = out.find(fmt::format("logits{}", i));
      if (it != out.end()) step.logits.push_back(it->second.ToFloats());
    }
    step.token = ConcatArgmax(step.logits);
  }
  steps_.push_back(std::move(step));
  return steps_.back().token;
}

Status Emulator::Prefill(std::span<const int32_t> tokens) {
  const int n = static_cast<int>(tokens.size()), b = rules_.batch;
  int pos = 0;
  if (rules_.prefill == PrefillMode::kPaddedBatches) {
    for (; pos < n; pos += b) ANEC_RETURN_IF_ERROR(PrefillBatch(tokens, pos));
    return Status::Ok();
  }
  if (rules_.prefill == PrefillMode::kFullBatchesThenInfer) {
    for (; pos + b <= n; pos += b) ANEC_RETURN_IF_ERROR(PrefillBatch(tokens, pos));
  }
  for (; pos < n; ++pos) {
    ANEC_ASSIGN_OR_RETURN(Tensor h, InferHidden(tokens[static_cast<size_t>(pos)], pos));
    if (IsSwift(runtime_)) {
      // Swift runPrefill runs the rest through generateNextToken, LM head included.
      ANEC_RETURN_IF_ERROR(HeadToken(h).status());
      steps_.pop_back();
    }
  }
  return Status::Ok();
}

Result<std::vector<int32_t>> Emulator::Greedy(std::span<const int32_t> prompt, int steps) {
  std::vector<int32_t> tokens(prompt.begin(), prompt.end()), generated;
  const int c = rules_.context;
  const bool shifts =
      runtime_ != AnemllRuntime::kChatPy034 && runtime_ != AnemllRuntime::kChatPy035;
  ANEC_RETURN_IF_ERROR(Prefill(tokens));
  int pos = static_cast<int>(tokens.size());
  while (static_cast<int>(generated.size()) < steps) {
    if (!shifts && pos >= c - 1) break;  // chat.py: `while pos < context_length - 1`
    if (shifts && pos >= c - 2) {
      // chat_full.py chat_loop / generateResponse: keep the newest ShiftKeep tokens at 0..
      const int keep = ShiftKeep(c, rules_.batch);
      std::vector<int32_t> window(tokens.begin() + (pos - keep), tokens.begin() + pos);
      if (rules_.reset_state_on_shift) {
        state_.clear();
        ANEC_RETURN_IF_ERROR(runtime::PrepareStates(*prefill_[0], &state_));
      }
      ANEC_RETURN_IF_ERROR(Prefill(window));
      shift_windows_.push_back(window);
      tokens = window;
      pos = keep;
    }
    // The token at pos - 1 (the prompt's last token first: prefilled already, run again) goes
    // through infer at position pos - 1, then the LM head.
    ANEC_ASSIGN_OR_RETURN(Tensor h, InferHidden(tokens[static_cast<size_t>(pos - 1)], pos - 1));
    ANEC_ASSIGN_OR_RETURN(int64_t next, HeadToken(h));
    steps_.back().position = pos - 1;
    generated.push_back(static_cast<int32_t>(next));
    tokens.resize(static_cast<size_t>(pos));
    tokens.push_back(static_cast<int32_t>(next));
    ++pos;
  }
  return generated;
}

int Emulator::calls(const std::string& kind) const {
  auto it = calls_.find(kind);
  return it == calls_.end() ? 0 : it->second;
}

}  // namespace anec::contract
