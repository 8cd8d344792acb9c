#include "quant/palettize.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <string_view>
#include <thread>

#include "quant/fp16.h"
#include "quant/kmeans_1d.h"
#include "quant/row_scales.h"

namespace anec::quant {
namespace {

constexpr int kPatterns = 65536;

// Per-thread scratch reused across groups; the histogram arrays are returned to all-zero after
// each group, so a group's result never depends on which groups the thread ran before.
struct Workspace {
  std::vector<uint32_t> count = std::vector<uint32_t>(kPatterns, 0);     // by fp16 bit pattern
  std::vector<double> importance = std::vector<double>(kPatterns, 0.0);  // by bit pattern
  std::vector<uint64_t> present = std::vector<uint64_t>(kPatterns / 64, 0);
  std::vector<uint8_t> index_of = std::vector<uint8_t>(kPatterns, 0);
  std::vector<uint16_t> distinct;  // finite bit patterns in ascending value order (+0 for -0)
  std::vector<double> value, count_w, importance_w, fit_value, fit_weight;
};

struct GroupStats {
  double sse = 0, weighted_sse = 0, sum_sq = 0;
};

struct Job {
  const uint16_t* weights;
  const float* importance;     // null when unweighted
  bool importance_per_column;  // importance[col] for every row, else importance[element]
  const float* row_weight;     // s_r^2 per row with row scales (times the importance), else null
  int64_t cols;
  int64_t group_rows;
  int bits;
  std::string_view name;
  const uint16_t* tables;  // [groups][2^bits] to assign to instead of fitting, or null
  // Row-scale refinement (LutConfig::row_scale_iterations > 0): the fp16 input, and the
  // normalised weights, scales and row weights above, which a group updates for its own rows.
  const uint16_t* original;
  uint16_t* normalized;
  uint16_t* scale_fp16;
  float* row_weight_mut;
  int scale_iterations;
};

bool Weighted(const Job& job) { return job.importance != nullptr || job.row_weight != nullptr; }

// First non-finite element of a group, for the error message (only on the failure path).
Status NonFiniteError(const Job& job, int64_t group, const uint16_t* w, int64_t n) {
  for (int64_t e = 0; e < n; ++e) {
    if (!HalfIsNonFinite(w[e])) continue;
    const int64_t row = group * job.group_rows + e / job.cols;
    return InvalidArgument(
        "tensor '{}': weight [{}, {}] is {} (fp16 bits 0x{:04X}); palettization needs finite "
        "weights. Check the checkpoint, or values beyond +-65504 that overflowed when converted "
        "to fp16",
        job.name, row, e % job.cols, (w[e] & 0x3FF) ? "NaN" : "Inf", w[e]);
  }
  return Internal("tensor '{}': non-finite weight reported but not found", job.name);
}

// Counts the group's bit patterns, then lists the distinct finite values in ascending order
// (-0 merged into +0) with their counts and importance sums; resets the histogram.
Status BuildHistogram(const Job& job, int64_t group, Workspace& ws) {
  const int64_t n = job.group_rows * job.cols;
  const uint16_t* w = job.weights + group * n;
  uint32_t* count = ws.count.data();
  uint64_t* present = ws.present.data();
  for (int64_t e = 0; e < n; ++e) {
    const uint16_t b = w[e];
    ++count[b];
    present[b >> 6] |= uint64_t{1} << (b & 63);
  }
  if (job.importance != nullptr || job.row_weight != nullptr) {
    const float* imp = job.importance == nullptr
                           ? nullptr
                           : job.importance + (job.importance_per_column ? 0 : group * n);
    const float* row_w =
        job.row_weight == nullptr ? nullptr : job.row_weight + group * job.group_rows;
    for (int64_t e = 0; e < n; ++e) {
      const float v = imp == nullptr ? 1.0f : imp[job.importance_per_column ? e % job.cols : e];
      if (!(v >= 0.0f) || !std::isfinite(v)) {
        std::fill(ws.count.begin(), ws.count.end(), 0u);
        std::fill(ws.present.begin(), ws.present.end(), 0u);
        std::fill(ws.importance.begin(), ws.importance.end(), 0.0);
        const int64_t row = group * job.group_rows + e / job.cols;
        return InvalidArgument(
            "tensor '{}': importance [{}, {}] is {}; importance weights must "
            "be finite and >= 0",
            job.name, row, e % job.cols, v);
      }
      ws.importance[w[e]] += row_w == nullptr ? double{v} : double{v} * row_w[e / job.cols];
    }
  }
  // Patterns 0x7C00-0x7FFF and 0xFC00-0xFFFF are Inf/NaN: bitmap words 496-511 and 1008-1023.
  bool non_finite = false;
  for (int word = 496; word < 512; ++word) non_finite |= (present[word] | present[word + 512]) != 0;

  ws.distinct.clear();
  // Negative values: ascending value is descending bit pattern (0xFBFF .. 0x8001).
  for (int word = 1023; word >= 512; --word) {
    uint64_t bitsw = present[word];
    while (bitsw != 0) {
      const int top = 63 - std::countl_zero(bitsw);
      bitsw &= ~(uint64_t{1} << top);
      const uint16_t b = static_cast<uint16_t>(word * 64 + top);
      if (b != 0x8000u && !HalfIsNonFinite(b)) ws.distinct.push_back(b);
    }
  }
  const bool has_zero = (present[0] & 1u) || (present[512] & 1u);
  if (has_zero) ws.distinct.push_back(0);
  for (int word = 0; word < 512; ++word) {
    uint64_t bitsw = present[word];
    while (bitsw != 0) {
      const int low = std::countr_zero(bitsw);
      bitsw &= bitsw - 1;
      const uint16_t b = static_cast<uint16_t>(word * 64 + low);
      if (b != 0 && !HalfIsNonFinite(b)) ws.distinct.push_back(b);
    }
  }
  if (non_finite) {
    std::fill(ws.count.begin(), ws.count.end(), 0u);
    std::fill(ws.present.begin(), ws.present.end(), 0u);
    std::fill(ws.importance.begin(), ws.importance.end(), 0.0);
    return NonFiniteError(job, group, w, n);
  }

  const size_t d = ws.distinct.size();
  ws.value.resize(d);
  ws.count_w.resize(d);
  ws.importance_w.resize(d);
  for (size_t i = 0; i < d; ++i) {
    const uint16_t b = ws.distinct[i];
    ws.value[i] = HalfToFloat(b);
    double c = count[b], imp = ws.importance[b];
    count[b] = 0;
    ws.importance[b] = 0;
    if (b == 0) {  // fold -0 into +0
      c += count[0x8000];
      imp += ws.importance[0x8000];
      count[0x8000] = 0;
      ws.importance[0x8000] = 0;
    }
    ws.count_w[i] = c;
    ws.importance_w[i] = imp;
  }
  std::fill(ws.present.begin(), ws.present.end(), 0u);
  return Status::Ok();
}

// Builds the group's table (ascending fp16) into `lut`.
Status ChooseTable(const Job& job, Workspace& ws, uint16_t* lut) {
  const size_t entries = size_t{1} << job.bits;
  const size_t d = ws.distinct.size();
  // Values with zero importance do not pull any centroid (they still get a nearest index).
  ws.fit_value.clear();
  ws.fit_weight.clear();
  if (Weighted(job)) {
    for (size_t i = 0; i < d; ++i) {
      if (ws.importance_w[i] > 0) {
        ws.fit_value.push_back(ws.value[i]);
        ws.fit_weight.push_back(ws.importance_w[i]);
      }
    }
  }
  if (ws.fit_value.empty()) {  // unweighted, or all importances zero
    ws.fit_value.assign(ws.value.begin(), ws.value.end());
    ws.fit_weight.assign(ws.count_w.begin(), ws.count_w.end());
  }
  size_t used = 0;
  if (ws.fit_value.size() <= entries) {
    for (double v : ws.fit_value) lut[used++] = FloatToHalf(static_cast<float>(v));  // exact
  } else {
    ANEC_ASSIGN_OR_RETURN(Kmeans1DResult km,
                          Kmeans1D(ws.fit_value, ws.fit_weight, static_cast<int>(entries)));
    for (double c : km.centroids) lut[used++] = DoubleToHalf(c);
  }
  // -0 would compare equal to +0; keep tables in canonical +0 form.
  for (size_t i = 0; i < used; ++i) {
    if (lut[i] == 0x8000u) lut[i] = 0;
  }
  for (size_t i = used; i < entries; ++i) lut[i] = lut[used - 1];
  return Status::Ok();
}

// Nearest table entry for every distinct value (ties go to the lower entry), the group's error
// sums, and the bit pattern -> index map used to write the indices.
GroupStats AssignNearest(const Job& job, Workspace& ws, const uint16_t* lut) {
  const size_t entries = size_t{1} << job.bits;
  double table[256];
  for (size_t t = 0; t < entries; ++t) table[t] = HalfToFloat(lut[t]);
  GroupStats s;
  size_t t = 0;  // largest entry <= x so far (table and values both ascend)
  for (size_t i = 0; i < ws.distinct.size(); ++i) {
    const double x = ws.value[i];
    while (t + 1 < entries && table[t + 1] <= x) ++t;
    size_t pick = t;
    if (table[t] < x && t + 1 < entries && table[t + 1] - x < x - table[t]) pick = t + 1;
    if (table[t] > x) pick = t;  // x below the whole table
    const double err = x - table[pick];
    s.sse += ws.count_w[i] * err * err;
    s.weighted_sse += ws.importance_w[i] * err * err;
    s.sum_sq += ws.count_w[i] * x * x;
    const uint16_t b = ws.distinct[i];
    ws.index_of[b] = static_cast<uint8_t>(pick);
    if (b == 0) ws.index_of[0x8000] = static_cast<uint8_t>(pick);
  }
  if (!Weighted(job)) s.weighted_sse = s.sse;
  return s;
}

// normalized = fp16(w / s_r) and row_weight = s_r^2 for the rows [row_begin, row_end).
void ApplyRowScales(const uint16_t* w, const uint16_t* scale_fp16, int64_t row_begin,
                    int64_t row_end, int64_t cols, uint16_t* normalized, float* row_weight) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float scale = HalfToFloat(scale_fp16[r]);
    row_weight[r] = scale * scale;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t e = r * cols + c;
      normalized[e] = scale == 1.0f ? w[e] : FloatToHalf(HalfToFloat(w[e]) / scale);
    }
  }
}

