// Palettization speed and memory on a synthetic Llama-3.2-1B-shaped set of linear weights.
//
//   quant_bench [--layers N] [--threads T] [--dump DIR --dump-layers L]
//   quant_bench --dp-groups G      (the exact k-means DP alone, see DpMicro)
//   quant_bench --gguf FILE [--groups G] [--dump DIR]   (real tensors, see RealTensors)
//   quant_bench --gguf FILE --kmeans-only KIND [--bits B] [--repeat R] [--groups G]
//     (Kmeans1D alone on one kind's groups, for profilers: see KmeansOnly)
//
// Weights are N(0, 1) * 0.02 rounded to bf16 (like a real checkpoint) then to fp16, from a fixed
// seed. Prints one row per configuration: wall time, throughput, ratio to the "floor" (one pass
// that reads every weight and builds its per-group histogram), and whole-model SNR; then the
// process's peak RSS. --dump writes the first L layers' fp16 weights and our group-8 tables and
// indices as .npy plus ours.csv, for bench/quant_vs_coremltools.py.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/file_system.h"
#include "io/gguf_dequant.h"
#include "io/gguf_file.h"
#include "quant/fp16.h"
#include "quant/kmeans_1d.h"
#include "quant/palettize.h"

namespace {

using anec::quant::LutConfig;
using anec::quant::LutResult;

struct Shape {
  const char* name;
  int64_t rows, cols;
};
constexpr Shape kShapes[] = {{"q_proj", 2048, 2048},    {"k_proj", 512, 2048},
                             {"v_proj", 512, 2048},     {"o_proj", 2048, 2048},
                             {"gate_proj", 8192, 2048}, {"up_proj", 8192, 2048},
                             {"down_proj", 2048, 8192}};

uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Runs f(i) for i in [0, n) on `threads` threads; f must only write its own slot.
template <typename F>
void ParallelFor(int64_t n, int threads, F f) {
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i; (i = next.fetch_add(1)) < n;) f(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

// Fixed seed per (layer, tensor, 64-row chunk): the same weights for every thread count.
std::vector<uint16_t> Generate(int layer, int tensor, const Shape& s, int threads) {
  std::vector<uint16_t> w(s.rows * s.cols);
  const int64_t chunk_rows = 64;
  ParallelFor(s.rows / chunk_rows, threads, [&](int64_t c) {
    uint64_t state = 0x5EEDull ^ (uint64_t(layer) << 40) ^ (uint64_t(tensor) << 32) ^ c;
    uint16_t* out = w.data() + c * chunk_rows * s.cols;
    for (int64_t i = 0; i < chunk_rows * s.cols; i += 2) {  // Box-Muller, two at a time
      const double u1 = (static_cast<double>(SplitMix(state) >> 11) + 0.5) * 0x1p-53;
      const double u2 = static_cast<double>(SplitMix(state) >> 11) * 0x1p-53;
      const double r = std::sqrt(-2.0 * std::log(u1)) * 0.02;
      const float a = static_cast<float>(r * std::cos(2 * M_PI * u2));
      const float b = static_cast<float>(r * std::sin(2 * M_PI * u2));
      out[i] = anec::quant::Bf16ToHalf(anec::quant::FloatToBf16(a));
      out[i + 1] = anec::quant::Bf16ToHalf(anec::quant::FloatToBf16(b));
    }
  });
  return w;
}

// The floor: read every weight once into its group's histogram (then read it again to count and
// clear the distinct entries, which the palettizer also has to do).
int64_t HistogramFloor(const std::vector<uint16_t>& w, const Shape& s, int group_rows,
                       int threads) {
  const int64_t groups = s.rows / group_rows, per = group_rows * s.cols;
  std::vector<int64_t> distinct(groups);
  std::vector<std::vector<uint32_t>> counts(threads, std::vector<uint32_t>(65536));
  std::atomic<int> slot{0};
  std::atomic<int64_t> next{0};
  auto work = [&] {
    uint32_t* count = counts[slot.fetch_add(1)].data();
    for (int64_t g; (g = next.fetch_add(1)) < groups;) {
      const uint16_t* p = w.data() + g * per;
      for (int64_t e = 0; e < per; ++e) ++count[p[e]];
      int64_t d = 0;
      for (int64_t e = 0; e < per; ++e) {
        d += count[p[e]] != 0;
        count[p[e]] = 0;
      }
      distinct[g] = d;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  int64_t total = 0;
  for (int64_t d : distinct) total += d;
  return total;
}

std::string NpyHeader(const char* descr, int64_t rows, int64_t cols) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}, {}), }}",
                                 descr, rows, cols);
  const size_t total = ((10 + dict.size() + 1 + 63) / 64) * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string h = "\x93NUMPY";
  h.push_back(1);
  h.push_back(0);
  h.push_back(static_cast<char>(dict.size() & 0xFF));
  h.push_back(static_cast<char>(dict.size() >> 8));
  return h + dict;
}

