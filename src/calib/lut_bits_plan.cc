#include "calib/lut_bits_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <queue>

#include "ane/half.h"
#include "quant/fp16.h"
#include "quant/palettize.h"

namespace anec::calib {
namespace {

constexpr int kBits[3] = {4, 6, 8};
// A channel whose stream or block power is this many times the median is a massive activation
// (ResidualGains). On SmolLM2 the largest reach 10^3-10^4 x the median; thresholds of 10, 30, 100
// and 300 gave --lut auto 4.5 perplexities within 0.13 of each other.
constexpr double kMassiveChannel = 30;

struct Projection {
  model::TensorRole role;
  const char* tag;
};
constexpr Projection kProjections[] = {
    {model::TensorRole::kQProj, "q_proj"},       {model::TensorRole::kKProj, "k_proj"},
    {model::TensorRole::kVProj, "v_proj"},       {model::TensorRole::kOProj, "o_proj"},
    {model::TensorRole::kGateProj, "gate_proj"}, {model::TensorRole::kUpProj, "up_proj"},
    {model::TensorRole::kDownProj, "down_proj"},
};

// The matrix as the converter stores it (fp16 bit patterns, row-major); sets rows and cols.
Result<std::vector<uint16_t>> ReadHalf(const ane::WeightSource& weights, LutBitsMatrix* m) {
  ANEC_ASSIGN_OR_RETURN(io::TensorData data, weights.Read(m->role, m->layer));
  if (data.info.shape.size() != 2) {
    return Internal("--lut auto: {} is not a matrix", data.info.name);
  }
  m->rows = data.info.shape[0];
  m->cols = data.info.shape[1];
  ANEC_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ane::ToHalfBytes(data, 0, m->rows * m->cols));
  std::vector<uint16_t> half(bytes.size() / 2);
  std::memcpy(half.data(), bytes.data(), half.size() * 2);
  return half;
}

// The calibrated importance of m's columns, or empty (uniform).
std::span<const float> ColumnImportance(const quant::ChannelImportance& importance,
                                        const LutBitsMatrix& m) {
  const std::vector<float>* found = importance.Find(m.name);
  if (found != nullptr && static_cast<int64_t>(found->size()) == m.cols) return *found;
  return {};
}

// What the 4-bit palettization `r` of `half` changes: table entry minus fp16 weight.
WeightDelta DeltaOf(const LutBitsMatrix& m, std::span<const uint16_t> half,
                    const quant::LutResult& r) {
  WeightDelta d{m.name, m.rows, m.cols, std::vector<float>(half.size())};
  const std::vector<uint16_t> q = quant::DequantizeToHalf(r);  // row scales applied
  for (int64_t i = 0; i < m.rows * m.cols; ++i) {
    d.delta[static_cast<size_t>(i)] = quant::HalfToFloat(q[static_cast<size_t>(i)]) -
                                      quant::HalfToFloat(half[static_cast<size_t>(i)]);
  }
  return d;
}

// The loss gradients of one matrix (ChannelImportance::gradient_rows / gradient_columns).
struct Gradients {
  std::span<const float> rows, cols;
};

// sum_ij rows_i cols_j (w_ij - q_ij)^2: the rank-one Fisher information's weighting of r's error,
// about twice the expected increase of the loss per token (loss_gradients.h).
double FisherError(const quant::LutResult& r, std::span<const uint16_t> half, const Gradients& g) {
  const std::vector<uint16_t> q = quant::DequantizeToHalf(r);
  double total = 0;
  for (int64_t i = 0; i < r.rows; ++i) {
    double row = 0;
    for (int64_t j = 0; j < r.cols; ++j) {
      const size_t e = static_cast<size_t>(i * r.cols + j);
      const double d = double{quant::HalfToFloat(q[e])} - quant::HalfToFloat(half[e]);
      row += double{g.cols[static_cast<size_t>(j)]} * d * d;
    }
    total += double{g.rows[static_cast<size_t>(i)]} * row;
  }
  return total;
}

// m's gradients when both vectors are there with m's shape, else empty spans.
Gradients GradientsOf(const quant::ChannelImportance& importance, const LutBitsMatrix& m) {
  auto r = importance.gradient_rows.find(m.name);
  auto c = importance.gradient_columns.find(m.name);
  if (r == importance.gradient_rows.end() || c == importance.gradient_columns.end() ||
      static_cast<int64_t>(r->second.size()) != m.rows ||
      static_cast<int64_t>(c->second.size()) != m.cols) {
    return {};
  }
  return {r->second, c->second};
}

// m's errors at 4, 6 and 8 bits: relative (proxy and measured gains), or with `use_gradients`
// the Fisher errors (FisherError); with `delta4`, also what its 4-bit palettization changes
// (measured gains), from the same palettization.
Status Measure(const ane::WeightSource& weights, const quant::ChannelImportance& importance,
               int group, bool row_scale, bool use_gradients, LutBitsMatrix* m,
               WeightDelta* delta4) {
  ANEC_ASSIGN_OR_RETURN(std::vector<uint16_t> half, ReadHalf(weights, m));
  const std::span<const float> imp = ColumnImportance(importance, *m);
  const Gradients grad = use_gradients ? GradientsOf(importance, *m) : Gradients{};
  if (use_gradients && grad.rows.empty()) {
    return InvalidArgument(
        "--lut auto: the loss gradients of {} in the calibration statistics ({}) do not fit its "
        "{}x{} shape (statistics of another model?); measure again with --calibration default "
        "or a text file",
        m->name, importance.description, m->rows, m->cols);
  }
  // Error denominators; for the matrices that write the residual stream also each output
  // channel's power (ResidualGains).
  const bool writes_stream =
      m->role == model::TensorRole::kOProj || m->role == model::TensorRole::kDownProj;
  if (writes_stream) m->row_power.assign(static_cast<size_t>(m->rows), 0.0);
  double signal = 0;
  for (int64_t r = 0; r < m->rows; ++r) {
    double row = 0;
    for (int64_t c = 0; c < m->cols; ++c) {
      const double w = quant::HalfToFloat(half[static_cast<size_t>(r * m->cols + c)]);
      row += (imp.empty() ? 1.0 : imp[static_cast<size_t>(c)]) * w * w;
    }
    signal += row;
    if (writes_stream) m->row_power[static_cast<size_t>(r)] = row;
  }
  for (int i = 0; i < 3; ++i) {
    quant::LutConfig cfg;
    cfg.bits = kBits[i];
    cfg.group_size = ane::LutGroupFor(m->rows, group);
    cfg.row_scale = row_scale;
    ANEC_ASSIGN_OR_RETURN(quant::LutResult r,
                          quant::Palettize(half, m->rows, m->cols, cfg, imp, m->name));
    m->error[i] = use_gradients ? FisherError(r, half, grad)
                  : signal > 0  ? r.weighted_sse / signal
                                : 0.0;
    if (i == 0 && delta4 != nullptr) *delta4 = DeltaOf(*m, half, r);
    m->tables_input_hash[i] = r.input_hash;
    m->tables[i] = std::move(r.lut_fp16);
    m->row_scales[i] = std::move(r.row_scale_fp16);
  }
  return Status::Ok();
}

bool IsMlp(model::TensorRole role) {
  return role == model::TensorRole::kGateProj || role == model::TensorRole::kUpProj ||
         role == model::TensorRole::kDownProj;
}

// Per-channel mean power of the embedding rows: the residual stream before layer 0.
Result<std::vector<double>> EmbeddingChannelPower(const ane::WeightSource& weights) {
  ANEC_ASSIGN_OR_RETURN(io::TensorData data, weights.Read(model::TensorRole::kEmbedding, 0));
  if (data.info.shape.size() != 2 || data.info.shape[0] == 0) {
    return Internal("--lut auto: {} is not a matrix", data.info.name);
  }
  const int64_t rows = data.info.shape[0], hidden = data.info.shape[1];
  ANEC_ASSIGN_OR_RETURN(std::vector<float> e, io::ToFloat32(data));
  std::vector<double> power(static_cast<size_t>(hidden), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = e.data() + r * hidden;
    for (int64_t c = 0; c < hidden; ++c) power[static_cast<size_t>(c)] += double{row[c]} * row[c];
  }
  for (double& p : power) p /= static_cast<double>(rows);
  return power;
}

// Sets every layer matrix's gain from its block's ResidualGains entry. Blocks in stream order:
// layer L's attention (next read by its post-attention norm), then its MLP (next read by layer
// L+1's input norm, the final norm after the last layer).
Status SetGains(const ane::WeightSource& weights, const model::ModelSpec& spec,
                std::vector<LutBitsMatrix>* ms) {
  if (spec.sandwich_norms || spec.norm_weight_offset != 0.0 || spec.embedding_scale != 1.0) {
    // The residual-gain model reads the next norm's stored weight as its gain and the embedding
    // rows as the stream; Gemma's 1 + w gains, output norms and scaled embeddings are not modeled.
    return Unsupported(
        "--lut auto: the residual gains are not modeled for {} (Gemma-style norms "
        "and embedding scale); use --lut N",
        model::ArchitectureName(spec.architecture));
  }
  ANEC_ASSIGN_OR_RETURN(std::vector<double> stream, EmbeddingChannelPower(weights));
  std::map<std::pair<int64_t, bool>, const LutBitsMatrix*> writer;  // (layer, is MLP) -> o/down
  for (const LutBitsMatrix& m : *ms) {
    if (m.role == model::TensorRole::kOProj) writer[{m.layer, false}] = &m;
    if (m.role == model::TensorRole::kDownProj) writer[{m.layer, true}] = &m;
  }
  std::vector<ResidualBlock> blocks;
  for (const auto& [key, m] : writer) {  // map order: layer order, attention before MLP
    const auto [layer, mlp] = key;
    const bool last = mlp && layer + 1 == spec.num_layers;
    const model::TensorRole norm = !mlp   ? model::TensorRole::kPostAttnNorm
                                   : last ? model::TensorRole::kFinalNorm
                                          : model::TensorRole::kInputNorm;
    ANEC_ASSIGN_OR_RETURN(io::TensorData data, weights.Read(norm, !mlp   ? layer
                                                                  : last ? 0
                                                                         : layer + 1));
    ANEC_ASSIGN_OR_RETURN(std::vector<float> gamma, io::ToFloat32(data));
    if (gamma.size() != stream.size() || m->row_power.size() != stream.size()) {
      return Internal("--lut auto: {} or {} does not match the hidden size {}", data.info.name,
                      m->name, stream.size());
    }
    ResidualBlock b;
    b.output_power = m->row_power;
    b.next_norm.assign(gamma.begin(), gamma.end());
    blocks.push_back(std::move(b));
  }
  const std::vector<double> gains = ResidualGains(std::move(stream), blocks);
  std::map<std::pair<int64_t, bool>, double> gain;
  size_t i = 0;
  for (const auto& entry : writer) gain[entry.first] = gains[i++];
  for (LutBitsMatrix& m : *ms) {
    if (auto it = gain.find({m.layer, IsMlp(m.role)}); it != gain.end()) m.gain = it->second;
  }
  return Status::Ok();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

std::vector<double> ResidualGains(std::vector<double> stream,
                                  const std::vector<ResidualBlock>& blocks) {
  std::vector<double> gains;
  gains.reserve(blocks.size());
  for (const ResidualBlock& b : blocks) {
    const double stream_median = Median(stream), block_median = Median(b.output_power);
    double added = 0, read = 0;
    for (size_t c = 0; c < stream.size(); ++c) {
      const bool massive = (stream_median > 0 && stream[c] > kMassiveChannel * stream_median) ||
                           (block_median > 0 && b.output_power[c] > kMassiveChannel * block_median);
      if (!massive) {
        const double g2 = b.next_norm[c] * b.next_norm[c];
        added += g2 * b.output_power[c];
        read += g2 * stream[c];
      }
      stream[c] += b.output_power[c];
    }
    gains.push_back(read > 0 ? added / read : 1.0);
  }
  return gains;
}

double LutBitsMatrix::StoredBits(int b, int group) const {
  return b + std::ldexp(16.0, b) / (static_cast<double>(ane::LutGroupFor(rows, group)) * cols) +
         (row_scale ? 16.0 / static_cast<double>(cols) : 0.0);
}

Status AllocateLutBits(std::vector<LutBitsMatrix>* matrices, double budget_bits, int group,
                       double* average_bits) {
  if (!(budget_bits > 0 && budget_bits <= 16)) {
    return InvalidArgument(
        "--lut-bits-budget {}: give the average stored bits per weight, e.g. 4.5", budget_bits);
  }
  double weights = 0, floor_bits = 0, total = 0;
  std::vector<int> level(matrices->size(), 2);  // index into kBits
  for (const LutBitsMatrix& m : *matrices) {
    const double n = static_cast<double>(m.rows * m.cols);
    weights += n;
    floor_bits += n * m.StoredBits(4, group);
    total += n * m.StoredBits(8, group);
  }
  if (weights == 0) return InvalidArgument("--lut auto: no matrix to palettize");
  if (floor_bits > budget_bits * weights * (1 + 1e-12)) {
    return InvalidArgument(
        "--lut-bits-budget {}: below what 4 bits everywhere stores ({:.3f} bits per weight with "
        "the tables); give at least {:.2f}",
        budget_bits, floor_bits / weights, std::ceil(floor_bits / weights * 100) / 100);
  }
  // Cheapest error increase per stored bit saved first; ties by matrix order (deterministic).
  using Step = std::pair<double, size_t>;
  std::priority_queue<Step, std::vector<Step>, std::greater<>> steps;
  auto push = [&](size_t i) {
    const LutBitsMatrix& m = (*matrices)[i];
    const int l = level[i];
    if (l == 0) return;
    const double n = static_cast<double>(m.rows * m.cols);
    const double saved = n * (m.StoredBits(kBits[l], group) - m.StoredBits(kBits[l - 1], group));
    steps.push({m.gain * std::max(0.0, m.error[l - 1] - m.error[l]) / saved, i});
  };
  for (size_t i = 0; i < matrices->size(); ++i) push(i);
  while (total > budget_bits * weights * (1 + 1e-12) && !steps.empty()) {
    const size_t i = steps.top().second;
    steps.pop();
    const LutBitsMatrix& m = (*matrices)[i];
    const double n = static_cast<double>(m.rows * m.cols);
    total -= n * (m.StoredBits(kBits[level[i]], group) - m.StoredBits(kBits[level[i] - 1], group));
    --level[i];
    push(i);
  }
  for (size_t i = 0; i < matrices->size(); ++i) (*matrices)[i].bits = kBits[level[i]];
  *average_bits = total / weights;
  return Status::Ok();
}

Result<LutBitsPlanResult> PlanLutBits(const ane::WeightSource& weights,
                                      const model::ModelSpec& spec,
                                      const quant::ChannelImportance& importance,
                                      double budget_bits, int group, bool row_scale, std::FILE* log,
                                      const BlockLoss& block_loss) {
  LutBitsPlanResult out;
  for (int64_t layer = 0; layer < spec.num_layers; ++layer) {
    for (const Projection& p : kProjections) {
      LutBitsMatrix m;
      m.role = p.role;
      m.layer = layer;
      m.name = ane::LayerWeightName(layer, p.tag);
      m.row_scale = row_scale;
      out.matrices.push_back(m);
    }
  }
  // Loss gradients (loss_gradients.h) put every matrix's error on the loss's scale: no gains.
  // They are used when measured for every matrix and no measured gains are asked for.
  bool use_gradients = !block_loss;
  for (size_t i = 0; use_gradients && i < out.matrices.size(); ++i) {
    const LutBitsMatrix& m = out.matrices[i];
    use_gradients =
        importance.gradient_rows.count(m.name) > 0 && importance.gradient_columns.count(m.name) > 0;
  }
  out.loss_gradients = use_gradients;
  // Matrices come block by block (q k v o, then gate up down, per layer). With block_loss each
  // block's 4-bit changes are kept from its own measurement until the model has run with them.
  std::vector<WeightDelta> block;
  const auto start = std::chrono::steady_clock::now();
  const size_t blocks = static_cast<size_t>(spec.num_layers) * 2;
  size_t blocks_done = 0;
  for (size_t i = 0; i < out.matrices.size(); ++i) {
    LutBitsMatrix& m = out.matrices[i];
    WeightDelta delta;
    ANEC_RETURN_IF_ERROR(Measure(weights, importance, group, row_scale, use_gradients, &m,
                                 block_loss ? &delta : nullptr));
    if (log != nullptr && (i + 1) % 16 == 0) {
      fmt::print(log, "  --lut auto: measured {}/{} matrices at 4, 6 and 8 bits\n", i + 1,
                 out.matrices.size());
      std::fflush(log);
    }
    if (!block_loss) continue;
    block.push_back(std::move(delta));
    const bool block_ends =
        i + 1 == out.matrices.size() || IsMlp(out.matrices[i + 1].role) != IsMlp(m.role);
    if (!block_ends) continue;
    ANEC_ASSIGN_OR_RETURN(const double kl, block_loss(block));
    double error = 0;
    for (size_t k = i + 1 - block.size(); k <= i; ++k) error += out.matrices[k].error[0];
    for (size_t k = i + 1 - block.size(); k <= i; ++k) {
      out.matrices[k].block_kl = kl;
      out.matrices[k].gain = error > 0 ? kl / error : 0.0;
    }
    block.clear();
    ++blocks_done;
    if (log != nullptr && (blocks_done % 4 == 0 || blocks_done == blocks)) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print(log,
                 "  --lut auto: measured the model's response to {}/{} blocks at 4 bits "
                 "({:.0f} s, ETA {:.0f} s)\n",
                 blocks_done, blocks, s,
                 s / static_cast<double>(blocks_done) * static_cast<double>(blocks - blocks_done));
      std::fflush(log);
    }
  }
  if (!block_loss && !use_gradients) ANEC_RETURN_IF_ERROR(SetGains(weights, spec, &out.matrices));
  ANEC_RETURN_IF_ERROR(AllocateLutBits(&out.matrices, budget_bits, group, &out.average_bits));
  for (LutBitsMatrix& m : out.matrices) {
    const int chosen = m.bits == 4 ? 0 : m.bits == 6 ? 1 : 2;
    out.plan[{m.role, m.layer}] = {m.bits, std::move(m.tables[chosen]), m.tables_input_hash[chosen],
                                   std::move(m.row_scales[chosen])};
    for (std::vector<uint16_t>& t : m.tables) t = {};
    for (std::vector<uint16_t>& t : m.row_scales) t = {};
    out.total_error += m.gain * m.error[chosen];
  }
  if (log != nullptr) {
    fmt::print(log,
               "plan: --lut auto, budget {} bits per FFN weight: {:.3f} stored (tables included)\n",
               budget_bits, out.average_bits);
    fmt::print(log, "  errors: {}\n",
               use_gradients ? "weighted by the loss gradients (about 2x the loss increase per "
                               "token, in nats)"
               : block_loss  ? "relative, times the block's measured KL per relative error"
                             : "relative, times the block's residual gain");
    fmt::print(log, "  {:<24} {:>11} {:>9} {:>10} {:>10} {:>10} {:>10} {:>5}\n", "matrix", "shape",
               "gain", "block KL@4", "err@4", "err@6", "err@8", "bits");
    for (const LutBitsMatrix& m : out.matrices) {
      fmt::print(log, "  {:<24} {:>11} {:>9.4g} {:>10} {:>10.3e} {:>10.3e} {:>10.3e} {:>5}\n",
                 m.name, fmt::format("{}x{}", m.rows, m.cols), m.gain,
                 m.block_kl < 0 ? std::string("-") : fmt::format("{:.3e}", m.block_kl), m.error[0],
                 m.error[1], m.error[2], m.bits);
    }
  }
  return out;
}

}  // namespace anec::calib