// The group's weights, element weights, table, scales and indices as RefineRowScales takes them.
struct ScaledGroup {
  std::vector<float> w, importance;
  std::vector<double> table, scales;
  std::vector<uint8_t> indices;
};

void ReadScaledGroup(const Job& job, int64_t group, const Workspace& ws, const uint16_t* lut,
                     ScaledGroup* g) {
  const size_t entries = size_t{1} << job.bits;
  const int64_t r0 = group * job.group_rows, n = job.group_rows * job.cols;
  g->w.resize(static_cast<size_t>(n));
  g->importance.resize(static_cast<size_t>(n));
  g->indices.resize(static_cast<size_t>(n));
  g->table.resize(entries);
  g->scales.resize(static_cast<size_t>(job.group_rows));
  for (size_t t = 0; t < entries; ++t) g->table[t] = HalfToFloat(lut[t]);
  for (int64_t r = 0; r < job.group_rows; ++r) {
    g->scales[static_cast<size_t>(r)] = HalfToFloat(job.scale_fp16[r0 + r]);
  }
  for (int64_t l = 0; l < n; ++l) {
    const int64_t e = r0 * job.cols + l;
    g->w[static_cast<size_t>(l)] = HalfToFloat(job.original[e]);
    g->importance[static_cast<size_t>(l)] = job.importance == nullptr ? 1.0f
                                            : job.importance_per_column
                                                ? job.importance[l % job.cols]
                                                : job.importance[e];
    g->indices[static_cast<size_t>(l)] = ws.index_of[job.normalized[e]];
  }
}

