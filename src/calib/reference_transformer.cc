// ReferenceTransformer (reference_transformer.h). Written by hand, not taken from a library: the
// project has no autograd dependency, and the pass needs only the gradients with respect to
// activations of one model family, which fit in a few hundred lines.
#include "calib/reference_transformer.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "ane/rope_tables.h"
#include "calib/reference_matrix.h"
#include "io/tensor_source.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"
#include "runtime/weight_matrix.h"

namespace anec::calib {

const char* const ReferenceTransformer::kProjectionTags[kProjections] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

namespace {

using model::TensorRole;
using Vec = std::vector<float>;

struct Layer {
  Vec in_norm, post_norm, attn_out_norm, mlp_out_norm, q_norm, k_norm, q_bias, k_bias, v_bias;
  ReferenceMatrix q, k, v, o, gate, up, down;
};

// Index of each projection in a layer's gradients (ReferenceTransformer::kProjectionTags).
enum Proj { kQ, kK, kV, kO, kGate, kUp, kDown, kNumProj };
static_assert(kNumProj == ReferenceTransformer::kProjections);

}  // namespace

class ReferenceTransformer::Impl {
 public:
  Impl(const ane::WeightSource& w, const model::ModelSpec& s, int threads)
      : w_(w), s_(s), pool_(threads) {}

  Status Init(int64_t max_tokens) {
    const double off = s_.norm_weight_offset;
    ANEC_ASSIGN_OR_RETURN(final_norm_, ReadReferenceVector(w_, TensorRole::kFinalNorm, 0, off));
    ANEC_ASSIGN_OR_RETURN(embedding_, ReadReferenceMatrix(w_, TensorRole::kEmbedding, 0, true));
    if (s_.tie_word_embeddings) {
      head_ = embedding_;  // one fp16 copy
    } else {
      ANEC_ASSIGN_OR_RETURN(head_, ReadReferenceMatrix(w_, TensorRole::kLmHead, 0, true));
    }
    model::ModelSpec local = s_;
    if (s_.local_attention) {
      local.rope_theta = s_.local_attention->rope_theta;
      local.rope_scaling = model::RopeScaling();
    }
    rope_ = ane::ComputeRopeTables(s_, max_tokens);
    local_rope_ = ane::ComputeRopeTables(local, max_tokens);
    return Status::Ok();
  }

  Status LoadLayer(int64_t l) {
    if (loaded_ == l) return Status::Ok();
    const double off = s_.norm_weight_offset;
    Layer& y = layer_;
    ANEC_ASSIGN_OR_RETURN(y.in_norm, ReadReferenceVector(w_, TensorRole::kInputNorm, l, off));
    ANEC_ASSIGN_OR_RETURN(y.post_norm, ReadReferenceVector(w_, TensorRole::kPostAttnNorm, l, off));
    if (s_.sandwich_norms) {
      ANEC_ASSIGN_OR_RETURN(y.attn_out_norm,
                            ReadReferenceVector(w_, TensorRole::kAttnOutNorm, l, off));
      ANEC_ASSIGN_OR_RETURN(y.mlp_out_norm,
                            ReadReferenceVector(w_, TensorRole::kMlpOutNorm, l, off));
    }
    if (s_.qk_norm) {
      ANEC_ASSIGN_OR_RETURN(y.q_norm, ReadReferenceVector(w_, TensorRole::kQNorm, l, off));
      ANEC_ASSIGN_OR_RETURN(y.k_norm, ReadReferenceVector(w_, TensorRole::kKNorm, l, off));
    }
    if (s_.attention_bias) {
      ANEC_ASSIGN_OR_RETURN(y.q_bias, ReadReferenceVector(w_, TensorRole::kQBias, l, 0));
      ANEC_ASSIGN_OR_RETURN(y.k_bias, ReadReferenceVector(w_, TensorRole::kKBias, l, 0));
      ANEC_ASSIGN_OR_RETURN(y.v_bias, ReadReferenceVector(w_, TensorRole::kVBias, l, 0));
    }
    ANEC_ASSIGN_OR_RETURN(y.q, ReadReferenceMatrix(w_, TensorRole::kQProj, l, false));
    ANEC_ASSIGN_OR_RETURN(y.k, ReadReferenceMatrix(w_, TensorRole::kKProj, l, false));
    ANEC_ASSIGN_OR_RETURN(y.v, ReadReferenceMatrix(w_, TensorRole::kVProj, l, false));
    ANEC_ASSIGN_OR_RETURN(y.o, ReadReferenceMatrix(w_, TensorRole::kOProj, l, false));
    ANEC_ASSIGN_OR_RETURN(y.gate, ReadReferenceMatrix(w_, TensorRole::kGateProj, l, false));
    ANEC_ASSIGN_OR_RETURN(y.up, ReadReferenceMatrix(w_, TensorRole::kUpProj, l, false));
    ANEC_ASSIGN_OR_RETURN(y.down, ReadReferenceMatrix(w_, TensorRole::kDownProj, l, false));
    loaded_ = l;
    return Status::Ok();
  }

