// TuneLutTables (lut_table_tuning.h).
#include "calib/lut_table_tuning.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "base/half.h"
#include "calib/loss_gradients.h"
#include "calib/loss_sensitivity.h"
#include "calib/reference_transformer.h"
#include "io/tensor_source.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"
#include "runtime/weight_matrix.h"

namespace anec::calib {
namespace {

using model::TensorRole;
using Vec = std::vector<float>;
constexpr int kNumProj = ReferenceTransformer::kProjections;
constexpr TensorRole kRoles[kNumProj] = {
    TensorRole::kQProj,    TensorRole::kKProj,  TensorRole::kVProj,   TensorRole::kOProj,
    TensorRole::kGateProj, TensorRole::kUpProj, TensorRole::kDownProj};

// One palettized matrix being tuned. Tables stay ascending within a group, so the nearest entry
// of a value is found by bisection.
struct TunedMatrix {
  ane::PlannedLut* planned = nullptr;
  TensorRole role = TensorRole::kQProj;
  int64_t layer = 0;
  std::string name;
  int64_t rows = 0, cols = 0, group = 0, entries = 0;
  std::vector<uint16_t> weights;  // fp16, row-major (what the writer palettizes)
  Vec scales;                     // per row (1 without row scales)
  Vec tables;                     // [rows / group][entries]
  std::vector<uint8_t> index;     // per element, its entry
  std::vector<double> grad;       // [rows / group][entries]: dLoss / d entry
  std::vector<double> curv;       // [rows / group][entries]: the step's denominator
  const Vec* fisher_rows = nullptr;
  const Vec* fisher_cols = nullptr;

  // Every element to its nearest entry (ties to the lower), as the writer assigns them.
  void Assign() {
    for (int64_t r = 0; r < rows; ++r) {
      const float* t = tables.data() + (r / group) * entries;
      const float inv =
          scales[static_cast<size_t>(r)] != 0 ? 1.0f / scales[static_cast<size_t>(r)] : 0.0f;
      for (int64_t c = 0; c < cols; ++c) {
        const float v = HalfToFloat(weights[static_cast<size_t>(r * cols + c)]) * inv;
        const float* hi = std::lower_bound(t, t + entries, v);
        int64_t e = hi - t;
        if (e == entries || (e > 0 && v - t[e - 1] <= *hi - v)) --e;
        index[static_cast<size_t>(r * cols + c)] = static_cast<uint8_t>(e);
      }
    }
  }

  Vec Dequantized() const {
    Vec q(weights.size());
    for (int64_t r = 0; r < rows; ++r) {
      const float* t = tables.data() + (r / group) * entries;
      for (int64_t c = 0; c < cols; ++c) {
        const size_t i = static_cast<size_t>(r * cols + c);
        q[i] = scales[static_cast<size_t>(r)] * t[index[i]];
      }
    }
    return q;
  }

  // h_e = positions * sum over the entry's elements of s_i^2 r_i c_j.
  void Curvature(double positions) {
    curv.assign(tables.size(), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double s = scales[static_cast<size_t>(r)];
      const double rw = positions * s * s * (*fisher_rows)[static_cast<size_t>(r)];
      double* h = curv.data() + (r / group) * entries;
      for (int64_t c = 0; c < cols; ++c) {
        h[index[static_cast<size_t>(r * cols + c)]] += rw * (*fisher_cols)[static_cast<size_t>(c)];
      }
    }
  }

  // grad_e += sum over the entry's elements of s_i G_ij.
  void AddGradient(const Vec& g) {
    for (int64_t r = 0; r < rows; ++r) {
      const double s = scales[static_cast<size_t>(r)];
      double* d = grad.data() + (r / group) * entries;
      for (int64_t c = 0; c < cols; ++c) {
        const size_t i = static_cast<size_t>(r * cols + c);
        d[index[i]] += s * g[i];
      }
    }
  }
};

// The source with the tuned matrices dequantized from their current tables.
class TunedWeights : public ane::WeightSource {
 public:
  TunedWeights(const ane::WeightSource& base,
               const std::map<std::pair<TensorRole, int64_t>, TunedMatrix*>& tuned)
      : base_(base), tuned_(tuned) {}
  Result<io::TensorData> Read(TensorRole role, int64_t layer) const override {
    auto it = tuned_.find({role, layer});
    if (it == tuned_.end()) return base_.Read(role, layer);
    const TunedMatrix& m = *it->second;
    io::TensorData t;
    t.info.name = m.name;
    t.info.dtype = io::TensorDType::kF32;
    t.info.shape = {m.rows, m.cols};
    const Vec q = m.Dequantized();
    t.owned.resize(q.size() * sizeof(float));
    std::memcpy(t.owned.data(), q.data(), t.owned.size());
    t.data = t.owned;
    return t;
  }

