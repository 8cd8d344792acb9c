#include "io/prequant_linear.h"

#include <algorithm>
#include <cstring>

#include "base/half.h"

namespace anec::io {
namespace {

// Nibble k of an AWQ-packed int32 holds output column 8c + kAwqOrder[k].
constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool IsFloat(TensorDType t) {
  return t == TensorDType::kF16 || t == TensorDType::kBF16 || t == TensorDType::kF32;
}

std::vector<int32_t> LoadI32(const TensorData& t) {
  std::vector<int32_t> v(t.data.size() / 4);
  if (!v.empty()) std::memcpy(v.data(), t.data.data(), v.size() * 4);
  return v;
}

Result<std::vector<int32_t>> LoadIndex(const TensorData& t) {
  if (t.info.dtype == TensorDType::kI32) return LoadI32(t);
  std::vector<int32_t> v(t.data.size() / 8);
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t x;
    std::memcpy(&x, t.data.data() + 8 * i, 8);
    if (x < INT32_MIN || x > INT32_MAX) {
      return InvalidArgument("tensor {}: value {} at index {} is not a group index", t.info.name, x,
                             i);
    }
    v[i] = static_cast<int32_t>(x);
  }
  return v;
}

struct Shapes {
  int64_t out = 0, in = 0, groups = 0;
  bool has_g_idx = false;
};

Result<Shapes> CheckShapes(const PrequantConfig& cfg, const TensorSource& src,
                           const std::string& prefix) {
  PrequantTensorNames n(prefix);
  std::string where = cfg.path + " (" + std::string(PrequantMethodName(cfg.method)) + ")";
  auto need = [&](const std::string& name) -> Result<TensorInfo> {
    if (!src.Has(name)) {
      return InvalidArgument(
          "quantized layer {}: tensor {} is missing; a {} checkpoint stores "
          "{}.qweight, .qzeros and .scales for each quantized linear",
          prefix, name, where, prefix);
    }
    return src.Info(name);
  };
  ANEC_ASSIGN_OR_RETURN(TensorInfo qw, need(n.qweight));
  ANEC_ASSIGN_OR_RETURN(TensorInfo qz, need(n.qzeros));
  ANEC_ASSIGN_OR_RETURN(TensorInfo sc, need(n.scales));
  for (const TensorInfo* t : {&qw, &qz}) {
    if (t->dtype != TensorDType::kI32 || t->shape.size() != 2) {
      return InvalidArgument(
          "tensor {}: expected a 2-D int32 tensor of packed 4-bit values, found "
          "{} {}",
          t->name, TensorDTypeName(t->dtype), ShapeString(t->shape));
    }
  }
  if (!IsFloat(sc.dtype) || sc.shape.size() != 2) {
    return InvalidArgument("tensor {}: expected 2-D f16/bf16/f32 scales, found {} {}", sc.name,
                           TensorDTypeName(sc.dtype), ShapeString(sc.shape));
  }
  Shapes s;
  if (cfg.method == PrequantMethod::kGptq) {
    s.in = qw.shape[0] * 8;
    s.out = qw.shape[1];
  } else {
    s.in = qw.shape[0];
    s.out = qw.shape[1] * 8;
  }
  s.groups = sc.shape[0];
  int64_t expected_groups = cfg.group_size == -1 ? 1 : (s.in + cfg.group_size - 1) / cfg.group_size;
  if (s.in <= 0 || s.out <= 0 || s.out % 8 != 0) {
    return InvalidArgument(
        "tensor {}: shape {} gives a {}x{} weight; out features must be a "
        "positive multiple of 8",
        qw.name, ShapeString(qw.shape), s.out, s.in);
  }
  if (sc.shape != std::vector<int64_t>{expected_groups, s.out}) {
    return InvalidArgument(
        "tensor {}: expected shape {} ({} groups of group_size {} over {} input "
        "features, {} outputs, from {} {}), found {}",
        sc.name, ShapeString({expected_groups, s.out}), expected_groups, cfg.group_size, s.in,
        s.out, qw.name, ShapeString(qw.shape), ShapeString(sc.shape));
  }
  if (qz.shape != std::vector<int64_t>{s.groups, s.out / 8}) {
    return InvalidArgument("tensor {}: expected shape {} (groups x out/8), found {}", qz.name,
                           ShapeString({s.groups, s.out / 8}), ShapeString(qz.shape));
  }
  if (src.Has(n.g_idx)) {
    if (cfg.method != PrequantMethod::kGptq) {
      return InvalidArgument("tensor {}: g_idx is a GPTQ tensor but {} says AWQ", n.g_idx,
                             cfg.path);
    }
    ANEC_ASSIGN_OR_RETURN(TensorInfo gi, src.Info(n.g_idx));
    if ((gi.dtype != TensorDType::kI32 && gi.dtype != TensorDType::kI64) ||
        gi.shape != std::vector<int64_t>{s.in}) {
      return InvalidArgument(
          "tensor {}: expected int32 [{}] (one group per input feature), "
          "found {} {}",
          gi.name, s.in, TensorDTypeName(gi.dtype), ShapeString(gi.shape));
    }
    s.has_g_idx = true;
  }
  return s;
}

}  // namespace