  void Forward(const Vec& x, int64_t t, const ReferenceMatrix& m, const Vec* bias, Vec* out) {
    MultiplyByWt(x, t, m, bias != nullptr && !bias->empty() ? bias->data() : nullptr, out, &pool_);
  }
  Status Backward(const Vec& dy, int64_t t, const ReferenceMatrix& m, Vec* out) {
    return AddProductWithW(dy, t, m, out, &product_, &pool_);
  }

  // y = x / rms(x) * g over rows of n; keeps nothing.
  void Norm(const Vec& x, int64_t n, const Vec& g, Vec* y) const {
    const int64_t rows = static_cast<int64_t>(x.size()) / n;
    y->resize(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      const float* a = x.data() + r * n;
      double ss = 0;
      for (int64_t j = 0; j < n; ++j) ss += double{a[j]} * a[j];
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + s_.rms_norm_eps);
      for (int64_t j = 0; j < n; ++j) {
        (*y)[static_cast<size_t>(r * n + j)] =
            static_cast<float>(a[j] * inv * g[static_cast<size_t>(j)]);
      }
    }
  }

  // dx (+)= gradient of Norm at x given dy.
  void NormBack(const Vec& x, int64_t n, const Vec& g, const Vec& dy, Vec* dx, bool add) const {
    const int64_t rows = static_cast<int64_t>(x.size()) / n;
    if (!add) dx->assign(x.size(), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      const float* a = x.data() + r * n;
      const float* d = dy.data() + r * n;
      double ss = 0, dot = 0;
      for (int64_t j = 0; j < n; ++j) {
        ss += double{a[j]} * a[j];
        dot += double{g[static_cast<size_t>(j)]} * d[j] * a[j];
      }
      const double ms = ss / static_cast<double>(n) + s_.rms_norm_eps;
      const double inv = 1.0 / std::sqrt(ms);
      const double k = dot * inv / (ms * static_cast<double>(n));
      for (int64_t j = 0; j < n; ++j) {
        (*dx)[static_cast<size_t>(r * n + j)] +=
            static_cast<float>(g[static_cast<size_t>(j)] * d[j] * inv - a[j] * k);
      }
    }
  }

  // Rotates [t, heads * hd] in place (inverse: the transpose, for gradients).
  void Rope(Vec* x, int64_t t, int64_t heads, bool local, bool inverse) const {
    const ane::RopeTables& tab = local ? local_rope_ : rope_;
    const int64_t hd = s_.head_dim, half = hd / 2;
    for (int64_t p = 0; p < t; ++p) {
      const double* c = tab.cos.data() + p * hd;
      const double* sn = tab.sin.data() + p * hd;
      for (int64_t h = 0; h < heads; ++h) {
        float* v = x->data() + (p * heads + h) * hd;
        for (int64_t i = 0; i < half; ++i) {
          const double a = v[i], b = v[i + half];
          // forward: [a, b] -> [a c - b s, b c + a s]; inverse uses -s.
          const double si = inverse ? -sn[i] : sn[i], sj = inverse ? -sn[i + half] : sn[i + half];
          v[i] = static_cast<float>(a * c[i] - b * si);
          v[i + half] = static_cast<float>(b * c[i + half] + a * sj);
        }
      }
    }
  }