bool WriteNpy(const std::string& path, const char* descr, int64_t rows, int64_t cols,
              const void* data, size_t bytes) {
  std::string blob = NpyHeader(descr, rows, cols);
  blob.append(static_cast<const char*>(data), bytes);
  const anec::Status st = anec::RealFileSystem()->WriteFileAtomic(path, blob);
  if (!st.ok()) std::fprintf(stderr, "%s\n", st.ToString().c_str());
  return st.ok();
}

// CPU seconds of the whole process (all threads): on a shared machine this, not wall time, shows
// the work done; wall time on T free cores is about cpu / T for these fully parallel passes.
double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// The 1-minute load average, to tell how shared the machine was during the run.
std::string LoadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? fmt::format("{:.1f}", load[0]) : "unknown";
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The exact 1-D k-means alone, on one thread: the first `groups` groups of 8 rows of layer 0's
// q_proj as sorted distinct values with counts, clustered for k = 16 and 64. Prints CPU ms per
// group and a hash of every cluster start plus the summed SSE, so that a faster DP can be shown
// to return the same partitions bit for bit.
int DpMicro(int groups) {
  const Shape& s = kShapes[0];
  if (groups < 1 || groups > s.rows / 8) return 2;
  const std::vector<uint16_t> w = Generate(0, 0, s, 1);
  std::vector<std::vector<double>> values(groups), counts(groups);
  int64_t distinct = 0;
  for (int g = 0; g < groups; ++g) {
    std::vector<double> x(8 * s.cols);
    for (int64_t e = 0; e < 8 * s.cols; ++e) {
      x[e] = anec::quant::HalfToFloat(w[g * 8 * s.cols + e]) + 0.0;  // -0 -> +0
    }
    std::sort(x.begin(), x.end());
    for (size_t e = 0; e < x.size(); ++e) {
      if (e == 0 || x[e] != x[e - 1]) {
        values[g].push_back(x[e]);
        counts[g].push_back(0);
      }
      counts[g].back() += 1;
    }
    distinct += static_cast<int64_t>(values[g].size());
  }
  for (int k : {16, 64}) {
    uint64_t hash = 1469598103934665603ull;
    double sse = 0;
    const double cpu0 = CpuSeconds();
    for (int g = 0; g < groups; ++g) {
      const auto r = anec::quant::Kmeans1D(values[g], counts[g], k);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        return 1;
      }
      for (int32_t b : r->cluster_begin)
        hash = (hash ^ static_cast<uint32_t>(b)) * 1099511628211ull;
      sse += r->sse;
    }
    const double cpu = CpuSeconds() - cpu0;
    std::printf(
        "dp: %d groups, mean n %.0f, k %d: %.3f CPU ms per group, hash %016llx, sse %.12e\n",
        groups, static_cast<double>(distinct) / groups, k, 1e3 * cpu / groups,
        static_cast<unsigned long long>(hash), sse);
  }
  std::printf("load average: %s\n", LoadAverage().c_str());
  return 0;
}