 private:
  const ane::WeightSource& base_;
  const std::map<std::pair<TensorRole, int64_t>, TunedMatrix*>& tuned_;
};

// [n, m] -> [m, n].
void Transpose(const Vec& a, int64_t n, int64_t m, Vec* out) {
  out->resize(a.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j)
      (*out)[static_cast<size_t>(j * n + i)] = a[static_cast<size_t>(i * m + j)];
  }
}

Status SetUp(const ane::WeightSource& weights, const quant::ChannelImportance& importance,
             int group, ane::LutBitsPlan* plan, int64_t layers, std::vector<TunedMatrix>* out) {
  for (int64_t l = 0; l < layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      auto it = plan->find({kRoles[p], l});
      if (it == plan->end() || it->second.tables.empty()) continue;
      TunedMatrix m;
      m.planned = &it->second;
      m.role = kRoles[p];
      m.layer = l;
      m.name = ane::LayerWeightName(l, ReferenceTransformer::kProjectionTags[p]);
      auto gr = importance.gradient_rows.find(m.name);
      auto gc = importance.gradient_columns.find(m.name);
      if (gr == importance.gradient_rows.end() || gc == importance.gradient_columns.end()) continue;
      ANEC_ASSIGN_OR_RETURN(io::TensorData t, weights.Read(kRoles[p], l));
      if (t.info.shape.size() != 2) return Internal("table tuning: {} is not a matrix", m.name);
      m.rows = t.info.shape[0];
      m.cols = t.info.shape[1];
      ANEC_ASSIGN_OR_RETURN(Vec values, io::ToFloat32(t));
      m.weights.resize(values.size());
      for (size_t i = 0; i < values.size(); ++i) m.weights[i] = FloatToHalf(values[i]);
      m.group = ane::LutGroupFor(m.rows, group);
      m.entries = int64_t{1} << m.planned->bits;
      const int64_t groups = m.rows / m.group;
      if (static_cast<int64_t>(m.planned->tables.size()) != groups * m.entries ||
          static_cast<int64_t>(gr->second.size()) != m.rows ||
          static_cast<int64_t>(gc->second.size()) != m.cols) {
        return Internal("table tuning: {}: tables or statistics do not match [{}, {}]", m.name,
                        m.rows, m.cols);
      }
      m.fisher_rows = &gr->second;
      m.fisher_cols = &gc->second;
      m.tables.resize(m.planned->tables.size());
      for (size_t i = 0; i < m.tables.size(); ++i) m.tables[i] = HalfToFloat(m.planned->tables[i]);
      m.scales.assign(static_cast<size_t>(m.rows), 1.0f);
      if (!m.planned->row_scales.empty()) {
        for (int64_t r = 0; r < m.rows; ++r)
          m.scales[static_cast<size_t>(r)] =
              HalfToFloat(m.planned->row_scales[static_cast<size_t>(r)]);
      }
      m.index.resize(m.weights.size());
      out->push_back(std::move(m));
    }
  }
  return Status::Ok();
}

// Ascending within each group, rounded to fp16 when `round`.
void Normalise(TunedMatrix* m, bool round) {
  for (size_t g = 0; g < m->tables.size(); g += static_cast<size_t>(m->entries)) {
    float* t = m->tables.data() + g;
    if (round) {
      for (int64_t e = 0; e < m->entries; ++e) t[e] = HalfToFloat(FloatToHalf(t[e]));
    }
    std::sort(t, t + m->entries);
  }
}

}  // namespace