  double Act(double g) const {
    if (s_.mlp_activation == model::MlpActivation::kSilu) return g / (1.0 + std::exp(-g));
    const double c = std::sqrt(2.0 / M_PI);
    return 0.5 * g * (1.0 + std::tanh(c * (g + 0.044715 * g * g * g)));
  }
  double ActGrad(double g) const {
    if (s_.mlp_activation == model::MlpActivation::kSilu) {
      const double sg = 1.0 / (1.0 + std::exp(-g));
      return sg * (1.0 + g * (1.0 - sg));
    }
    const double c = std::sqrt(2.0 / M_PI);
    const double th = std::tanh(c * (g + 0.044715 * g * g * g));
    return 0.5 * (1.0 + th) + 0.5 * g * (1.0 - th * th) * c * (1.0 + 3 * 0.044715 * g * g);
  }

  // What a layer's backward pass needs from its forward pass.
  struct Acts {
    Vec a, q_raw, k_raw, v, q, k, att, o_raw, h2, b, gate, up, m, d_raw;
    std::vector<Vec> probs;  // per query head [t, t] (kept only when `keep_probs`)
  };

  void LayerForward(int64_t l, const Vec& h, int64_t t, Vec* next, Acts* x, bool keep_probs) {
    const Layer& y = layer_;
    const int64_t H = s_.hidden_size, nh = s_.num_heads, nkv = s_.num_kv_heads, hd = s_.head_dim;
    Norm(h, H, y.in_norm, &x->a);
    Forward(x->a, t, y.q, &y.q_bias, &x->q_raw);
    Forward(x->a, t, y.k, &y.k_bias, &x->k_raw);
    Forward(x->a, t, y.v, &y.v_bias, &x->v);
    x->q = x->q_raw;
    x->k = x->k_raw;
    if (s_.qk_norm) {
      Norm(x->q_raw, hd, y.q_norm, &x->q);
      Norm(x->k_raw, hd, y.k_norm, &x->k);
    }
    const bool local = IsLocal(l);
    Rope(&x->q, t, nh, local, false);
    Rope(&x->k, t, nkv, local, false);
    const int64_t window = Window(l);
    const double scale = s_.attention_scale ? *s_.attention_scale : 1.0 / std::sqrt(double(hd));
    x->att.assign(static_cast<size_t>(t * nh * hd), 0.0f);
    if (keep_probs) x->probs.assign(static_cast<size_t>(nh), Vec());
    pool_.ParallelFor(nh, 1, [&](int64_t hb, int64_t he) {
      std::vector<double> p(static_cast<size_t>(t));
      for (int64_t hq = hb; hq < he; ++hq) {
        const int64_t hk = hq / (nh / nkv);
        if (keep_probs) x->probs[static_cast<size_t>(hq)].assign(static_cast<size_t>(t * t), 0.0f);
        for (int64_t i = 0; i < t; ++i) {
          const int64_t lo = window > 0 ? std::max<int64_t>(0, i - window + 1) : 0;
          const float* qi = x->q.data() + (i * nh + hq) * hd;
          double mx = -1e300;
          for (int64_t j = lo; j <= i; ++j) {
            const float* kj = x->k.data() + (j * nkv + hk) * hd;
            p[static_cast<size_t>(j)] = double{runtime::Dot(qi, kj, hd)} * scale;
            mx = std::max(mx, p[static_cast<size_t>(j)]);
          }
          double sum = 0;
          for (int64_t j = lo; j <= i; ++j) {
            p[static_cast<size_t>(j)] = std::exp(p[static_cast<size_t>(j)] - mx);
            sum += p[static_cast<size_t>(j)];
          }
          float* oi = x->att.data() + (i * nh + hq) * hd;
          for (int64_t j = lo; j <= i; ++j) {
            const float pj = static_cast<float>(p[static_cast<size_t>(j)] / sum);
            if (keep_probs) x->probs[static_cast<size_t>(hq)][static_cast<size_t>(i * t + j)] = pj;
            const float* vj = x->v.data() + (j * nkv + hk) * hd;
            for (int64_t c = 0; c < hd; ++c) oi[c] += pj * vj[c];
          }
        }
      }
    });
    Forward(x->att, t, y.o, nullptr, &x->o_raw);
    Vec attn = x->o_raw;
    if (s_.sandwich_norms) Norm(x->o_raw, H, y.attn_out_norm, &attn);
    x->h2 = h;
    for (size_t i = 0; i < attn.size(); ++i) x->h2[i] += attn[i];
    Norm(x->h2, H, y.post_norm, &x->b);
    Forward(x->b, t, y.gate, nullptr, &x->gate);
    Forward(x->b, t, y.up, nullptr, &x->up);
    x->m.resize(x->gate.size());
    for (size_t i = 0; i < x->m.size(); ++i) {
      x->m[i] = static_cast<float>(Act(x->gate[i]) * x->up[i]);
    }
    Forward(x->m, t, y.down, nullptr, &x->d_raw);
    Vec d = x->d_raw;
    if (s_.sandwich_norms) Norm(x->d_raw, H, y.mlp_out_norm, &d);
    *next = x->h2;
    for (size_t i = 0; i < d.size(); ++i) (*next)[i] += d[i];
  }