// Distinct values (ascending, -0 folded into +0) with their counts, as Palettize builds them.
void Histogram(const uint16_t* w, int64_t count, std::vector<double>& values,
               std::vector<double>& counts) {
  std::vector<double> x(count);
  for (int64_t e = 0; e < count; ++e) x[e] = anec::quant::HalfToFloat(w[e]) + 0.0;
  std::sort(x.begin(), x.end());
  values.clear();
  counts.clear();
  for (size_t e = 0; e < x.size(); ++e) {
    if (e == 0 || x[e] != x[e - 1]) {
      values.push_back(x[e]);
      counts.push_back(0);
    }
    counts.back() += 1;
  }
}

// A synthetic tensor whose groups have the distinct-value counts of dequantized GGUF weights:
// N(0, 0.02) weights quantized to Q4_1 (blocks of 32 along a row: 16 levels min + d * q), then
// dequantized and rounded to fp16.
std::vector<uint16_t> SyntheticQ4_1(int64_t rows, int64_t cols) {
  std::vector<uint16_t> out(rows * cols);
  uint64_t state = 0x9041ull;
  std::vector<float> block(32);
  for (int64_t b = 0; b < rows * cols; b += 32) {
    for (int e = 0; e < 32; e += 2) {
      const double u1 = (static_cast<double>(SplitMix(state) >> 11) + 0.5) * 0x1p-53;
      const double u2 = static_cast<double>(SplitMix(state) >> 11) * 0x1p-53;
      const double r = std::sqrt(-2.0 * std::log(u1)) * 0.02;
      block[e] = static_cast<float>(r * std::cos(2 * M_PI * u2));
      block[e + 1] = static_cast<float>(r * std::sin(2 * M_PI * u2));
    }
    const float lo = *std::min_element(block.begin(), block.end());
    const float hi = *std::max_element(block.begin(), block.end());
    // ggml stores d and min as fp16.
    const float d = anec::quant::HalfToFloat(anec::quant::FloatToHalf((hi - lo) / 15));
    const float m = anec::quant::HalfToFloat(anec::quant::FloatToHalf(lo));
    for (int e = 0; e < 32; ++e) {
      const int q = std::clamp(static_cast<int>(std::lround((block[e] - m) / d)), 0, 15);
      out[b + e] = anec::quant::FloatToHalf(m + d * static_cast<float>(q));
    }
  }
  return out;
}

// --kmeans-only KIND [--bits B] [--repeat R]: Kmeans1D alone on RealTensors' groups of that kind
// at B bits, R passes over all the groups (for profilers and A/B runs without the layered DP's
// time); prints CPU-ns per weight over all passes, the sum of each group's fastest run (per
// weight), and the solver's stats (histograms of band gaps and of solves per group). The fastest
// run is the figure to compare between binaries on a shared machine: neighbours can only slow a
// run down. The passes go over all groups in turn, never one group R times in a row, so that no
// run finds the branch predictor trained on its own group by the run before.
int KmeansOnly(const std::string& label, const std::vector<std::vector<double>>& values,
               const std::vector<std::vector<double>>& counts, int64_t cols, int bits, int repeat) {
  const int k = 1 << bits;
  int64_t solves = 0, gaps = 0, band_rows = 0, given = 0, runs = 0, gap_hist[18] = {},
          solve_hist[13] = {};
  std::vector<double> fastest(values.size(), 0);
  const double t0 = CpuSeconds();
  for (int r = 0; r < repeat; ++r) {
    for (size_t g = 0; g < values.size(); ++g) {
      if (static_cast<int64_t>(values[g].size()) <= k) continue;
      anec::quant::Kmeans1DStats stats;
      const auto w0 = std::chrono::steady_clock::now();
      auto res = anec::quant::Kmeans1D(values[g], counts[g], k, &stats);
      const double seconds = Seconds(w0);
      if (!res.ok()) return 1;
      fastest[g] = r == 0 ? seconds : std::min(fastest[g], seconds);
      if (r == 0) {
        ++runs;
        solves += stats.penalized_solves;
        gaps += stats.band_gap;
        band_rows += stats.band_rows;
        given += stats.band_rows_given;
        ++gap_hist[std::min(stats.band_gap, 17)];
        ++solve_hist[std::min(stats.penalized_solves, 12)];
      }
    }
  }
  const double cpu = CpuSeconds() - t0;
  if (runs == 0) return 2;
  double fastest_sum = 0;
  for (double f : fastest) fastest_sum += f;
  const double weights = static_cast<double>(runs) * 8 * cols;
  fmt::print(
      "{} LUT{}: {:.2f} CPU-ns/w over {} groups x {}; fastest runs {:.2f} ns/w; solves {:.3f}, "
      "gap {:.3f}, band rows {:.0f} ({:.0f} given) per group; gaps 0..:",
      label, bits, 1e9 * cpu / (weights * repeat), runs, repeat, 1e9 * fastest_sum / weights,
      double(solves) / runs, double(gaps) / runs, double(band_rows) / runs, double(given) / runs);
  for (int64_t h : gap_hist) fmt::print(" {}", h);
  fmt::print("; solves 0..:");
  for (int64_t h : solve_hist) fmt::print(" {}", h);
  fmt::print("\n");
  return 0;
}