Result<TensorInfo> PrequantWeightInfo(const PrequantConfig& cfg, const TensorSource& src,
                                      const std::string& prefix) {
  ANEC_ASSIGN_OR_RETURN(Shapes s, CheckShapes(cfg, src, prefix));
  TensorInfo info;
  info.name = PrequantTensorNames(prefix).weight;
  info.dtype = TensorDType::kF32;
  info.shape = {s.out, s.in};
  return info;
}

Result<Int4Linear> ReadInt4Linear(const PrequantConfig& cfg, const TensorSource& src,
                                  const std::string& prefix) {
  ANEC_ASSIGN_OR_RETURN(Shapes s, CheckShapes(cfg, src, prefix));
  PrequantTensorNames n(prefix);
  ANEC_ASSIGN_OR_RETURN(TensorData qw_data, src.Read(n.qweight));
  ANEC_ASSIGN_OR_RETURN(TensorData qz_data, src.Read(n.qzeros));
  ANEC_ASSIGN_OR_RETURN(TensorData sc_data, src.Read(n.scales));
  ANEC_ASSIGN_OR_RETURN(std::vector<float> scales, ToFloat32(sc_data));

  Int4Linear l;
  l.name = n.weight;
  l.out_features = s.out;
  l.in_features = s.in;
  l.num_groups = s.groups;
  l.scale_dtype = sc_data.info.dtype;
  const int64_t out = s.out, in = s.in, groups = s.groups, packed_out = out / 8;

  std::vector<int32_t> qw = LoadI32(qw_data);
  l.codes.resize(static_cast<size_t>(out * in));
  if (cfg.method == PrequantMethod::kGptq) {
    for (int64_t r = 0; r < in / 8; ++r) {
      for (int64_t o = 0; o < out; ++o) {
        uint32_t word = static_cast<uint32_t>(qw[r * out + o]);
        for (int k = 0; k < 8; ++k) l.codes[o * in + 8 * r + k] = (word >> (4 * k)) & 0xF;
      }
    }
  } else {
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t c = 0; c < packed_out; ++c) {
        uint32_t word = static_cast<uint32_t>(qw[i * packed_out + c]);
        for (int k = 0; k < 8; ++k) {
          l.codes[(8 * c + kAwqOrder[k]) * in + i] = (word >> (4 * k)) & 0xF;
        }
      }
    }
  }

  std::vector<int32_t> qz = LoadI32(qz_data);
  const uint8_t zero_add = cfg.zeros_minus_one ? 1 : 0;
  l.zeros.resize(static_cast<size_t>(out * groups));
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t c = 0; c < packed_out; ++c) {
      uint32_t word = static_cast<uint32_t>(qz[g * packed_out + c]);
      for (int k = 0; k < 8; ++k) {
        int64_t o = 8 * c + (cfg.method == PrequantMethod::kGptq ? k : kAwqOrder[k]);
        l.zeros[o * groups + g] = static_cast<uint8_t>(((word >> (4 * k)) & 0xF) + zero_add);
      }
    }
  }

  l.scales.resize(static_cast<size_t>(out * groups));
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t o = 0; o < out; ++o) l.scales[o * groups + g] = scales[g * out + o];
  }

  l.group_of_input.resize(static_cast<size_t>(in));
  if (s.has_g_idx) {
    ANEC_ASSIGN_OR_RETURN(TensorData gi_data, src.Read(n.g_idx));
    ANEC_ASSIGN_OR_RETURN(l.group_of_input, LoadIndex(gi_data));
    for (int64_t i = 0; i < in; ++i) {
      if (l.group_of_input[i] < 0 || l.group_of_input[i] >= groups) {
        return InvalidArgument(
            "tensor {}: entry {} is group {}, outside [0, {}) (the group count "
            "of {})",
            n.g_idx, i, l.group_of_input[i], groups, n.scales);
      }
    }
  } else {
    int64_t gs = cfg.group_size == -1 ? in : cfg.group_size;
    for (int64_t i = 0; i < in; ++i) l.group_of_input[i] = static_cast<int32_t>(i / gs);
  }
  return l;
}