  // dh: the gradient at the layer's output on entry, at its input on return. grads[p]: dL/dy of
  // projection p; inputs[p]: its input.
  Status LayerBackward(int64_t l, const Vec& h, const Acts& x, int64_t t, Vec* dh,
                       Vec (&grads)[kNumProj], const Vec* (&inputs)[kNumProj]) {
    const Layer& y = layer_;
    const int64_t H = s_.hidden_size, nh = s_.num_heads, nkv = s_.num_kv_heads, hd = s_.head_dim;
    // MLP.
    Vec& dd = grads[kDown];
    if (s_.sandwich_norms) {
      NormBack(x.d_raw, H, y.mlp_out_norm, *dh, &dd, false);
    } else {
      dd = *dh;
    }
    Vec dm;
    ANEC_RETURN_IF_ERROR(Backward(dd, t, y.down, &dm));
    Vec& dgate = grads[kGate];
    Vec& dup = grads[kUp];
    dgate.resize(dm.size());
    dup.resize(dm.size());
    for (size_t i = 0; i < dm.size(); ++i) {
      dup[i] = static_cast<float>(dm[i] * Act(x.gate[i]));
      dgate[i] = static_cast<float>(dm[i] * x.up[i] * ActGrad(x.gate[i]));
    }
    Vec db;
    ANEC_RETURN_IF_ERROR(Backward(dgate, t, y.gate, &db));
    ANEC_RETURN_IF_ERROR(Backward(dup, t, y.up, &db));
    Vec dh2 = *dh;
    NormBack(x.h2, H, y.post_norm, db, &dh2, true);
    // Attention.
    Vec& dattn = grads[kO];
    if (s_.sandwich_norms) {
      NormBack(x.o_raw, H, y.attn_out_norm, dh2, &dattn, false);
    } else {
      dattn = dh2;
    }
    Vec datt;
    ANEC_RETURN_IF_ERROR(Backward(dattn, t, y.o, &datt));
    Vec dq(static_cast<size_t>(t * nh * hd), 0.0f), dk(static_cast<size_t>(t * nkv * hd), 0.0f),
        dv(static_cast<size_t>(t * nkv * hd), 0.0f);
    const double scale = s_.attention_scale ? *s_.attention_scale : 1.0 / std::sqrt(double(hd));
    const int64_t group = nh / nkv;
    // Parallel over kv heads: each owns its dk/dv rows.
    pool_.ParallelFor(nkv, 1, [&](int64_t kb, int64_t ke) {
      std::vector<double> dp(static_cast<size_t>(t));
      for (int64_t hk = kb; hk < ke; ++hk) {
        for (int64_t hq = hk * group; hq < (hk + 1) * group; ++hq) {
          const Vec& p = x.probs[static_cast<size_t>(hq)];
          for (int64_t i = 0; i < t; ++i) {
            const float* doi = datt.data() + (i * nh + hq) * hd;
            double dot = 0;
            for (int64_t j = 0; j <= i; ++j) {
              const float pij = p[static_cast<size_t>(i * t + j)];
              if (pij == 0.0f) {
                dp[static_cast<size_t>(j)] = 0;
                continue;
              }
              const float* vj = x.v.data() + (j * nkv + hk) * hd;
              float* dvj = dv.data() + (j * nkv + hk) * hd;
              const double d = runtime::Dot(doi, vj, hd);
              for (int64_t c = 0; c < hd; ++c) dvj[c] += pij * doi[c];
              dp[static_cast<size_t>(j)] = d;
              dot += pij * d;
            }
            const float* qi = x.q.data() + (i * nh + hq) * hd;
            float* dqi = dq.data() + (i * nh + hq) * hd;
            for (int64_t j = 0; j <= i; ++j) {
              const float pij = p[static_cast<size_t>(i * t + j)];
              if (pij == 0.0f) continue;
              const float ds = static_cast<float>(pij * (dp[static_cast<size_t>(j)] - dot) * scale);
              const float* kj = x.k.data() + (j * nkv + hk) * hd;
              float* dkj = dk.data() + (j * nkv + hk) * hd;
              for (int64_t c = 0; c < hd; ++c) {
                dqi[c] += ds * kj[c];
                dkj[c] += ds * qi[c];
              }
            }
          }
        }
      }
    });
    const bool local = IsLocal(l);
    Rope(&dq, t, nh, local, true);
    Rope(&dk, t, nkv, local, true);
    if (s_.qk_norm) {
      NormBack(x.q_raw, hd, y.q_norm, dq, &grads[kQ], false);
      NormBack(x.k_raw, hd, y.k_norm, dk, &grads[kK], false);
    } else {
      grads[kQ] = std::move(dq);
      grads[kK] = std::move(dk);
    }
    grads[kV] = std::move(dv);
    Vec da;
    ANEC_RETURN_IF_ERROR(Backward(grads[kQ], t, y.q, &da));
    ANEC_RETURN_IF_ERROR(Backward(grads[kK], t, y.k, &da));
    ANEC_RETURN_IF_ERROR(Backward(grads[kV], t, y.v, &da));
    NormBack(h, H, y.in_norm, da, &dh2, true);
    *dh = std::move(dh2);
    inputs[kQ] = inputs[kK] = inputs[kV] = &x.a;
    inputs[kO] = &x.att;
    inputs[kGate] = inputs[kUp] = &x.b;
    inputs[kDown] = &x.m;
    return Status::Ok();
  }

