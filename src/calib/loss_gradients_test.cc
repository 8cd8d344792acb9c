#include "calib/loss_gradients.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ane/ane_test_util.h"
#include "ane/half.h"
#include "ane/weight_emitter.h"
#include "base/file_system.h"
#include "io/tensor_source.h"
#include "model/hf_checkpoint.h"

namespace anec::calib {
namespace {

// The reference's logits against transformers' (fp32) on every parity fixture's prompts: the
// forward pass, RoPE variants, GQA, biases, q/k norms, windows and Gemma 3's differences are
// what transformers computes. (Embedding and head are held in fp16, hence the tolerance.)
TEST(LossGradientsTest, ReferenceLogitsMatchTransformers) {
  const char* src = std::getenv("ANEC_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "ANEC_SOURCE_DIR not set (run through ctest)";
  FileSystem* fs = RealFileSystem();
  const std::string root = std::string(src) + "/tests/fixtures/parity";
  int checked = 0;
  for (const char* name : {"llama3_tied", "llama_untied", "llama_linear_rope", "mistral_window",
                           "qwen2_tied", "qwen3_headdim", "phi3_fused", "r1_distill_llama",
                           "r1_distill_qwen", "gemma3_config", "gemma3_iswa", "gemma3_wrapped"}) {
    const std::string dir = root + "/" + name;
    if (!fs->Exists(dir + "/reference.json")) continue;
    auto loaded = model::LoadHfCheckpoint(fs, dir);
    ASSERT_TRUE(loaded.ok()) << name << ": " << loaded.status().ToString();
    ane::CheckpointWeights weights(&loaded->checkpoint);
    auto text = fs->ReadFile(dir + "/reference.json");
    ASSERT_TRUE(text.ok());
    const nlohmann::json ref = nlohmann::json::parse(*text);
    for (const auto& prompt : ref["prompts"]) {
      const std::vector<int32_t> ids = prompt["ids"].get<std::vector<int32_t>>();
      if (ids.size() < 2) continue;
      auto got = RunReferenceWindow(weights, loaded->spec, ids, "", 1);
      ASSERT_TRUE(got.ok()) << name << ": " << got.status().ToString();
      const int64_t vocab = static_cast<int64_t>(got->logits.size() / ids.size());
      double worst = 0, scale = 0;
      for (size_t t = 0; t < ids.size(); ++t) {
        const std::vector<float> want = prompt["logits"][t].get<std::vector<float>>();
        ASSERT_EQ(static_cast<int64_t>(want.size()), vocab) << name;
        for (int64_t v = 0; v < vocab; ++v) {
          worst = std::max(worst, std::fabs(double{got->logits[t * vocab + v]} - want[v]));
          scale = std::max(scale, std::fabs(double{want[v]}));
        }
      }
      EXPECT_LT(worst, 2e-2 * std::max(1.0, scale)) << name << " (largest logit " << scale << ")";
    }
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

// `w` with `delta` added to one element of one matrix.
ane::MemoryWeightSource Nudged(const ane::MemoryWeightSource& w, model::TensorRole role,
                               int64_t layer, int64_t index, float delta) {
  ane::MemoryWeightSource out = w;
  std::vector<float> v = *w.Values(role, layer);
  v[static_cast<size_t>(index)] += delta;
  out.Set(role, layer, w.Read(role, layer)->info.shape, std::move(v));
  return out;
}

// The backward pass against central differences of the loss: dL/dW_ij = sum_t g_ti x_tj for
// every projection of a random two-layer model (with q/k norms and biases, then a sliding
// window), so every gradient path (MLP, attention, RoPE, norms, residuals) is exercised.
TEST(LossGradientsTest, GradientsMatchFiniteDifferences) {
  for (const int variant : {0, 1}) {
    model::ModelSpec spec = ane::TinySpec(2, 50);
    if (variant == 0) {
      spec.qk_norm = true;
      spec.attention_bias = true;
    } else {
      spec.sliding_window = 3;
    }
    const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 7 + variant);
    const std::vector<int32_t> ids = {1, 7, 3, 9, 4, 2, 8};
    const struct {
      model::TensorRole role;
      const char* tag;
    } projections[] = {
        {model::TensorRole::kQProj, "q_proj"},       {model::TensorRole::kKProj, "k_proj"},
        {model::TensorRole::kVProj, "v_proj"},       {model::TensorRole::kOProj, "o_proj"},
        {model::TensorRole::kGateProj, "gate_proj"}, {model::TensorRole::kUpProj, "up_proj"},
        {model::TensorRole::kDownProj, "down_proj"}};
    for (const int64_t layer : {0, 1}) {
      for (const auto& p : projections) {
        const std::string name = ane::LayerWeightName(layer, p.tag);
        auto base = RunReferenceWindow(weights, spec, ids, name, 1);
        ASSERT_TRUE(base.ok()) << base.status().ToString();
        const int64_t t = static_cast<int64_t>(ids.size());
        const int64_t rows = static_cast<int64_t>(base->tap_grad.size()) / t;
        const int64_t cols = static_cast<int64_t>(base->tap_input.size()) / t;
        ASSERT_GT(rows, 0) << name;
        for (const int64_t e : {int64_t{0}, rows * cols / 2 + 3, rows * cols - 1}) {
          const int64_t i = e / cols, j = e % cols;
          double analytic = 0;
          for (int64_t s = 0; s < t; ++s) {
            analytic += double{base->tap_grad[s * rows + i]} * base->tap_input[s * cols + j];
          }
          const float h = 1e-2f;
          const ane::MemoryWeightSource plus = Nudged(weights, p.role, layer, e, h);
          const ane::MemoryWeightSource minus = Nudged(weights, p.role, layer, e, -h);
          auto lp = RunReferenceWindow(plus, spec, ids, "", 1);
          auto lm = RunReferenceWindow(minus, spec, ids, "", 1);
          ASSERT_TRUE(lp.ok() && lm.ok());
          const double numeric = (lp->loss - lm->loss) / (2 * h);
          EXPECT_NEAR(analytic, numeric, 2e-3 + 2e-2 * std::fabs(numeric))
              << name << " [" << i << ", " << j << "] variant " << variant;
        }
      }
    }
  }
}

// The statistics are the means over the tokens of g^2 per row and x^2 per column.
TEST(LossGradientsTest, StatisticsAreMeansOfSquares) {
  const model::ModelSpec spec = ane::TinySpec(2, 50);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 3);
  const std::vector<int32_t> ids = {1, 7, 3, 9, 4, 2, 8, 5};
  auto stats = MeasureLossGradients(weights, spec, ids, {.window = 8, .threads = 1});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->rows.size(), 14u);
  EXPECT_EQ(stats->tokens, 8);
  auto w = RunReferenceWindow(weights, spec, ids, "layers_1_up_proj", 1);
  ASSERT_TRUE(w.ok());
  EXPECT_NEAR(stats->mean_loss, w->loss / 7, 1e-6);
  const std::vector<float>& r = stats->rows.at("layers_1_up_proj");
  const std::vector<float>& c = stats->columns.at("layers_1_up_proj");
  const int64_t rows = static_cast<int64_t>(r.size()), cols = static_cast<int64_t>(c.size());
  for (int64_t i = 0; i < rows; i += 5) {
    double sum = 0;
    for (int64_t s = 0; s < 8; ++s) sum += std::pow(double{w->tap_grad[s * rows + i]}, 2);
    EXPECT_NEAR(r[static_cast<size_t>(i)], sum / 8, 1e-6 * (1 + sum));
  }
  for (int64_t j = 0; j < cols; j += 5) {
    double sum = 0;
    for (int64_t s = 0; s < 8; ++s) sum += std::pow(double{w->tap_input[s * cols + j]}, 2);
    EXPECT_NEAR(c[static_cast<size_t>(j)], sum / 8, 1e-6 * (1 + sum));
  }
  // Two windows of 4: each starts from position 0, so the statistics differ from one window.
  auto split = MeasureLossGradients(weights, spec, ids, {.window = 4, .threads = 1});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->tokens, 8);
  EXPECT_NE(split->rows.at("layers_1_up_proj"), r);
  EXPECT_FALSE(MeasureLossGradients(weights, spec, std::vector<int32_t>{1}, {}).ok());
}

// Calibration's statistics from the forward pass alone: the same columns as with the backward
// pass, no rows; the mean next-token distribution is the mean softmax of the logits at every
// position; the head's input columns are the final RMSNorm's output squared, so divided by the
// norm's gains squared they average to ~1 per position (x / rms(x) has mean square 1).
TEST(LossGradientsTest, ForwardOnlyGivesTheColumnsAndTheHeadStatistics) {
  model::ModelSpec spec = ane::TinySpec(2, 50);
  spec.rms_norm_eps = 1e-12;  // so that x / rms(x) has mean square 1 up to rounding
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 5);
  std::vector<int32_t> ids(100);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 11 + 2) % 50);
  auto both = MeasureLossGradients(weights, spec, ids, {.window = 100, .threads = 1});
  auto fwd =
      MeasureLossGradients(weights, spec, ids, {.window = 100, .threads = 1, .backward = false});
  ASSERT_TRUE(both.ok() && fwd.ok());
  EXPECT_TRUE(fwd->rows.empty());
  EXPECT_EQ(fwd->columns, both->columns);
  EXPECT_EQ(fwd->head_columns, both->head_columns);
  EXPECT_NEAR(fwd->mean_loss, both->mean_loss, 1e-9);

  auto w = RunReferenceWindow(weights, spec, ids, "", 1);
  ASSERT_TRUE(w.ok());
  const int64_t t = static_cast<int64_t>(ids.size()), vocab = 50;
  std::vector<double> mean(static_cast<size_t>(vocab), 0.0);
  for (int64_t i = 0; i < t; ++i) {  // every position, the last included
    const float* z = w->logits.data() + i * vocab;
    double mx = -1e300, sum = 0;
    for (int64_t v = 0; v < vocab; ++v) mx = std::max(mx, double{z[v]});
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(z[v] - mx);
    for (int64_t v = 0; v < vocab; ++v) mean[static_cast<size_t>(v)] += std::exp(z[v] - mx) / sum;
  }
  ASSERT_EQ(static_cast<int64_t>(fwd->next_token_probability.size()), vocab);
  double total = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    EXPECT_NEAR(fwd->next_token_probability[static_cast<size_t>(v)],
                mean[static_cast<size_t>(v)] / static_cast<double>(t), 1e-6);
    total += fwd->next_token_probability[static_cast<size_t>(v)];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);

  auto gains = weights.Read(model::TensorRole::kFinalNorm, 0);
  ASSERT_TRUE(gains.ok());
  auto g = io::ToFloat32(*gains);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(fwd->head_columns.size(), g->size());
  double normalised = 0;
  for (size_t j = 0; j < g->size(); ++j) {
    const double gain = (*g)[j] + spec.norm_weight_offset;
    normalised += fwd->head_columns[j] / (gain * gain);
  }
  EXPECT_NEAR(normalised / static_cast<double>(g->size()), 1.0, 1e-5);
}