// Fits the group's table (or copies the given one) and assigns every value its nearest entry.
Status FitGroup(const Job& job, int64_t group, Workspace& ws, uint16_t* lut, GroupStats* stats) {
  ANEC_RETURN_IF_ERROR(BuildHistogram(job, group, ws));
  if (job.tables != nullptr) {
    const size_t entries = size_t{1} << job.bits;
    std::copy_n(job.tables + static_cast<size_t>(group) * entries, entries, lut);
  } else {
    ANEC_RETURN_IF_ERROR(ChooseTable(job, ws, lut));
  }
  *stats = AssignNearest(job, ws, lut);
  return Status::Ok();
}

// LutConfig::row_scale_iterations: refines the group's scales from its first fit, fits again for
// them, and keeps the better of the two (row_scales.h).
Status RefineGroupScales(const Job& job, int64_t group, Workspace& ws, uint16_t* lut,
                         GroupStats* stats) {
  const size_t entries = size_t{1} << job.bits;
  const int64_t rows = job.group_rows, cols = job.cols, r0 = group * rows;
  ScaledGroup g;
  ReadScaledGroup(job, group, ws, lut, &g);
  const double before = ScaledError(g.w, g.importance, rows, cols, g.table, g.scales, g.indices);
  const std::vector<uint16_t> keep_lut(lut, lut + entries),
      keep_scales(job.scale_fp16 + r0, job.scale_fp16 + r0 + rows);
  RefineRowScales(g.w, g.importance, rows, cols, g.table, g.scales, g.indices,
                  job.scale_iterations);
  constexpr double kMinNormal = 6.103515625e-05, kMaxHalf = 65504.0;
  for (int64_t r = 0; r < rows; ++r) {
    job.scale_fp16[r0 + r] = FloatToHalf(
        static_cast<float>(std::clamp(g.scales[static_cast<size_t>(r)], kMinNormal, kMaxHalf)));
  }
  ApplyRowScales(job.original, job.scale_fp16, r0, r0 + rows, cols, job.normalized,
                 job.row_weight_mut);
  GroupStats refit;
  ANEC_RETURN_IF_ERROR(FitGroup(job, group, ws, lut, &refit));
  ReadScaledGroup(job, group, ws, lut, &g);
  if (ScaledError(g.w, g.importance, rows, cols, g.table, g.scales, g.indices) < before) {
    *stats = refit;
    return Status::Ok();
  }
  // No better (fp16 rounding can undo a tiny gain): the first fit stands.
  std::copy(keep_scales.begin(), keep_scales.end(), job.scale_fp16 + r0);
  ApplyRowScales(job.original, job.scale_fp16, r0, r0 + rows, cols, job.normalized,
                 job.row_weight_mut);
  ANEC_RETURN_IF_ERROR(BuildHistogram(job, group, ws));
  std::copy(keep_lut.begin(), keep_lut.end(), lut);
  *stats = AssignNearest(job, ws, lut);
  return Status::Ok();
}