// Real tensors: one of each kind (layer 0's attention and FFN projections, the tied embedding
// that serves as the LM head) dequantized from a GGUF to fp32 and rounded to fp16, plus a
// synthetic Q4_1 [2048, 2048] tensor (SyntheticQ4_1). Per kind: mean distinct values per group of
// 8 rows, CPU-ns per weight of the exact k-means alone on `groups` groups spread over the tensor
// (the layered DP, Kmeans1DLayered, vs Kmeans1D), both SSEs, and Palettize (group 8, one thread,
// whole tensor: histogram + k-means + indices) in CPU-ns per weight. Exits non-zero if Kmeans1D's
// SSE is above the layered DP's beyond 1e-12 relative on any group.
int RealTensors(const std::string& path, int groups, const std::string& dump_dir,
                const std::string& only = "", int only_bits = 6, int repeat = 1) {
  auto file = anec::io::GgufFile::Open(anec::RealFileSystem(), path);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
    return 1;
  }
  struct Kind {
    std::string label, tensor;
  };
  const std::vector<Kind> kinds = {
      {"attn_q", "blk.0.attn_q.weight"},     {"attn_k", "blk.0.attn_k.weight"},
      {"attn_v", "blk.0.attn_v.weight"},     {"attn_output", "blk.0.attn_output.weight"},
      {"ffn_gate", "blk.0.ffn_gate.weight"}, {"ffn_up", "blk.0.ffn_up.weight"},
      {"ffn_down", "blk.0.ffn_down.weight"}, {"lm_head", "output.weight"},
      {"lm_head", "token_embd.weight"},      {"synthetic_q4_1", ""}};
  if (!dump_dir.empty() && !anec::RealFileSystem()->MakeDirs(dump_dir).ok()) return 1;
  std::string csv = "layer,tensor,rows,cols,bits,group_size,sse,sum_sq,seconds,cpu_seconds\n";
  fmt::print("quant_bench --gguf {}: {} groups of 8 rows per tensor for the k-means columns\n",
             path, groups);
  fmt::print(
      "| {:<14} | {:<5} | {:>12} | {:>6} | {:>4} | {:>9} | {:>9} | {:>7} | {:>11} | {:>8} | "
      "{:>10} |\n",
      "kind", "type", "shape", "mean n", "LUT", "old ns/w", "new ns/w", "speedup", "SSE new/old",
      "solves", "palettize");
  fmt::print(
      "|{:-<16}|{:-<7}|{:->14}|{:->8}|{:->6}|{:->11}|{:->11}|{:->9}|{:->13}|{:->10}|{:->12}|\n", "",
      "", "", "", "", "", "", "", "", "", "");
  bool have_head = false;
  int failures = 0;
  for (const Kind& kind : kinds) {
    std::vector<uint16_t> w;
    int64_t rows = 2048, cols = 2048;
    std::string type = "synth";
    if (kind.tensor.empty()) {
      if (!only.empty() && kind.label != only) continue;
      w = SyntheticQ4_1(rows, cols);
      type = "Q4_1";
    } else {
      if (kind.label == "lm_head" && have_head) continue;
      if (!only.empty() && kind.label != only) continue;
      const anec::io::GgufTensorInfo* info = nullptr;
      for (const auto& t : file->tensors()) {
        if (t.name == kind.tensor) info = &t;
      }
      if (info == nullptr || info->shape().size() != 2) continue;
      auto f = anec::io::DequantizeTensor(*file, *info);
      if (!f.ok()) {
        std::fprintf(stderr, "%s\n", f.status().ToString().c_str());
        return 1;
      }
      rows = info->shape()[0];
      cols = info->shape()[1];
      type = std::string(anec::io::GgmlTypeName(info->type));
      w.resize(f->size());
      for (size_t e = 0; e < f->size(); ++e) w[e] = anec::quant::FloatToHalf((*f)[e]);
      if (kind.label == "lm_head") have_head = true;
    }
    const int64_t tensor_groups = rows / 8;
    const int64_t used = std::min<int64_t>(groups, tensor_groups);
    std::vector<std::vector<double>> values(used), counts(used);
    int64_t distinct = 0;
    for (int64_t g = 0; g < used; ++g) {
      const int64_t src = g * tensor_groups / used;
      Histogram(w.data() + src * 8 * cols, 8 * cols, values[g], counts[g]);
      distinct += static_cast<int64_t>(values[g].size());
    }
    if (!only.empty()) return KmeansOnly(kind.label, values, counts, cols, only_bits, repeat);
    for (int bits : {4, 6}) {
      const int k = 1 << bits;
      double cpu_old = 0, cpu_new = 0, sse_old = 0, sse_new = 0;
      int64_t solves = 0, layered = 0;
      for (int64_t g = 0; g < used; ++g) {
        if (static_cast<int64_t>(values[g].size()) <= k) continue;  // exact, no k-means
        double t0 = CpuSeconds();
        auto old_r = anec::quant::Kmeans1DLayered(values[g], counts[g], k);
        double t1 = CpuSeconds();
        anec::quant::Kmeans1DStats stats;
        auto new_r = anec::quant::Kmeans1D(values[g], counts[g], k, &stats);
        double t2 = CpuSeconds();
        if (!old_r.ok() || !new_r.ok()) return 1;
        cpu_old += t1 - t0;
        cpu_new += t2 - t1;
        sse_old += old_r->sse;
        sse_new += new_r->sse;
        solves += stats.penalized_solves;
        layered += stats.layered;
        if (new_r->sse > old_r->sse * (1 + 1e-12) + 1e-300) {
          std::fprintf(stderr, "%s group %lld LUT%d: SSE %.17g > layered %.17g\n",
                       kind.label.c_str(), static_cast<long long>(g), bits, new_r->sse, old_r->sse);
          ++failures;
        }
      }
      const double per_weight = 1e9 / static_cast<double>(used * 8 * cols);
      const double t0 = CpuSeconds();
      const auto start = std::chrono::steady_clock::now();
      auto pal = anec::quant::Palettize(w, rows, cols, LutConfig{bits, 8, 1}, {}, kind.label);
      const double pal_cpu = CpuSeconds() - t0;
      const double pal_sec = Seconds(start);
      if (!pal.ok()) {
        std::fprintf(stderr, "%s\n", pal.status().ToString().c_str());
        return 1;
      }
      fmt::print(
          "| {:<14} | {:<5} | {:>12} | {:>6.0f} | {:>4} | {:>9.1f} | {:>9.1f} | {:>6.1f}x | "
          "{:>11.9f} | {:>8.2f} | {:>10.1f} |{}\n",
          kind.label, type, fmt::format("{}x{}", rows, cols), static_cast<double>(distinct) / used,
          bits, cpu_old * per_weight, cpu_new * per_weight, cpu_old / cpu_new, sse_new / sse_old,
          static_cast<double>(solves) / used, 1e9 * pal_cpu / static_cast<double>(rows * cols),
          layered ? fmt::format(" ({} groups fell back to the layered DP)", layered) : "");
      if (!dump_dir.empty()) {
        const std::string stem = fmt::format("{}/l0_{}", dump_dir, kind.label);
        if (bits == 4 && !WriteNpy(stem + ".npy", "<f2", rows, cols, w.data(), w.size() * 2)) {
          return 1;
        }
        const std::string tag = fmt::format("{}_lut{}_g8", stem, bits);
        if (!WriteNpy(tag + "_lut.npy", "<f2", pal->num_groups(), 1 << bits, pal->lut_fp16.data(),
                      pal->lut_fp16.size() * 2) ||
            !WriteNpy(tag + "_idx.npy", "|u1", rows, cols, pal->indices.data(),
                      pal->indices.size())) {
          return 1;
        }
        double tensor_sq = 0;
        for (uint16_t b : w)
          tensor_sq += double(anec::quant::HalfToFloat(b)) * anec::quant::HalfToFloat(b);
        csv += fmt::format("{},{},{},{},{},{},{:.17g},{:.17g},{:.6f},{:.6f}\n", 0, kind.label, rows,
                           cols, bits, 8, pal->sse, tensor_sq, pal_sec, pal_cpu);
      }
    }
  }
  if (!dump_dir.empty() &&
      !anec::RealFileSystem()->WriteFileAtomic(dump_dir + "/ours.csv", csv).ok()) {
    return 1;
  }
  fmt::print(
      "ns/w: CPU-ns per weight (one thread); old = Kmeans1DLayered, new = Kmeans1D, k-means "
      "alone; solves: penalised DP passes per group; palettize: Palettize, LUT group 8, whole "
      "tensor, new solver. Load average: {}\n",
      LoadAverage());
  return failures == 0 ? 0 : 1;
}