std::vector<float> DequantizeInt4(const Int4Linear& l) {
  std::vector<float> w(static_cast<size_t>(l.out_features * l.in_features));
  for (int64_t o = 0; o < l.out_features; ++o) {
    const float* scale = &l.scales[o * l.num_groups];
    const uint8_t* zero = &l.zeros[o * l.num_groups];
    for (int64_t i = 0; i < l.in_features; ++i) {
      int32_t g = l.group_of_input[i];
      int diff = static_cast<int>(l.codes[o * l.in_features + i]) - static_cast<int>(zero[g]);
      w[o * l.in_features + i] = scale[g] * static_cast<float>(diff);
    }
  }
  return w;
}

Result<Int4Blockwise> ToBlockwise(const Int4Linear& l) {
  const int64_t in = l.in_features, groups = l.num_groups;
  std::vector<int64_t> sizes(static_cast<size_t>(groups), 0);
  for (int32_t g : l.group_of_input) ++sizes[g];
  auto [smallest, largest] = std::minmax_element(sizes.begin(), sizes.end());
  if (in % groups != 0 || *smallest != *largest) {
    return Unsupported(
        "{}: its {} groups hold {} to {} input features each; blockwise int4 needs "
        "groups of equal size (in_features % group_size == 0); use the "
        "dequantized weight",
        l.name, groups, *smallest, *largest);
  }
  Int4Blockwise b;
  b.name = l.name;
  b.out_features = l.out_features;
  b.in_features = in;
  b.num_blocks = groups;
  b.block_size = in / groups;

  // With equal group sizes, a stable sort of the inputs by group makes every group one block.
  std::vector<int32_t> perm(static_cast<size_t>(in));
  for (int64_t i = 0; i < in; ++i) perm[i] = static_cast<int32_t>(i);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int32_t a, int32_t c) { return l.group_of_input[a] < l.group_of_input[c]; });
  bool identity = true;
  for (int64_t i = 0; i < in && identity; ++i) identity = perm[i] == i;
  if (!identity) b.input_permutation = perm;

  b.data.resize(l.codes.size());
  for (int64_t o = 0; o < l.out_features; ++o) {
    for (int64_t j = 0; j < in; ++j) b.data[o * in + j] = l.codes[o * in + perm[j]];
  }
  b.scales.resize(l.scales.size());
  for (size_t k = 0; k < l.scales.size(); ++k) {
    uint16_t h = FloatToHalf(l.scales[k]);
    if (HalfToFloat(h) != l.scales[k]) {
      return Unsupported(
          "{}: scale {} (stored as {}) is not exactly representable in fp16, so "
          "the int4 groups cannot be carried as fp16 blockwise scales without "
          "rounding; use the dequantized weight",
          l.name, l.scales[k], TensorDTypeName(l.scale_dtype));
    }
    b.scales[k] = h;
  }
  b.offsets = l.zeros;
  b.offsets_fit_uint4 =
      std::all_of(b.offsets.begin(), b.offsets.end(), [](uint8_t z) { return z <= 15; });
  return b;
}

std::vector<float> ExpandBlockwise(const Int4Blockwise& b) {
  const int64_t in = b.in_features;
  std::vector<float> w(static_cast<size_t>(b.out_features * in));
  for (int64_t o = 0; o < b.out_features; ++o) {
    for (int64_t j = 0; j < in; ++j) {
      int64_t blk = j / b.block_size;
      float scale = HalfToFloat(b.scales[o * b.num_blocks + blk]);
      int diff = static_cast<int>(b.data[o * in + j]) - b.offsets[o * b.num_blocks + blk];
      int64_t col = b.input_permutation.empty() ? j : b.input_permutation[j];
      w[o * in + col] = scale * static_cast<float>(diff);
    }
  }
  return w;
}

std::vector<uint16_t> BlockwiseToLuts(const Int4Blockwise& b) {
  std::vector<uint16_t> luts(static_cast<size_t>(b.out_features * b.num_blocks * 16));
  for (int64_t r = 0; r < b.out_features * b.num_blocks; ++r) {
    float scale = HalfToFloat(b.scales[r]);
    for (int k = 0; k < 16; ++k) {
      luts[r * 16 + k] = FloatToHalf(scale * static_cast<float>(k - b.offsets[r]));
    }
  }
  return luts;
}

}  // namespace anec::io
