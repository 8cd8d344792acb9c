// CPU runtime throughput.
//
//   runtime_bench MODEL_DIR [--prompt-tokens N] [--decode-tokens N] [--threads T] [--profile]
//       prefill and decode tokens/s of a converted model folder (meta.yaml + packages);
//       --profile adds the decode steps' wall time per op type
//   runtime_bench --gemv [--threads T]
//       the weight-path kernel alone on Llama-3.2-1B shapes: fp16 vs 4/6-bit LUT weights,
//       1 row (decode) and 64 rows (prefill)
//
// Prints a table. Token ids are synthetic (the speed does not depend on them).
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "coreml/blob_file.h"
#include "runtime/half.h"
#include "runtime/interpreter.h"
#include "runtime/llm_model.h"
#include "runtime/lut_weight.h"
#include "runtime/sampler.h"
#include "runtime/weight_matrix.h"

namespace {

using namespace anec;           // NOLINT
using namespace anec::runtime;  // NOLINT
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void PrintProfile(const char* phase, const OpProfile& profile, double wall_s, int tokens) {
  std::vector<std::pair<std::string, OpProfile::Entry>> rows(profile.by_type.begin(),
                                                             profile.by_type.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  for (const auto& r : rows) total += r.second.seconds;
  fmt::print("\n{}, per op type ({:.2f} ms/token in ops, {:.2f} ms/token outside them)\n", phase,
             1000 * total / tokens, 1000 * (wall_s - total) / tokens);
  fmt::print("| op type | calls/token | ms/token | share | us/call |\n");
  fmt::print("|---|---:|---:|---:|---:|\n");
  for (const auto& [type, e] : rows) {
    fmt::print("| {} | {:.1f} | {:.3f} | {:.1f}% | {:.2f} |\n", type,
               static_cast<double>(e.calls) / tokens, 1000 * e.seconds / tokens,
               100 * e.seconds / total, 1e6 * e.seconds / static_cast<double>(e.calls));
  }
}

int BenchModel(const std::string& dir, int prompt_tokens, int decode_tokens, bool profile,
               ThreadPool* pool) {
  auto t0 = Clock::now();
  auto model = LlmModel::Open(RealFileSystem(), dir, pool);
  if (!model.ok()) {
    fmt::print(stderr, "runtime_bench: {}\n", model.status().ToString());
    return 1;
  }
  double load_s = Since(t0);
  LlmModel& m = **model;
  prompt_tokens = std::min(prompt_tokens, m.context_length() - decode_tokens);
  if (prompt_tokens < 1) {
    fmt::print(stderr, "runtime_bench: context {} too small\n", m.context_length());
    return 1;
  }
  // One token first: warms up and tells the vocabulary size, so the ids below are valid.
  auto probe = m.Forward(std::vector<int32_t>{0});
  if (!probe.ok()) {
    fmt::print(stderr, "runtime_bench: {}\n", probe.status().ToString());
    return 1;
  }
  m.Reset();
  const int64_t id_range = std::max<int64_t>(1, std::min<int64_t>(m.vocab_size(), 1000) - 1);
  std::vector<int32_t> prompt;
  for (int i = 0; i < prompt_tokens; ++i) prompt.push_back(static_cast<int32_t>(1 + (i * 7919) % id_range));
  OpProfile prefill_profile;
  if (profile) SetOpProfile(&prefill_profile);
  t0 = Clock::now();
  auto logits = m.Forward(prompt);
  double prefill_s = Since(t0);
  SetOpProfile(nullptr);
  if (!logits.ok()) {
    fmt::print(stderr, "runtime_bench: {}\n", logits.status().ToString());
    return 1;
  }
  OpProfile op_profile;
  if (profile) SetOpProfile(&op_profile);
  t0 = Clock::now();
  int32_t next = ArgMax(*logits);
  for (int i = 0; i < decode_tokens; ++i) {
    auto step = m.Step(next);
    if (!step.ok()) {
      fmt::print(stderr, "runtime_bench: {}\n", step.status().ToString());
      return 1;
    }
    next = ArgMax(*step);
  }
  double decode_s = Since(t0);
  SetOpProfile(nullptr);
  fmt::print("model        {}\n", dir);
  fmt::print("threads      {}\n", pool->num_threads());
  fmt::print("context      {}  batch {}  hidden {}  vocab {}  chunks {}\n", m.context_length(),
             m.batch_size(), m.hidden_size(), m.vocab_size(), m.config().num_chunks);
  fmt::print("load         {:8.2f} s\n", load_s);
  fmt::print("| phase   | tokens | seconds | tokens/s | ms/token |\n");
  fmt::print("|---------|-------:|--------:|---------:|---------:|\n");
  // The prompt pass is prefill batches plus one `infer` for the last prompt token.
  fmt::print("| prefill | {:6} | {:7.3f} | {:8.2f} | {:8.2f} |\n", prompt_tokens, prefill_s,
             prompt_tokens / prefill_s, 1000 * prefill_s / prompt_tokens);
  fmt::print("| decode  | {:6} | {:7.3f} | {:8.2f} | {:8.2f} |\n", decode_tokens, decode_s,
             decode_tokens / decode_s, 1000 * decode_s / decode_tokens);
  if (profile) {
    PrintProfile("prefill", prefill_profile, prefill_s, prompt_tokens);
    PrintProfile("decode", op_profile, decode_s, decode_tokens);
  }
  return 0;
}

// Times GemmXWt on [rows, cols] weights.
double TimeGemm(const WeightMatrix& w, int m, ThreadPool* pool, int reps) {
  std::vector<float> x(static_cast<size_t>(m) * static_cast<size_t>(w.cols()), 0.01f);
  std::vector<float> out(static_cast<size_t>(m) * static_cast<size_t>(w.rows()));
  GemmXWt(x.data(), m, w, nullptr, out.data(), pool);  // warm-up
  auto t0 = Clock::now();
  for (int r = 0; r < reps; ++r) GemmXWt(x.data(), m, w, nullptr, out.data(), pool);
  return Since(t0) / reps;
}

// fp16 [rows, cols] of values in [-0.1, 0.1).
Tensor RandomFp16(int64_t rows, int64_t cols, std::mt19937* rng) {
  std::vector<float> vals(static_cast<size_t>(rows * cols));
  for (auto& v : vals) v = static_cast<float>(static_cast<int>((*rng)() % 200) - 100) * 1e-3f;
  return Tensor::FromFloats(DType::kFloat16, {rows, cols}, vals);
}

// A [rows, cols] LUT weight with random indices and one table per 8 rows (the converter's
// group 8); undefined on failure.
Tensor RandomLut(int64_t rows, int64_t cols, int bits, std::mt19937* rng) {
  std::vector<uint8_t> idx(static_cast<size_t>(rows * cols));
  for (auto& i : idx) i = static_cast<uint8_t>((*rng)() % (1u << bits));
  auto packed = std::make_shared<std::vector<uint8_t>>(coreml::PackBits(idx, bits));
  const int64_t groups = rows / 8;
  std::vector<float> lut(static_cast<size_t>(groups << bits));
  for (auto& v : lut) v = static_cast<float>(static_cast<int>((*rng)() % 200) - 100) * 1e-3f;
  auto w = LutWeight::Create(
      *packed, packed, bits, {rows, cols},
      Tensor::FromFloats(DType::kFloat16, {groups, 1, int64_t{1} << bits, 1}, lut), std::nullopt);
  return w.ok() ? Tensor::Lut(*w) : Tensor();
}

// One-token LUT6 GEMV on SmolLM2's shapes, hot (the same matrix every call) against streamed
// (a different copy each call, about 100 MB of copies: decode reads every weight once per
// token), and the read bandwidth of a 100 MB buffer on one thread and on the pool.
int BenchStreamed(ThreadPool* pool) {
  std::vector<uint8_t> buf(size_t{100} << 20, 1);
  // Reads by memcpy (glibc's widest vector loads) into a 4 KB block that stays in L1.
  auto read = [&](int64_t begin, int64_t end) {
    alignas(64) uint8_t sink[4096] = {};
    for (int64_t i = begin; i < end; i += 4096) {
      std::memcpy(sink, buf.data() + i, 4096);
      asm volatile("" : : "r"(sink) : "memory");  // every copy is observed, so none is dropped
    }
  };
  const int64_t bytes = static_cast<int64_t>(buf.size());
  read(0, bytes);
  auto t0 = Clock::now();
  read(0, bytes);
  const double one = Since(t0);
  t0 = Clock::now();
  pool->ParallelFor(bytes / 4096, 1, [&](int64_t b, int64_t e) { read(b * 4096, e * 4096); });
  const double all = Since(t0);
  fmt::print("\nread 100 MB: 1 thread {:.1f} GB/s, {} threads {:.1f} GB/s\n", bytes / one / 1e9,
             pool->num_threads(), bytes / all / 1e9);
  struct Shape2 { const char* name; int64_t rows, cols; };
  const Shape2 shapes[] = {{"gate/up 1536x576", 1536, 576}, {"down 576x1536", 576, 1536},
                           {"q/o 576x576", 576, 576}, {"k/v 192x576", 192, 576}};
  std::mt19937 rng(2);
  fmt::print("\none token, LUT6: hot (one matrix) / streamed (a copy per call, ~100 MB), us per call\n");
  fmt::print("| weight            | hot us | streamed us | streamed / hot |\n");
  fmt::print("|-------------------|-------:|------------:|---------------:|\n");
  for (const Shape2& s : shapes) {
    const int64_t n = s.rows * s.cols;
    const int copies = static_cast<int>(100000000 / (n * 3 / 4));
    std::vector<WeightMatrix> mats;
    for (int c = 0; c < copies; ++c) {
      Tensor lut = RandomLut(s.rows, s.cols, 6, &rng);
      if (!lut.defined()) return 1;
      auto wm = WeightMatrix::Create(lut, s.rows, s.cols);
      if (!wm.ok()) return 1;
      mats.push_back(*wm);
    }
    std::vector<float> x(static_cast<size_t>(s.cols), 0.01f), out(static_cast<size_t>(s.rows));
    double hot = 1e9, streamed = 1e9;  // best of 3 passes
    for (int pass = 0; pass < 3; ++pass) {
      t0 = Clock::now();
      for (const WeightMatrix& m : mats) GemmXWt(x.data(), 1, m, nullptr, out.data(), pool);
      streamed = std::min(streamed, Since(t0) / copies);
      t0 = Clock::now();
      for (int r = 0; r < copies; ++r) GemmXWt(x.data(), 1, mats[0], nullptr, out.data(), pool);
      hot = std::min(hot, Since(t0) / copies);
    }
    fmt::print("| {:17} | {:6.2f} | {:11.2f} | {:14.2f} |\n", s.name, hot * 1e6, streamed * 1e6,
               streamed / hot);
  }
  return 0;
}

int BenchGemv(ThreadPool* pool) {
  // Llama-3.2-1B projections: q/o [2048,2048], k/v [512,2048], gate/up [8192,2048],
  // down [2048,8192]; per layer 2*2048*2048 + 2*512*2048 + 3*8192*2048 weights. Then
  // SmolLM2-135M's, whose 576-column rows make the per-row and per-call costs show.
  struct Shape2 { const char* name; int64_t rows, cols; };
  const Shape2 shapes[] = {{"gate/up 8192x2048", 8192, 2048}, {"down 2048x8192", 2048, 8192},
                           {"q/o 2048x2048", 2048, 2048},     {"gate/up 1536x576", 1536, 576},
                           {"down 576x1536", 576, 1536},      {"q/o 576x576", 576, 576},
                           {"k/v 192x576", 192, 576},         {"head 49152x576", 49152, 576}};
  std::mt19937 rng(1);
  fmt::print("threads {}\n", pool->num_threads());
  fmt::print("| weight            | format | rows=1 ms | GB/s (stored) | rows=64 ms | GFLOP/s | rows=512 ms | GFLOP/s |\n");
  fmt::print("|-------------------|--------|----------:|--------------:|-----------:|--------:|------------:|--------:|\n");
  for (const Shape2& s : shapes) {
    const int64_t n = s.rows * s.cols;
    Tensor fp16 = RandomFp16(s.rows, s.cols, &rng);
    std::vector<std::pair<std::string, Tensor>> formats = {{"fp16", fp16}};
    for (int bits : {4, 6}) {
      Tensor lut = RandomLut(s.rows, s.cols, bits, &rng);
      if (!lut.defined()) return 1;
      formats.emplace_back(fmt::format("lut{}", bits), lut);
    }
    for (auto& [fmt_name, t] : formats) {
      auto wm = WeightMatrix::Create(t, s.rows, s.cols);
      if (!wm.ok()) return 1;
      double stored = t.is_lut() ? static_cast<double>(t.lut()->compressed_bytes()) : static_cast<double>(t.nbytes());
      // About 40 M weights read per timing, so small matrices are timed over many calls.
      double t1 = TimeGemm(*wm, 1, pool, static_cast<int>(std::max<int64_t>(10, 40000000 / n)));
      double t64 = TimeGemm(*wm, 64, pool, 2);
      double t512 = TimeGemm(*wm, 512, pool, 1);
      fmt::print("| {:17} | {:6} | {:9.3f} | {:13.2f} | {:10.2f} | {:7.2f} | {:11.2f} | {:7.2f} |\n",
                 s.name, fmt_name, t1 * 1e3, stored / t1 / 1e9, t64 * 1e3,
                 2.0 * 64 * static_cast<double>(n) / t64 / 1e9, t512 * 1e3,
                 2.0 * 512 * static_cast<double>(n) / t512 / 1e9);
    }
  }
  // The packed GEMM's crossover: SmolLM2's 576-wide projections, the 4-row dot tiles
  // (ForceDotTileGemm) against GemmXWt's choice, GFLOP/s.
  const Shape2 small[] = {{"gate/up 1536x576", 1536, 576}, {"down 576x1536", 576, 1536},
                          {"q/o 576x576", 576, 576}, {"k/v 192x576", 192, 576}};
  const int rows_list[] = {8, 12, 16, 32, 64, 512};
  fmt::print("\nfp16, GFLOP/s: dot tiles / GemmXWt (packed from kPackedGemmMinRows = 32 rows on AVX-512)\n");
  fmt::print("| weight            |");
  for (int r : rows_list) fmt::print(" rows={:<3}       |", r);
  fmt::print("\n|-------------------|");
  for (size_t i = 0; i < std::size(rows_list); ++i) fmt::print("----------------:|");
  fmt::print("\n");
  for (const Shape2& s : small) {
    const int64_t n = s.rows * s.cols;
    Tensor fp16 = RandomFp16(s.rows, s.cols, &rng);
    auto wm = WeightMatrix::Create(fp16, s.rows, s.cols);
    if (!wm.ok()) return 1;
    fmt::print("| {:17} |", s.name);
    for (int r : rows_list) {
      const int reps = static_cast<int>(std::max<int64_t>(3, 400000000 / (2 * r * n)));
      ForceDotTileGemm(true);
      const double tiles = TimeGemm(*wm, r, pool, reps);
      ForceDotTileGemm(false);
      const double chosen = TimeGemm(*wm, r, pool, reps);
      const double flop = 2.0 * r * static_cast<double>(n);
      fmt::print(" {:6.1f} / {:6.1f} |", flop / tiles / 1e9, flop / chosen / 1e9);
    }
    fmt::print("\n");
  }
  return BenchStreamed(pool);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int prompt_tokens = 128, decode_tokens = 32, threads = 0;
  bool gemv = false, profile = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> int { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--prompt-tokens") prompt_tokens = next();
    else if (a == "--decode-tokens") decode_tokens = next();
    else if (a == "--threads") threads = next();
    else if (a == "--gemv") gemv = true;
    else if (a == "--profile") profile = true;
    else if (!a.empty() && a[0] != '-') dir = a;
    else {
      fmt::print(stderr, "usage: runtime_bench MODEL_DIR [--prompt-tokens N] [--decode-tokens N] "
                         "[--threads T] [--profile] | runtime_bench --gemv [--threads T]\n");
      return 2;
    }
  }
  ThreadPool pool(threads);
  if (gemv) return BenchGemv(&pool);
  if (dir.empty() || decode_tokens < 1 || prompt_tokens < 1) {
    fmt::print(stderr, "usage: runtime_bench MODEL_DIR [--prompt-tokens N] [--decode-tokens N] [--threads T]\n");
    return 2;
  }
  return BenchModel(dir, prompt_tokens, decode_tokens, profile, &pool);
}