struct ConfigStats {
  LutConfig config;
  double seconds = 0, cpu = 0, sse = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int layers = 16, threads = static_cast<int>(std::thread::hardware_concurrency());
  int dump_layers = 0, dp_groups = 0, real_groups = 64;
  int only_bits = 6, repeat = 1;
  std::string dump_dir, gguf, only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--layers")
      layers = std::atoi(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--dump")
      dump_dir = argv[i + 1];
    else if (flag == "--dump-layers")
      dump_layers = std::atoi(argv[i + 1]);
    else if (flag == "--dp-groups")
      dp_groups = std::atoi(argv[i + 1]);
    else if (flag == "--gguf")
      gguf = argv[i + 1];
    else if (flag == "--kmeans-only")
      only = argv[i + 1];
    else if (flag == "--bits")
      only_bits = std::atoi(argv[i + 1]);
    else if (flag == "--repeat")
      repeat = std::atoi(argv[i + 1]);
    else if (flag == "--groups")
      real_groups = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (threads < 1 || layers < 1) return 2;
  if (dp_groups > 0) return DpMicro(dp_groups);
  if (!gguf.empty()) {
    return real_groups < 1 ? 2 : RealTensors(gguf, real_groups, dump_dir, only, only_bits, repeat);
  }
  if (!dump_dir.empty() && !anec::RealFileSystem()->MakeDirs(dump_dir).ok()) return 1;
  std::string csv = "layer,tensor,rows,cols,bits,group_size,sse,sum_sq,seconds,cpu_seconds\n";

  std::vector<ConfigStats> configs = {
      {{4, 8, threads}}, {{6, 8, threads}}, {{4, 0, threads}}, {{6, 0, threads}}};
  double floor_seconds = 0, floor_cpu = 0, sum_sq = 0, gen_seconds = 0;
  int64_t weights = 0, distinct_g8 = 0, groups_g8 = 0;
  for (int layer = 0; layer < layers; ++layer) {
    for (int t = 0; t < 7; ++t) {
      const Shape& s = kShapes[t];
      auto start = std::chrono::steady_clock::now();
      const std::vector<uint16_t> w = Generate(layer, t, s, threads);
      gen_seconds += Seconds(start);
      weights += static_cast<int64_t>(w.size());
      for (uint16_t b : w)
        sum_sq += static_cast<double>(anec::quant::HalfToFloat(b)) * anec::quant::HalfToFloat(b);
      start = std::chrono::steady_clock::now();
      double cpu0 = CpuSeconds();
      distinct_g8 += HistogramFloor(w, s, 8, threads);
      floor_seconds += Seconds(start);
      floor_cpu += CpuSeconds() - cpu0;
      groups_g8 += s.rows / 8;
      const bool dump = !dump_dir.empty() && layer < dump_layers;
      const std::string stem = fmt::format("{}/l{}_{}", dump_dir, layer, s.name);
      if (dump && !WriteNpy(stem + ".npy", "<f2", s.rows, s.cols, w.data(), w.size() * 2)) {
        return 1;
      }
      for (ConfigStats& c : configs) {
        start = std::chrono::steady_clock::now();
        cpu0 = CpuSeconds();
        auto r = anec::quant::Palettize(w, s.rows, s.cols, c.config, {},
                                        fmt::format("layers.{}.{}", layer, s.name));
        const double sec = Seconds(start);
        const double cpu = CpuSeconds() - cpu0;
        if (!r.ok()) {
          std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
          return 1;
        }
        c.seconds += sec;
        c.cpu += cpu;
        c.sse += r->sse;
        if (dump && c.config.group_size == 8) {
          const std::string tag = fmt::format("{}_lut{}_g8", stem, c.config.bits);
          if (!WriteNpy(tag + "_lut.npy", "<f2", r->num_groups(), 1 << c.config.bits,
                        r->lut_fp16.data(), r->lut_fp16.size() * 2) ||
              !WriteNpy(tag + "_idx.npy", "|u1", s.rows, s.cols, r->indices.data(),
                        r->indices.size())) {
            return 1;
          }
          double tensor_sq = 0;
          for (uint16_t b : w)
            tensor_sq += double(anec::quant::HalfToFloat(b)) * anec::quant::HalfToFloat(b);
          csv += fmt::format("{},{},{},{},{},{},{:.17g},{:.17g},{:.6f},{:.6f}\n", layer, s.name,
                             s.rows, s.cols, c.config.bits, 8, r->sse, tensor_sq, sec, cpu);
        }
      }
    }
    std::fprintf(stderr, "layer %d done\n", layer);
  }
  if (!dump_dir.empty() &&
      !anec::RealFileSystem()->WriteFileAtomic(dump_dir + "/ours.csv", csv).ok()) {
    return 1;
  }

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fmt::print(
      "quant_bench: {} layers, {:.1f} M weights, {} threads, mean distinct fp16 values per "
      "group of 8 rows: {:.0f} (generation {:.1f} s, not counted)\n",
      layers, weights / 1e6, threads, double(distinct_g8) / double(groups_g8), gen_seconds);
  fmt::print("| {:<22} | {:>8} | {:>8} | {:>9} | {:>12} | {:>11} | {:>9} |\n", "config", "wall s",
             "cpu s", "M w/s", "x floor wall", "x floor cpu", "SNR dB");
  fmt::print("|{:-<24}|{:->10}|{:->10}|{:->11}|{:->14}|{:->13}|{:->11}|\n", "", "", "", "", "", "",
             "");
  fmt::print("| {:<22} | {:>8.2f} | {:>8.2f} | {:>9.0f} | {:>12.2f} | {:>11.2f} | {:>9} |\n",
             "floor (histogram g8)", floor_seconds, floor_cpu, weights / 1e6 / floor_seconds, 1.0,
             1.0, "-");
  for (const ConfigStats& c : configs) {
    const std::string name =
        c.config.group_size == 0
            ? fmt::format("LUT{} per-tensor", c.config.bits)
            : fmt::format("LUT{} group {}", c.config.bits, c.config.group_size);
    fmt::print("| {:<22} | {:>8.2f} | {:>8.2f} | {:>9.0f} | {:>12.2f} | {:>11.2f} | {:>9.2f} |\n",
               name, c.seconds, c.cpu, weights / 1e6 / c.seconds, c.seconds / floor_seconds,
               c.cpu / floor_cpu, 10 * std::log10(sum_sq / c.sse));
  }
  fmt::print(
      "peak RSS: {:.0f} MB (whole run: one layer's weights + results at a time); "
      "load average at the end: {}\n",
      ru.ru_maxrss / 1024.0, LoadAverage());
  return 0;
}
