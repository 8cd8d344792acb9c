#include "io/gguf_dequant.h"

#include <cstring>

#include "base/half.h"

namespace anec::io {
namespace {

float F16At(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToFloat(h);
}

// Q4_0: d(f16), qs[16]; element j (<16) low nibble of qs[j], element j+16 its high nibble.
void Q4_0(const uint8_t* b, float* y) {
  float d = F16At(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Q4_1: d, m (f16), qs[16]; value = d*q + m.
void Q4_1(const uint8_t* b, float* y) {
  float d = F16At(b), m = F16At(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q5_0: d, qh (u32, bit j = 5th bit of element j), qs[16]; value = d*(q - 16).
void Q5_0(const uint8_t* b, float* y) {
  float d = F16At(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo - 16);
    y[j + 16] = d * static_cast<float>(hi - 16);
  }
}

// Q5_1: d, m, qh, qs[16]; value = d*q + m.
void Q5_1(const uint8_t* b, float* y) {
  float d = F16At(b), m = F16At(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo) + m;
    y[j + 16] = d * static_cast<float>(hi) + m;
  }
}

// Q8_0: d, int8 qs[32].
void Q8_0(const uint8_t* b, float* y) {
  float d = F16At(b);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[2 + j]));
}

// Q2_K (256 values): scales[16] (low nibble scale, high nibble min), qs[64] (2-bit), d, dmin.
// Element o = a*128 + s*32 + i takes bits 2s..2s+1 of qs[a*32 + i]; sub-block o/16.
void Q2_K(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  float d = F16At(b + 80), dmin = F16At(b + 82);
  for (int o = 0; o < 256; ++o) {
    int a = o / 128, s = (o % 128) / 32, i = o % 32;
    int q = (qs[a * 32 + i] >> (2 * s)) & 3;
    uint8_t sc = scales[o / 16];
    y[o] = d * static_cast<float>(sc & 0x0F) * static_cast<float>(q) -
           dmin * static_cast<float>(sc >> 4);
  }
}

// Q3_K: hmask[32], qs[64], scales[12] (16 six-bit signed scales), d.
void Q3_K(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* sc = b + 96;
  float d = F16At(b + 108);
  int scale[16];
  for (int k = 0; k < 16; ++k) {
    int lo = (sc[k % 8] >> (4 * (k / 8))) & 0x0F;
    int hi = (sc[8 + k % 4] >> (2 * (k / 4))) & 0x03;
    scale[k] = (lo | (hi << 4)) - 32;
  }
  for (int o = 0; o < 256; ++o) {
    int a = o / 128, s = (o % 128) / 32, i = o % 32;
    int ql = (qs[a * 32 + i] >> (2 * s)) & 3;
    int h = (hmask[i] >> (o / 32)) & 1;
    int q = ql - ((h ^ 1) << 2);
    y[o] = d * static_cast<float>(scale[o / 16]) * static_cast<float>(q);
  }
}

// The 6-bit scale/min pairs of Q4_K and Q5_K, 8 sub-blocks of 32.
void ScaleMinK4(const uint8_t* s, int* sc, int* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 0x3F;
    mn[j] = s[4 + j] & 0x3F;
    sc[4 + j] = (s[8 + j] & 0x0F) | ((s[j] >> 2) & 0x30);
    mn[4 + j] = (s[8 + j] >> 4) | ((s[4 + j] >> 2) & 0x30);
  }
}

// Q4_K: d, dmin, scales[12], qs[128]; sub-block j = 2a + h uses nibble h of qs[a*32 + i].
void Q4_K(const uint8_t* b, float* y) {
  float d = F16At(b), dmin = F16At(b + 2);
  int sc[8], mn[8];
  ScaleMinK4(b + 4, sc, mn);
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    int a = j / 2, h = j % 2;
    float dl = d * static_cast<float>(sc[j]), ml = dmin * static_cast<float>(mn[j]);
    for (int i = 0; i < 32; ++i) {
      y[j * 32 + i] = dl * static_cast<float>((qs[a * 32 + i] >> (4 * h)) & 0x0F) - ml;
    }
  }
}