Status PalettizeGroup(const Job& job, int64_t group, Workspace& ws, uint16_t* lut, uint8_t* idx,
                      GroupStats* stats) {
  ANEC_RETURN_IF_ERROR(FitGroup(job, group, ws, lut, stats));
  if (job.scale_iterations > 0) ANEC_RETURN_IF_ERROR(RefineGroupScales(job, group, ws, lut, stats));
  const int64_t n = job.group_rows * job.cols;
  const uint16_t* w = job.weights + group * n;
  const uint8_t* index_of = ws.index_of.data();
  for (int64_t e = 0; e < n; ++e) idx[e] = index_of[w[e]];
  return Status::Ok();
}

// LutResult::input_hash. std::hash of the bytes (libstdc++: MurmurHash2, a few GB/s; the k-means
// costs ~20 ns per weight, the hash well under 1) mixed with the settings.
uint64_t InputHash(std::span<const uint16_t> weights, std::span<const float> importance,
                   const LutConfig& config, int group_size) {
  auto bytes = [](const void* p, size_t n) {
    return std::hash<std::string_view>{}(std::string_view(static_cast<const char*>(p), n));
  };
  uint64_t h = bytes(weights.data(), weights.size_bytes());
  auto mix = [&h](uint64_t v) { h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2); };
  mix(bytes(importance.data(), importance.size_bytes()));
  mix(importance.size());
  mix(static_cast<uint64_t>(config.bits));
  mix(static_cast<uint64_t>(group_size));
  mix(config.row_scale ? 1 : 2);
  if (config.row_scale) mix(static_cast<uint64_t>(config.row_scale_iterations) + 3);
  return h == 0 ? 1 : h;
}

}  // namespace

