// MeasureLossGradients and RunReferenceWindow (loss_gradients.h) over ReferenceTransformer.
#include "calib/loss_gradients.h"

#include <algorithm>

#include "ane/weight_emitter.h"
#include "calib/reference_transformer.h"

namespace anec::calib {

Status CheckLossGradientsSupported(const model::ModelSpec& spec) {
  return ReferenceTransformer::Supported(spec);
}

namespace {

using Vec = std::vector<float>;
constexpr int kNumProj = ReferenceTransformer::kProjections;

std::string ProjName(int64_t layer, int p) {
  return ane::LayerWeightName(layer, ReferenceTransformer::kProjectionTags[p]);
}

}  // namespace

Result<LossGradients> MeasureLossGradients(const ane::WeightSource& weights,
                                           const model::ModelSpec& spec,
                                           std::span<const int32_t> tokens,
                                           const LossGradientOptions& options) {
  ANEC_RETURN_IF_ERROR(CheckLossGradientsSupported(spec));
  if (tokens.size() < 2) {
    return InvalidArgument("loss gradients: need at least 2 tokens, got {}", tokens.size());
  }
  const int64_t window = std::max<int64_t>(2, options.window);
  const int64_t n = static_cast<int64_t>(tokens.size());
  ReferenceTransformer ref(weights, spec, options.threads);
  ANEC_RETURN_IF_ERROR(ref.Init(std::min(window, n)));
  LossGradients out;
  std::vector<std::vector<double>> rows(static_cast<size_t>(spec.num_layers * kNumProj)),
      cols(rows.size());
  std::vector<double> head_sum_sq, probability_sum;
  const int64_t windows = (n + window - 1) / window;
  int64_t done = 0, scored = 0;
  double loss = 0;
  for (int64_t b = 0; b < n; b += window) {
    const auto span =
        tokens.subspan(static_cast<size_t>(b), static_cast<size_t>(std::min(window, n - b)));
    if (span.size() < 2) break;
    const int64_t t = static_cast<int64_t>(span.size());
    ReferenceTransformer::Taps taps;
    taps.layer_inputs = [&](int64_t l, const Vec* const(&x)[kNumProj]) {
      for (int p = 0; p < kNumProj; ++p) {
        auto& c = cols[static_cast<size_t>(l * kNumProj + p)];
        const int64_t nc = static_cast<int64_t>(x[p]->size()) / t;
        c.resize(static_cast<size_t>(nc), 0.0);
        for (int64_t i = 0; i < t; ++i) {
          for (int64_t j = 0; j < nc; ++j) {
            const double v = (*x[p])[static_cast<size_t>(i * nc + j)];
            c[static_cast<size_t>(j)] += v * v;
          }
        }
      }
      if (!options.backward && options.progress) {
        options.progress(++done, windows * spec.num_layers);
      }
    };
    taps.head_input_sum_sq = &head_sum_sq;
    taps.probability_sum = &probability_sum;
    auto sink = [&](int64_t l, const Vec(&g)[kNumProj], const Vec* const(&)[kNumProj]) {
      for (int p = 0; p < kNumProj; ++p) {
        auto& r = rows[static_cast<size_t>(l * kNumProj + p)];
        const int64_t nr = static_cast<int64_t>(g[p].size()) / t;
        r.resize(static_cast<size_t>(nr), 0.0);
        for (int64_t i = 0; i < t; ++i) {
          for (int64_t j = 0; j < nr; ++j) {
            const double v = g[p][static_cast<size_t>(i * nr + j)];
            r[static_cast<size_t>(j)] += v * v;
          }
        }
      }
      if (options.progress) options.progress(++done, windows * spec.num_layers);
    };
    ReferenceTransformer::LayerSink none;
    ANEC_ASSIGN_OR_RETURN(double window_loss,
                          ref.Window(span, nullptr, options.backward ? sink : none, {}, taps));
    loss += window_loss;
    scored += static_cast<int64_t>(span.size()) - 1;
    out.tokens += static_cast<int64_t>(span.size());
  }
  for (int64_t l = 0; l < spec.num_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      const size_t k = static_cast<size_t>(l * kNumProj + p);
      Vec r(rows[k].size()), c(cols[k].size());
      for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<float>(rows[k][i] / out.tokens);
      for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(cols[k][i] / out.tokens);
      if (options.backward) out.rows[ProjName(l, p)] = std::move(r);
      out.columns[ProjName(l, p)] = std::move(c);
    }
  }
  auto mean = [&](const std::vector<double>& sum) {
    Vec m(sum.size());
    for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(sum[i] / out.tokens);
    return m;
  };
  out.head_columns = mean(head_sum_sq);
  out.next_token_probability = mean(probability_sum);
  out.mean_loss = scored > 0 ? loss / static_cast<double>(scored) : 0.0;
  return out;
}

Result<ReferenceWindow> RunReferenceWindow(const ane::WeightSource& weights,
                                           const model::ModelSpec& spec,
                                           std::span<const int32_t> tokens, const std::string& tap,
                                           int threads) {
  ANEC_RETURN_IF_ERROR(CheckLossGradientsSupported(spec));
  if (tokens.size() < 2) {
    return InvalidArgument("loss gradients: need at least 2 tokens, got {}", tokens.size());
  }
  ReferenceTransformer ref(weights, spec, threads);
  ANEC_RETURN_IF_ERROR(ref.Init(static_cast<int64_t>(tokens.size())));
  ReferenceWindow out;
  auto sink = [&](int64_t l, const Vec(&g)[kNumProj], const Vec* const(&x)[kNumProj]) {
    for (int p = 0; p < kNumProj; ++p) {
      if (ProjName(l, p) != tap) continue;
      out.tap_grad = g[p];
      out.tap_input = *x[p];
    }
  };
  ANEC_ASSIGN_OR_RETURN(out.loss, ref.Window(tokens, &out.logits, sink));
  return out;
}

}  // namespace anec::calib
