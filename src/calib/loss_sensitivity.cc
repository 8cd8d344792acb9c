#include "calib/loss_sensitivity.h"

#include <algorithm>
#include <cmath>

#include "calib/activation_stats.h"
#include "runtime/op_context.h"

namespace anec::calib {

void DeltaInjector::AfterOp(const runtime::CompiledOp& op, runtime::OpContext& ctx) {
  const bool conv = op.type == "conv";
  if (!status_.ok() || (!conv && op.type != "linear")) return;
  const std::string& name = WeightConstName(op);
  if (name.empty()) return;
  const WeightDelta* d = nullptr;
  for (const WeightDelta& w : deltas_) {
    if (w.name == name) d = &w;
  }
  if (d == nullptr) return;
  auto x = ctx.Input("x");
  if (!x.ok()) {
    status_ = x.status();
    return;
  }
  if (ctx.outputs().size() != 1 || x->rank() < (conv ? 3 : 1)) {
    status_ = Internal("{}: op '{}' has an unexpected form for a weight change", name, op.name);
    return;
  }
  runtime::Tensor& y = ctx.outputs()[0];
  // The output has the input's layout with the weight's rows as channels.
  const auto [outer, channels, inner] = LayoutOf(conv, x->shape());
  if (channels != d->cols || y.size() != outer * d->rows * inner ||
      static_cast<int64_t>(d->delta.size()) != d->rows * d->cols) {
    status_ = InvalidArgument("{}: a change of {}x{} does not fit op '{}' (input {} wide)", name,
                              d->rows, d->cols, op.name, channels);
    return;
  }
  const std::vector<float> xv = x->ToFloats();
  std::vector<float> yv = y.ToFloats();
  std::vector<float> column(static_cast<size_t>(channels));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t c = 0; c < channels; ++c) {
        column[static_cast<size_t>(c)] = xv[static_cast<size_t>((o * channels + c) * inner + i)];
      }
      for (int64_t r = 0; r < d->rows; ++r) {
        const float* row = d->delta.data() + r * d->cols;
        double acc = 0;
        for (int64_t c = 0; c < channels; ++c) acc += double{row[c]} * column[c];
        yv[static_cast<size_t>((o * d->rows + r) * inner + i)] += static_cast<float>(acc);
      }
    }
  }
  y = runtime::Tensor::FromFloats(y.dtype(), y.shape(), yv);
  applied_.insert(name);
}

std::vector<float> LogSoftmax(std::span<const float> logits) {
  float top = -INFINITY;
  for (float v : logits) top = std::max(top, v);
  double z = 0;
  for (float v : logits) z += std::exp(static_cast<double>(v) - top);
  const double log_z = std::log(z) + top;
  std::vector<float> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    out[i] = static_cast<float>(static_cast<double>(logits[i]) - log_z);
  }
  return out;
}

Result<LossProbe> LossProbe::Create(runtime::LlmModel* model, std::vector<int32_t> tokens) {
  if (tokens.size() < 2) {
    return InvalidArgument("loss probe: {} tokens; give a text of at least a few dozen tokens",
                           tokens.size());
  }
  if (tokens.size() > static_cast<size_t>(model->context_length())) {
    return InvalidArgument("loss probe: {} tokens do not fit the model's context of {}",
                           tokens.size(), model->context_length());
  }
  if (model->argmax_only()) {
    return FailedPrecondition("loss probe: the model outputs argmax, not logits");
  }
  LossProbe probe(model, std::move(tokens));
  ANEC_ASSIGN_OR_RETURN(auto logits, model->LogitsPerPosition(probe.tokens_));
  model->Reset();
  for (const std::vector<float>& l : logits) probe.reference_.push_back(LogSoftmax(l));
  return probe;
}

Result<double> LossProbe::MeanKl(std::span<const WeightDelta> deltas) {
  DeltaInjector injector(deltas);
  std::vector<std::vector<float>> logits;
  {
    runtime::ScopedOpObserver scoped(&injector);
    auto run = model_->LogitsPerPosition(tokens_);
    model_->Reset();
    if (!run.ok()) return run.status();
    logits = std::move(*run);
  }
  ANEC_RETURN_IF_ERROR(injector.status());
  for (const WeightDelta& d : deltas) {
    if (injector.applied().count(d.name) == 0) {
      return InvalidArgument(
          "loss probe: no conv or linear op of the model uses a weight named '{}'", d.name);
    }
  }
  double kl = 0;
  for (size_t t = 0; t < logits.size(); ++t) {
    const std::vector<float> changed = LogSoftmax(logits[t]);
    const std::vector<float>& ref = reference_[t];
    if (changed.size() != ref.size()) return Internal("loss probe: the vocabulary size changed");
    double sum = 0;
    for (size_t v = 0; v < ref.size(); ++v) {
      sum += std::exp(static_cast<double>(ref[v])) * (double{ref[v]} - changed[v]);
    }
    kl += sum;
  }
  return kl / static_cast<double>(logits.size());
}

}  // namespace anec::calib