// Windows longer than the head's block of 64 positions: the loss equals the cross entropy of
// the returned logits, and the gradients still match finite differences.
TEST(LossGradientsTest, LongWindowsJoinTheHeadBlocks) {
  const model::ModelSpec spec = ane::TinySpec(2, 50);
  const ane::MemoryWeightSource weights = ane::RandomWeights(spec, 11);
  std::vector<int32_t> ids(150);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7 + 3) % 50);
  auto base = RunReferenceWindow(weights, spec, ids, "layers_1_up_proj", 1);
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  const int64_t t = static_cast<int64_t>(ids.size()), vocab = 50;
  ASSERT_EQ(static_cast<int64_t>(base->logits.size()), t * vocab);
  double loss = 0;
  for (int64_t i = 0; i + 1 < t; ++i) {
    const float* z = base->logits.data() + i * vocab;
    double mx = -1e300, sum = 0;
    for (int64_t v = 0; v < vocab; ++v) mx = std::max(mx, double{z[v]});
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(z[v] - mx);
    loss += std::log(sum) + mx - z[ids[static_cast<size_t>(i + 1)]];
  }
  EXPECT_NEAR(base->loss, loss, 1e-6 * loss);
  const int64_t rows = static_cast<int64_t>(base->tap_grad.size()) / t;
  const int64_t cols = static_cast<int64_t>(base->tap_input.size()) / t;
  for (const int64_t e : {int64_t{5}, rows * cols - 2}) {
    double analytic = 0;
    for (int64_t s = 0; s < t; ++s) {
      analytic +=
          double{base->tap_grad[s * rows + e / cols]} * base->tap_input[s * cols + e % cols];
    }
    const float h = 1e-2f;
    auto lp =
        RunReferenceWindow(Nudged(weights, model::TensorRole::kUpProj, 1, e, h), spec, ids, "", 1);
    auto lm =
        RunReferenceWindow(Nudged(weights, model::TensorRole::kUpProj, 1, e, -h), spec, ids, "", 1);
    ASSERT_TRUE(lp.ok() && lm.ok());
    const double numeric = (lp->loss - lm->loss) / (2 * h);
    EXPECT_NEAR(analytic, numeric, 2e-3 + 2e-2 * std::fabs(numeric)) << e;
  }
}

}  // namespace
}  // namespace anec::calib