Result<LutTableTuningReport> TuneLutTables(const ane::WeightSource& weights,
                                           const model::ModelSpec& spec,
                                           const quant::ChannelImportance& importance,
                                           std::span<const int32_t> tokens,
                                           std::span<const int32_t> validation, int group,
                                           ane::LutBitsPlan* plan,
                                           const LutTableTuningOptions& options, std::FILE* log) {
  ANEC_RETURN_IF_ERROR(CheckLossGradientsSupported(spec));
  if (tokens.size() < 2) {
    return InvalidArgument("table tuning: need at least 2 tokens, got {}", tokens.size());
  }
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<TunedMatrix> matrices;
  ANEC_RETURN_IF_ERROR(SetUp(weights, importance, group, plan, spec.num_layers, &matrices));
  LutTableTuningReport report;
  report.matrices = static_cast<int>(matrices.size());
  if (matrices.empty()) return report;
  std::map<std::pair<TensorRole, int64_t>, TunedMatrix*> by_key;
  for (TunedMatrix& m : matrices) by_key[{m.role, m.layer}] = &m;

  // Windows (training ones first, then validation ones) and the original model's
  // log-probabilities on them.
  const int64_t window = std::max<int64_t>(2, options.window);
  std::vector<std::span<const int32_t>> spans;
  auto add_windows = [&](std::span<const int32_t> ids) {
    const int64_t n = static_cast<int64_t>(ids.size());
    for (int64_t b = 0; b + 1 < n; b += window) {
      if (std::min(window, n - b) < 2) break;
      spans.push_back(
          ids.subspan(static_cast<size_t>(b), static_cast<size_t>(std::min(window, n - b))));
    }
  };
  add_windows(tokens);
  const size_t training = spans.size();
  add_windows(validation);
  const bool validated = spans.size() > training;
  double positions = 0, validation_positions = 0;
  for (size_t w = 0; w < spans.size(); ++w) {
    (w < training ? positions : validation_positions) += static_cast<double>(spans[w].size() - 1);
  }
  int64_t longest = 2;
  for (const auto& s : spans) longest = std::max(longest, static_cast<int64_t>(s.size()));
  std::vector<Vec> targets(spans.size());
  {
    ReferenceTransformer original(weights, spec, options.threads);
    ANEC_RETURN_IF_ERROR(original.Init(longest));
    for (size_t w = 0; w < spans.size(); ++w) {
      ANEC_RETURN_IF_ERROR(original.Window(spans[w], &targets[w], {}).status());
      const int64_t V = static_cast<int64_t>(targets[w].size() / spans[w].size());
      for (size_t i = 0; i < spans[w].size(); ++i) {
        const std::span<float> row(targets[w].data() + static_cast<int64_t>(i) * V,
                                   static_cast<size_t>(V));
        const Vec log_probs = LogSoftmax(row);  // loss_sensitivity.h's, as the probe uses
        std::copy(log_probs.begin(), log_probs.end(), row.begin());
      }
    }
  }
  if (log) {
    fmt::print(log,
               "table tuning: {} matrices, {} + {} validation tokens; original model's "
               "distributions in {:.1f} s\n",
               matrices.size(), tokens.size(), validated ? validation.size() : 0, seconds());
  }

  runtime::ThreadPool pool(options.threads);
  TunedWeights tuned(weights, by_key);
  // One pass over the windows with the current tables: the summed KL, and with `gradients` the
  // gradient and step denominators of every entry.
  auto pass = [&](bool gradients, size_t first, size_t last) -> Result<double> {
    for (TunedMatrix& m : matrices) {
      m.Assign();
      if (gradients) {
        m.Curvature(positions);
        m.grad.assign(m.tables.size(), 0.0);
      }
    }
    ReferenceTransformer ref(tuned, spec, options.threads);
    ANEC_RETURN_IF_ERROR(ref.Init(longest));
    double loss = 0;
    Vec gt, product;
    for (size_t w = first; w < last; ++w) {
      const int64_t t = static_cast<int64_t>(spans[w].size());
      auto sink = [&](int64_t l, const Vec(&g)[kNumProj], const Vec* const(&x)[kNumProj]) {
        for (int p = 0; p < kNumProj; ++p) {
          auto it = by_key.find({kRoles[p], l});
          if (it == by_key.end()) continue;
          TunedMatrix& m = *it->second;
          // G = g^T x as GemmXWt(g^T, x^T): out[i, j] = sum_t g^T[i, t] x^T[j, t].
          Transpose(g[p], t, m.rows, &gt);
          auto xs = std::make_shared<Vec>();
          Transpose(*x[p], t, m.cols, xs.get());
          runtime::Tensor view =
              runtime::Tensor::View(runtime::DType::kFloat32, {m.cols, t},
                                    reinterpret_cast<const uint8_t*>(xs->data()), xs);
          auto wm = runtime::WeightMatrix::Create(view, m.cols, t);
          if (!wm.ok()) continue;  // cannot happen for a dense fp32 view
          product.assign(static_cast<size_t>(m.rows * m.cols), 0.0f);
          runtime::GemmXWt(gt.data(), m.rows, *wm, nullptr, product.data(), &pool);
          m.AddGradient(product);
        }
      };
      ReferenceTransformer::LayerSink none;
      ANEC_ASSIGN_OR_RETURN(double window_loss,
                            ref.Window(spans[w], nullptr, gradients ? sink : none, targets[w]));
      loss += window_loss;
    }
    return loss;
  };
  // Tables at `eta` along the preconditioned descent direction from `base`.
  auto move = [&](const std::vector<Vec>& base, const std::vector<std::vector<double>>& grad,
                  const std::vector<std::vector<double>>& curv, double eta) {
    for (size_t i = 0; i < matrices.size(); ++i) {
      TunedMatrix& m = matrices[i];
      for (size_t e = 0; e < m.tables.size(); ++e) {
        const double h = curv[i][e];
        m.tables[e] = static_cast<float>(base[i][e] - (h > 0 ? eta * grad[i][e] / h : 0.0));
      }
      Normalise(&m, false);
    }
  };
  std::vector<Vec> base(matrices.size());
  std::vector<std::vector<double>> grad(matrices.size()), curv(matrices.size());
  // Steps are judged on the validation windows (the training ones when there are none), so that
  // a step that only fits the training tokens is not taken.
  const size_t judge_first = validated ? training : 0, judge_last = spans.size();
  const double judge_positions = validated ? validation_positions : positions;
  double eta = options.step;
  ANEC_ASSIGN_OR_RETURN(double loss, pass(true, 0, training));
  double judged = loss;
  if (validated) {
    ANEC_ASSIGN_OR_RETURN(judged, pass(false, judge_first, judge_last));
  }
  report.mean_kl.push_back(judged / judge_positions);
  if (log) {
    fmt::print(log,
               "table tuning: k-means tables: mean KL {:.5f} nats, {:.5f} on validation "
               "({:.1f} s)\n",
               loss / positions, judged / judge_positions, seconds());
  }
  for (int round = 1; round <= options.rounds; ++round) {
    for (size_t i = 0; i < matrices.size(); ++i) {
      base[i] = matrices[i].tables;
      grad[i] = matrices[i].grad;
      curv[i] = matrices[i].curv;
    }
    // Line search: eta, then doubled while it keeps improving, or quartered until it improves.
    double best = judged, best_eta = 0;
    for (int tries = 0; tries < 4; ++tries) {
      move(base, grad, curv, eta);
      ANEC_ASSIGN_OR_RETURN(double trial, pass(false, judge_first, judge_last));
      if (log) {
        fmt::print(log, "table tuning: round {}: step {:.3g}: mean KL {:.5f} ({:.1f} s)\n", round,
                   eta, trial / judge_positions, seconds());
      }
      if (trial < best) {
        best = trial;
        best_eta = eta;
        eta *= 2;
      } else if (best_eta > 0) {
        break;
      } else {
        eta /= 4;
      }
    }
    if (best_eta == 0) {
      for (size_t i = 0; i < matrices.size(); ++i) matrices[i].tables = base[i];
      break;
    }
    eta = best_eta;
    move(base, grad, curv, eta);
    judged = best;
    report.best_round = round;
    report.mean_kl.push_back(judged / judge_positions);
    if (round == options.rounds) break;
    ANEC_ASSIGN_OR_RETURN(loss, pass(true, 0, training));
  }
  for (TunedMatrix& m : matrices) {
    Normalise(&m, true);
    for (size_t e = 0; e < m.tables.size(); ++e) m.planned->tables[e] = FloatToHalf(m.tables[e]);
  }
  return report;
}

}  // namespace anec::calib