Result<LutResult> Palettize(std::span<const uint16_t> fp16_weights, int64_t rows, int64_t cols,
                            const LutConfig& config, std::span<const float> importance,
                            std::string_view tensor_name) {
  const std::string_view name = tensor_name.empty() ? "<unnamed>" : tensor_name;
  const int bits = config.bits;
  if (bits != 1 && bits != 2 && bits != 3 && bits != 4 && bits != 6 && bits != 8) {
    return InvalidArgument(
        "tensor '{}': LUT bits must be 1, 2, 3, 4, 6 or 8 (what Core ML's "
        "constexpr_lut_to_dense accepts), got {}",
        name, bits);
  }
  if (rows <= 0 || cols <= 0) {
    return InvalidArgument("tensor '{}': shape [{}, {}] must have positive rows and cols", name,
                           rows, cols);
  }
  if (fp16_weights.size() != static_cast<size_t>(rows * cols)) {
    return InvalidArgument("tensor '{}': shape [{}, {}] needs {} weights, got {}", name, rows, cols,
                           rows * cols, fp16_weights.size());
  }
  if (!importance.empty() && importance.size() != fp16_weights.size() &&
      importance.size() != static_cast<size_t>(cols)) {
    return InvalidArgument(
        "tensor '{}': {} importance weights for {} weights in {} columns; pass one per "
        "weight, one per column or none",
        name, importance.size(), fp16_weights.size(), cols);
  }
  if (config.group_size < 0 || (config.group_size > 0 && rows % config.group_size != 0)) {
    return InvalidArgument(
        "tensor '{}': group size {} does not divide the {} output channels "
        "(rows); choose a divisor of {} or 0 for one table per tensor",
        name, config.group_size, rows, rows);
  }
  if (config.threads < 0) {
    return InvalidArgument("tensor '{}': thread count must be >= 0 (0 = all cores), got {}", name,
                           config.threads);
  }

  LutResult out;
  out.rows = rows;
  out.cols = cols;
  out.bits = bits;
  out.group_size = config.group_size == 0 ? static_cast<int>(std::min<int64_t>(rows, INT32_MAX))
                                          : config.group_size;
  if (config.group_size == 0 && rows > INT32_MAX) {
    return InvalidArgument("tensor '{}': {} rows is too many for one table", name, rows);
  }
  const int64_t groups = rows / out.group_size;
  const size_t entries = size_t{1} << bits;
  out.input_hash = InputHash(fp16_weights, importance, config, out.group_size);
  out.reused_tables = !config.tables.empty() && config.tables_input_hash == out.input_hash &&
                      config.tables.size() == static_cast<size_t>(groups) * entries &&
                      (!config.row_scale || config.row_scales.size() == static_cast<size_t>(rows));
  out.lut_fp16.assign(static_cast<size_t>(groups) * entries, 0);
  out.indices.assign(fp16_weights.size(), 0);

  std::vector<uint16_t> normalized;
  std::vector<float> row_weight;
  if (config.row_scale) {
    if (out.reused_tables) {
      out.row_scale_fp16.assign(config.row_scales.begin(), config.row_scales.end());
    } else {
      out.row_scale_fp16 = InitialRowScales(fp16_weights, rows, cols);
    }
    normalized.resize(fp16_weights.size());
    row_weight.resize(static_cast<size_t>(rows));
    ApplyRowScales(fp16_weights.data(), out.row_scale_fp16.data(), 0, rows, cols, normalized.data(),
                   row_weight.data());
  }
  const int scale_iterations = config.row_scale && !out.reused_tables && bits <= 6
                                   ? std::max(0, config.row_scale_iterations)
                                   : 0;
  const Job job{config.row_scale ? normalized.data() : fp16_weights.data(),
                importance.empty() ? nullptr : importance.data(),
                !importance.empty() && importance.size() != fp16_weights.size(),
                config.row_scale ? row_weight.data() : nullptr,
                cols,
                out.group_size,
                bits,
                name,
                out.reused_tables ? config.tables.data() : nullptr,
                fp16_weights.data(),
                config.row_scale ? normalized.data() : nullptr,
                config.row_scale ? out.row_scale_fp16.data() : nullptr,
                config.row_scale ? row_weight.data() : nullptr,
                scale_iterations};
  std::vector<GroupStats> stats(groups);
  std::vector<Status> status(groups);
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    Workspace ws;
    // Groups are handed out in increasing order, so every group before a failing one is run
    // and the error reported below is always the first one, whatever the thread count.
    for (int64_t g; !failed.load(std::memory_order_relaxed) && (g = next.fetch_add(1)) < groups;) {
      status[g] = PalettizeGroup(job, g, ws, out.lut_fp16.data() + g * entries,
                                 out.indices.data() + g * out.group_size * cols, &stats[g]);
      if (!status[g].ok()) failed.store(true, std::memory_order_relaxed);
    }
  };
  int threads =
      config.threads > 0 ? config.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = static_cast<int>(std::clamp<int64_t>(threads, 1, groups));
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& th : pool) th.join();
  }
  for (int64_t g = 0; g < groups; ++g) {
    if (!status[g].ok()) return status[g];
  }

  double sum_sq = 0;
  for (const GroupStats& s : stats) {  // group order: independent of the thread count
    out.sse += s.sse;
    out.weighted_sse += s.weighted_sse;
    sum_sq += s.sum_sq;
  }
  if (config.row_scale) {
    // The group sums are in the normalised units; the error of the scaled reconstruction is
    // what the caller needs (weighted_sse agrees with the group sums up to the fp16 rounding of
    // the normalised values and of the products).
    out.sse = out.weighted_sse = sum_sq = 0;
    const std::vector<uint16_t> dense = DequantizeToHalf(out);
    const bool per_column = !importance.empty() && importance.size() != fp16_weights.size();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const size_t e = static_cast<size_t>(r * cols + c);
        const double x = HalfToFloat(fp16_weights[e]);
        const double err = x - HalfToFloat(dense[e]);
        const double imp = importance.empty() ? 1.0 : importance[per_column ? c : e];
        out.sse += err * err;
        out.weighted_sse += imp * err * err;
        sum_sq += x * x;
      }
    }
  }
  out.mse = out.sse / static_cast<double>(fp16_weights.size());
  out.snr_db =
      out.sse > 0 ? 10.0 * std::log10(sum_sq / out.sse) : std::numeric_limits<double>::infinity();
  return out;
}

std::vector<uint16_t> DequantizeToHalf(const LutResult& lut) {
  std::vector<uint16_t> out(lut.indices.size());
  const size_t entries = size_t{1} << lut.bits;
  const int64_t per_group = static_cast<int64_t>(lut.group_size) * lut.cols;
  for (size_t e = 0; e < out.size(); ++e) {
    const size_t g = static_cast<size_t>(static_cast<int64_t>(e) / per_group);
    out[e] = lut.lut_fp16[g * entries + lut.indices[e]];
  }
  if (!lut.row_scale_fp16.empty()) {
    for (size_t e = 0; e < out.size(); ++e) {
      const float scale =
          HalfToFloat(lut.row_scale_fp16[static_cast<size_t>(static_cast<int64_t>(e) / lut.cols)]);
      out[e] = FloatToHalf(HalfToFloat(out[e]) * scale);
    }
  }
  return out;
}

std::vector<float> DequantizeToFloat(const LutResult& lut) {
  return HalfsToFloat(DequantizeToHalf(lut));
}

}  // namespace anec::quant
