#include "quant/row_scales.h"

#include <algorithm>
#include <cmath>

#include "quant/fp16.h"

namespace anec::quant {

std::vector<uint16_t> InitialRowScales(std::span<const uint16_t> w, int64_t rows, int64_t cols) {
  std::vector<float> row_max(static_cast<size_t>(rows), 0.0f);
  std::vector<bool> finite(static_cast<size_t>(rows), true);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const uint16_t b = w[static_cast<size_t>(r * cols + c)];
      if (HalfIsNonFinite(b)) {
        finite[static_cast<size_t>(r)] = false;
        continue;
      }
      row_max[static_cast<size_t>(r)] =
          std::max(row_max[static_cast<size_t>(r)], std::fabs(HalfToFloat(b)));
    }
  }
  std::vector<float> nonzero;
  for (float m : row_max) {
    if (m > 0) nonzero.push_back(m);
  }
  float median = 1.0f;
  if (!nonzero.empty()) {
    std::nth_element(nonzero.begin(), nonzero.begin() + nonzero.size() / 2, nonzero.end());
    median = nonzero[nonzero.size() / 2];
  }
  std::vector<uint16_t> scales(static_cast<size_t>(rows), FloatToHalf(1.0f));
  constexpr float kMinNormal = 6.103515625e-05f, kMaxHalf = 65504.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const float m = row_max[static_cast<size_t>(r)];
    if (m == 0 || !finite[static_cast<size_t>(r)]) continue;
    scales[static_cast<size_t>(r)] = FloatToHalf(std::clamp(m / median, kMinNormal, kMaxHalf));
  }
  return scales;
}

void RefineRowScales(std::span<const float> w, std::span<const float> importance, int64_t rows,
                     int64_t cols, std::span<double> table, std::span<double> scales,
                     std::span<uint8_t> indices, int iterations) {
  const size_t entries = table.size();
  // Nearest entry by counting the midpoints below the value: a branch-free loop the compiler
  // vectorises (tables have at most 256 entries; LUT4's 15 midpoints are two vector compares).
  std::vector<double> mid(entries > 0 ? entries - 1 : 0), num(entries), den(entries);
  for (int it = 0; it < iterations; ++it) {
    for (int64_t r = 0; r < rows; ++r) {
      double n = 0, d = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const size_t e = static_cast<size_t>(r * cols + c);
        const double q = table[indices[e]];
        n += importance[e] * w[e] * q;
        d += importance[e] * q * q;
      }
      if (n > 0 && d > 0) scales[static_cast<size_t>(r)] = n / d;
    }
    for (size_t t = 0; t + 1 < entries; ++t) mid[t] = 0.5 * (table[t] + table[t + 1]);
    std::fill(num.begin(), num.end(), 0.0);
    std::fill(den.begin(), den.end(), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double s = scales[static_cast<size_t>(r)], inv = 1.0 / s;
      for (int64_t c = 0; c < cols; ++c) {
        const size_t e = static_cast<size_t>(r * cols + c);
        const double v = w[e] * inv;
        unsigned t = 0;
        for (size_t k = 0; k < mid.size(); ++k) t += v > mid[k];
        indices[e] = static_cast<uint8_t>(t);
        num[t] += importance[e] * s * w[e];
        den[t] += importance[e] * s * s;
      }
    }
    // Entry t's members lie between its midpoints with its neighbours, so their mean does too
    // and the table stays ascending, unused entries included.
    for (size_t t = 0; t < entries; ++t) {
      if (den[t] > 0) table[t] = num[t] / den[t];
    }
  }
}

double ScaledError(std::span<const float> w, std::span<const float> importance, int64_t rows,
                   int64_t cols, std::span<const double> table, std::span<const double> scales,
                   std::span<const uint8_t> indices) {
  double err = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const size_t e = static_cast<size_t>(r * cols + c);
      const double d = w[e] - scales[static_cast<size_t>(r)] * table[indices[e]];
      err += importance[e] * d * d;
    }
  }
  return err;
}

}  // namespace anec::quant