// Q5_K: d, dmin, scales[12], qh[32] (bit j = 5th bit for sub-block j), qs[128].
void Q5_K(const uint8_t* b, float* y) {
  float d = F16At(b), dmin = F16At(b + 2);
  int sc[8], mn[8];
  ScaleMinK4(b + 4, sc, mn);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int j = 0; j < 8; ++j) {
    int a = j / 2, h = j % 2;
    float dl = d * static_cast<float>(sc[j]), ml = dmin * static_cast<float>(mn[j]);
    for (int i = 0; i < 32; ++i) {
      int q = ((qs[a * 32 + i] >> (4 * h)) & 0x0F) | (((qh[i] >> j) & 1) << 4);
      y[j * 32 + i] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q6_K: ql[128], qh[64], int8 scales[16], d. Element o = a*128 + h*64 + t: low 4 bits from
// nibble h of ql[a*64 + t]; high 2 bits from bits 2s of qh[a*32 + i] with o = a*128 + s*32 + i.
void Q6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  float d = F16At(b + 208);
  for (int o = 0; o < 256; ++o) {
    int a = o / 128, r = o % 128;
    int lo = (ql[a * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
    int hi = (qh[a * 32 + r % 32] >> (2 * (r / 32))) & 0x03;
    int q = (lo | (hi << 4)) - 32;
    y[o] = d * static_cast<float>(scales[o / 16]) * static_cast<float>(q);
  }
}

}  // namespace

void DequantizeGgml(GgmlType t, std::span<const uint8_t> bytes, int64_t n, std::span<float> out) {
  const uint8_t* p = bytes.data();
  float* y = out.data();
  switch (t) {
    case GgmlType::kF32: std::memcpy(y, p, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) y[i] = F16At(p + 2 * i);
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        y[i] = BF16ToFloat(v);
      }
      return;
    case GgmlType::kF64:
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        y[i] = static_cast<float>(v);
      }
      return;
    case GgmlType::kI8:
      for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(static_cast<int8_t>(p[i]));
      return;
    case GgmlType::kI16:
      for (int64_t i = 0; i < n; ++i) {
        int16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        y[i] = static_cast<float>(v);
      }
      return;
    case GgmlType::kI32:
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        y[i] = static_cast<float>(v);
      }
      return;
    case GgmlType::kI64:
      for (int64_t i = 0; i < n; ++i) {
        int64_t v;
        std::memcpy(&v, p + 8 * i, 8);
        y[i] = static_cast<float>(v);
      }
      return;
    default: break;
  }
  void (*block_fn)(const uint8_t*, float*) = nullptr;
  switch (t) {
    case GgmlType::kQ4_0: block_fn = Q4_0; break;
    case GgmlType::kQ4_1: block_fn = Q4_1; break;
    case GgmlType::kQ5_0: block_fn = Q5_0; break;
    case GgmlType::kQ5_1: block_fn = Q5_1; break;
    case GgmlType::kQ8_0: block_fn = Q8_0; break;
    case GgmlType::kQ2_K: block_fn = Q2_K; break;
    case GgmlType::kQ3_K: block_fn = Q3_K; break;
    case GgmlType::kQ4_K: block_fn = Q4_K; break;
    case GgmlType::kQ5_K: block_fn = Q5_K; break;
    case GgmlType::kQ6_K: block_fn = Q6_K; break;
    default: return;
  }
  int64_t bs = GgmlBlockSize(t), bb = GgmlBlockBytes(t);
  for (int64_t blk = 0; blk < n / bs; ++blk) block_fn(p + blk * bb, y + blk * bs);
}

namespace {

// Codes of one block (see GgmlCodes); bit positions as in the dequantizers above.
void CodesNibbles(const uint8_t* qs, uint8_t* c) {
  for (int j = 0; j < 16; ++j) {
    c[j] = qs[j] & 0x0F;
    c[j + 16] = static_cast<uint8_t>(qs[j] >> 4);
  }
}
void CodesQ4_0(const uint8_t* b, uint8_t* c) { CodesNibbles(b + 2, c); }
void CodesQ4_1(const uint8_t* b, uint8_t* c) { CodesNibbles(b + 4, c); }
void CodesQ5_0(const uint8_t* b, uint8_t* c) {
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  CodesNibbles(b + 6, c);
  for (int j = 0; j < 32; ++j) c[j] = static_cast<uint8_t>(c[j] | (((qh >> j) & 1u) << 4));
}
void CodesQ8_0(const uint8_t* b, uint8_t* c) { std::memcpy(c, b + 2, 32); }
void CodesQ2_K(const uint8_t* b, uint8_t* c) {
  const uint8_t* qs = b + 16;
  for (int o = 0; o < 256; ++o) {
    int a = o / 128, s = (o % 128) / 32, i = o % 32;
    c[o] = static_cast<uint8_t>((qs[a * 32 + i] >> (2 * s)) & 3);
  }
}
void CodesQ3_K(const uint8_t* b, uint8_t* c) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  for (int o = 0; o < 256; ++o) {
    int a = o / 128, s = (o % 128) / 32, i = o % 32;
    int ql = (qs[a * 32 + i] >> (2 * s)) & 3;
    int h = (hmask[i] >> (o / 32)) & 1;
    c[o] = static_cast<uint8_t>(ql | (h << 2));
  }
}
void CodesQ4_K(const uint8_t* b, uint8_t* c) {
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    int a = j / 2, h = j % 2;
    for (int i = 0; i < 32; ++i) c[j * 32 + i] = (qs[a * 32 + i] >> (4 * h)) & 0x0F;
  }
}

}  // namespace

bool GgmlCodes(GgmlType t, std::span<const uint8_t> bytes, int64_t n, std::span<uint8_t> out) {
  void (*block_fn)(const uint8_t*, uint8_t*) = nullptr;
  switch (t) {
    case GgmlType::kQ4_0: block_fn = CodesQ4_0; break;
    case GgmlType::kQ4_1: block_fn = CodesQ4_1; break;
    case GgmlType::kQ5_0: block_fn = CodesQ5_0; break;
    case GgmlType::kQ8_0: block_fn = CodesQ8_0; break;
    case GgmlType::kQ2_K: block_fn = CodesQ2_K; break;
    case GgmlType::kQ3_K: block_fn = CodesQ3_K; break;
    case GgmlType::kQ4_K: block_fn = CodesQ4_K; break;
    default: return false;
  }
  const int64_t bs = GgmlBlockSize(t), bb = GgmlBlockBytes(t);
  for (int64_t blk = 0; blk < n / bs; ++blk) block_fn(bytes.data() + blk * bb, out.data() + blk * bs);
  return true;
}

Result<std::vector<float>> DequantizeTensor(const GgufFile& file, const GgufTensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements()));
  DequantizeGgml(t.type, file.TensorBytes(t), t.num_elements(), out);
  return out;
}

}  // namespace anec::io