  // One window: forward, loss, backward; `on_layer` sees each layer's gradients and inputs.
  Result<double> Window(std::span<const int32_t> tokens, Vec* logits_out,
                        const ReferenceTransformer::LayerSink& sink,
                        std::span<const float> target_log_probs,
                        const ReferenceTransformer::Taps& taps) {
    const int64_t t = static_cast<int64_t>(tokens.size()), H = s_.hidden_size, V = head_.rows,
                  L = s_.num_layers;
    std::vector<Vec> saved(static_cast<size_t>(L + 1));
    Vec& h0 = saved[0];
    h0.resize(static_cast<size_t>(t * H));
    for (int64_t i = 0; i < t; ++i) {
      const int32_t id = tokens[static_cast<size_t>(i)];
      if (id < 0 || id >= embedding_.rows) {
        return InvalidArgument("loss gradients: token id {} is outside the vocabulary ({})", id,
                               embedding_.rows);
      }
      embedding_.view.DecodeRow(id, h0.data() + i * H);
      if (s_.embedding_scale != 1.0) {
        for (int64_t c = 0; c < H; ++c)
          h0[static_cast<size_t>(i * H + c)] *= static_cast<float>(s_.embedding_scale);
      }
    }
    Acts acts;
    for (int64_t l = 0; l < L; ++l) {
      ANEC_RETURN_IF_ERROR(LoadLayer(l));
      LayerForward(l, saved[static_cast<size_t>(l)], t, &saved[static_cast<size_t>(l + 1)], &acts,
                   false);
      if (taps.layer_inputs) {
        const Vec* const inputs[kNumProj] = {&acts.a, &acts.a, &acts.a, &acts.att,
                                             &acts.b, &acts.b, &acts.m};
        taps.layer_inputs(l, inputs);
      }
    }
    Vec f;
    Norm(saved[static_cast<size_t>(L)], H, final_norm_, &f);
    if (taps.head_input_sum_sq != nullptr) {
      std::vector<double>& sq = *taps.head_input_sum_sq;
      sq.resize(static_cast<size_t>(H), 0.0);
      for (int64_t i = 0; i < t; ++i) {
        for (int64_t c = 0; c < H; ++c) {
          const double v = f[static_cast<size_t>(i * H + c)];
          sq[static_cast<size_t>(c)] += v * v;
        }
      }
    }
    if (taps.probability_sum != nullptr) taps.probability_sum->resize(static_cast<size_t>(V), 0.0);
    // The head in blocks of kHeadBlock positions (logits of a 128k vocabulary are 0.5 MB per
    // position): summed next-token cross entropy, dlogits = softmax - one-hot (the last position
    // has none), df = dlogits W_head.
    constexpr int64_t kHeadBlock = 64;
    double loss = 0;
    Vec df(static_cast<size_t>(t * H), 0.0f), block_f, logits, df_block;
    if (logits_out != nullptr) logits_out->assign(static_cast<size_t>(t * V), 0.0f);
    const bool soft = !target_log_probs.empty();
    if (soft && static_cast<int64_t>(target_log_probs.size()) != t * V) {
      return InvalidArgument("reference window: {} target log-probabilities, expected {} x {}",
                             target_log_probs.size(), t, V);
    }
    for (int64_t b = 0; b < t; b += kHeadBlock) {
      const int64_t n = std::min(kHeadBlock, t - b);
      block_f.assign(f.begin() + b * H, f.begin() + (b + n) * H);
      Forward(block_f, n, head_, nullptr, &logits);
      if (logits_out != nullptr)
        std::copy(logits.begin(), logits.end(), logits_out->begin() + b * V);
      for (int64_t i = 0; i < n; ++i) {
        float* z = logits.data() + i * V;
        const bool last = b + i + 1 >= t;
        if (last && taps.probability_sum == nullptr) {
          std::fill(z, z + V, 0.0f);
          continue;
        }
        double mx = -1e300, sum = 0;
        for (int64_t v = 0; v < V; ++v) mx = std::max(mx, double{z[v]});
        for (int64_t v = 0; v < V; ++v) sum += std::exp(z[v] - mx);
        const double lse = std::log(sum) + mx;
        if (taps.probability_sum != nullptr) {
          double* ps = taps.probability_sum->data();
          for (int64_t v = 0; v < V; ++v) ps[v] += std::exp(z[v] - lse);
          if (last) {
            std::fill(z, z + V, 0.0f);
            continue;
          }
        }
        if (soft) {
          // KL(target || model) = sum_v p_v (log p_v - log q_v); d/dz = q - p.
          const float* lp = target_log_probs.data() + (b + i) * V;
          for (int64_t v = 0; v < V; ++v) {
            const double p = std::exp(double{lp[v]});
            loss += p * (lp[v] - (z[v] - lse));
            z[v] = static_cast<float>(std::exp(z[v] - lse) - p);
          }
          continue;
        }
        const int32_t next = tokens[static_cast<size_t>(b + i + 1)];
        loss += lse - z[next];
        for (int64_t v = 0; v < V; ++v) z[v] = static_cast<float>(std::exp(z[v] - mx) / sum);
        z[next] -= 1.0f;
      }
      if (!sink) continue;  // forward only
      df_block.clear();
      ANEC_RETURN_IF_ERROR(Backward(logits, n, head_, &df_block));
      std::copy(df_block.begin(), df_block.end(), df.begin() + b * H);
    }
    if (!sink) return loss;
    Vec dh;
    NormBack(saved[static_cast<size_t>(L)], H, final_norm_, df, &dh, false);
    Vec grads[kNumProj];
    const Vec* inputs[kNumProj] = {};
    Vec scratch;
    for (int64_t l = L - 1; l >= 0; --l) {
      ANEC_RETURN_IF_ERROR(LoadLayer(l));
      LayerForward(l, saved[static_cast<size_t>(l)], t, &scratch, &acts, true);
      ANEC_RETURN_IF_ERROR(
          LayerBackward(l, saved[static_cast<size_t>(l)], acts, t, &dh, grads, inputs));
      sink(l, grads, inputs);
      saved[static_cast<size_t>(l + 1)] = Vec();
    }
    return loss;
  }

  bool IsLocal(int64_t l) const {
    if (!s_.local_attention) return false;
    const auto& v = s_.local_attention->is_local;
    return l < static_cast<int64_t>(v.size()) && v[static_cast<size_t>(l)];
  }
  int64_t Window(int64_t l) const {
    if (IsLocal(l)) return s_.local_attention->window;
    return s_.sliding_window ? *s_.sliding_window : 0;
  }

  const ane::WeightSource& w_;
  const model::ModelSpec& s_;
  runtime::ThreadPool pool_;
  Vec final_norm_;
  ReferenceMatrix embedding_, head_;
  ane::RopeTables rope_, local_rope_;
  Layer layer_;
  int64_t loaded_ = -1;
  Vec product_;  // Backward's GEMM output
};

ReferenceTransformer::ReferenceTransformer(const ane::WeightSource& weights,
                                           const model::ModelSpec& spec, int threads)
    : impl_(std::make_unique<Impl>(weights, spec, threads)) {}
ReferenceTransformer::~ReferenceTransformer() = default;

Status ReferenceTransformer::Init(int64_t max_tokens) { return impl_->Init(max_tokens); }

Result<double> ReferenceTransformer::Window(std::span<const int32_t> tokens,
                                            std::vector<float>* logits, const LayerSink& sink,
                                            std::span<const float> target_log_probs,
                                            const Taps& taps) {
  return impl_->Window(tokens, logits, sink, target_log_probs, taps);
}

Result<double> ReferenceTransformer::Window(std::span<const int32_t> tokens,
                                            std::vector<float>* logits, const LayerSink& sink,
                                            std::span<const float> target_log_probs) {
  return impl_->Window(tokens, logits, sink, target_log_probs, Taps());
}

Status ReferenceTransformer::Supported(const model::ModelSpec& spec) {
  if (spec.num_heads <= 0 || spec.num_kv_heads <= 0 || spec.num_heads % spec.num_kv_heads != 0 ||
      spec.head_dim <= 0 || spec.head_dim % 2 != 0) {
    return Unsupported("loss gradients: {} heads over {} kv heads of dim {} are not modeled",
                       spec.num_heads, spec.num_kv_heads, spec.head_dim);
  }
  return Status::Ok();
}

}  // namespace anec::calib
