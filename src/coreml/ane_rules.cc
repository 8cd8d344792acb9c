#include "coreml/ane_rules.h"

#include <fmt/ranges.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "coreml/program_graph.h"

namespace anec::coreml {

namespace milspec = CoreML::Specification::MILSpec;

namespace {

// Sources are named without URLs; "neural_engine_rules.md" is
// apple/coreai-models: skills/skills/model-authoring/references/neural_engine_rules.md.
const std::vector<AneRule> kRules = {
    {"fp32-compute", AneLevel::kError,
     "an fp32/fp64 tensor in the compute path (op output, function input/output, state, or an fp32 "
     "constant read by a compute op)",
     "apple/coreai-models neural_engine_rules.md (supported dtypes fp16, int8, int16; fp32 falls "
     "back to GPU/CPU)"},
    {"int-compute", AneLevel::kError,
     "an int32/int64 tensor used as data, not only (transitively) as an index operand",
     "apple/coreai-models neural_engine_rules.md (supported dtypes fp16, int8, int16)"},
    {"dim-over-16384", AneLevel::kError,
     "a tensor dimension over 16,384 in compute (conv/linear/matmul weights included, gather "
     "tables not)",
     "Anemll/Anemll (LM head split in pieces of at most 16,384 rows); ane-guide, Model-design "
     "rules (width and height at most 16,384, channels at most 65,536)"},
    {"rank-over-5", AneLevel::kError, "a compute tensor of rank over 5",
     "apple/coreai-models neural_engine_rules.md (max tensor rank 5)"},
    {"narrow-last-axis", AneLevel::kWarning,
     "a heavy op whose last axis holds under 64 bytes (32 fp16 elements)",
     "Apple, Deploying Transformers on the Apple Neural Engine (2022); apple/coreai-models "
     "neural_engine_rules.md (last axis padded to 64 bytes)"},
    {"sdpa", AneLevel::kError, "scaled_dot_product_attention (a GPU path; no fused ANE SDPA)",
     "apple/coreai-models neural_engine_rules.md (there is no fused SDPA path)"},
    {"gather-int32-indices", AneLevel::kError,
     "gather with int32/int64 indices on a table int16/uint16 can index",
     "apple/coremltools: coremltools/converters/mil/mil/passes/defs/quantization.py, "
     "add_int16_cast (default ML-program pipeline); Anemll/Anemll packages carry the int16 "
     "casts"},
    {"dilated-conv", AneLevel::kError, "a conv with a dilation over 1",
     "apple/coreai-models neural_engine_rules.md (dilated convolution factorization)"},
    {"neg-inf-constant", AneLevel::kError,
     "a float constant holding -inf (masks: use a large finite negative)",
     "apple/coreai-models neural_engine_rules.md (causal mask: -40000.0, never -inf)"},
};

bool IsFloat32(milspec::DataType t) { return t == milspec::FLOAT32 || t == milspec::FLOAT64; }
bool IsWideInt(milspec::DataType t) { return t == milspec::INT32 || t == milspec::INT64; }
bool IsInt(milspec::DataType t) {
  switch (t) {
    case milspec::INT8:
    case milspec::INT16:
    case milspec::INT32:
    case milspec::INT64:
    case milspec::UINT8:
    case milspec::UINT16:
    case milspec::UINT32:
    case milspec::UINT64:
      return true;
    default:
      return false;
  }
}

// Parameters that take positions, extents or shapes rather than data.
bool IsIndexParam(const std::string& op, const std::string& param) {
  static const std::map<std::string, std::set<std::string>> kParams = {
      {"gather", {"indices"}},
      {"gather_along_axis", {"indices"}},
      {"gather_nd", {"indices"}},
      {"scatter", {"indices"}},
      {"scatter_along_axis", {"indices"}},
      {"scatter_nd", {"indices"}},
      {"slice_by_index", {"begin", "end", "stride"}},
      {"slice_by_size", {"begin", "size"}},
      {"slice_update", {"begin", "end", "stride"}},
      {"reshape", {"shape"}},
      {"tile", {"reps"}},
      {"fill", {"shape"}},
      {"pad", {"pad"}},
      {"band_part", {"lower", "upper"}},
      {"split", {"split_sizes"}},
      {"topk", {"k"}},
      {"range_1d", {"start", "end", "step"}},
      {"one_hot", {"indices", "one_hot_vector_size"}},
  };
  auto it = kParams.find(op);
  return it != kParams.end() && it->second.count(param) > 0;
}

// Ops that compute positions from positions: fine as long as the result is only an index.
bool IsIndexArithmetic(const std::string& op) {
  static const std::set<std::string> kOps = {
      "add",     "sub",      "mul",         "floor_div",      "mod",           "real_div",
      "maximum", "minimum",  "clip",        "concat",         "stack",         "cast",
      "reshape", "squeeze",  "expand_dims", "slice_by_index", "slice_by_size", "identity",
      "gather",  "range_1d", "abs",
  };
  return kOps.count(op) > 0;
}

enum class Heavy { kNo, kAlways, kIfLarge };

Heavy HeavyKind(const std::string& op) {
  static const std::set<std::string> kAlways = {
      "matmul",        "softmax", "layer_norm",         "batch_norm",
      "instance_norm", "l2_norm", "local_response_norm"};
  static const std::set<std::string> kElementwise = {
      "add",     "sub",    "mul",     "real_div", "pow",  "maximum", "minimum", "exp",    "log",
      "sqrt",    "rsqrt",  "sigmoid", "silu",     "tanh", "gelu",    "relu",    "square", "abs",
      "inverse", "select", "clip",    "erf",      "sin",  "cos",     "softplus"};
  if (kAlways.count(op) || op.rfind("reduce_", 0) == 0) return Heavy::kAlways;
  if (kElementwise.count(op)) return Heavy::kIfLarge;
  return Heavy::kNo;
}

int64_t Elements(const TensorShape& s) {
  int64_t n = 1;
  for (int64_t d : s.dims) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

std::string ShapeText(const TensorShape& s) {
  std::vector<std::string> d;
  for (int64_t x : s.dims) d.push_back(x < 0 ? "?" : std::to_string(x));
  return fmt::format("{}[{}]", DataTypeName(s.dtype), fmt::join(d, ","));
}

int OpsetVersion(const std::string& opset) {
  constexpr std::string_view kPrefix = "CoreML";
  if (opset.rfind(kPrefix, 0) != 0) return 0;
  return std::atoi(opset.c_str() + kPrefix.size());
}

// A tensor the compute rules look at, and where to report it.
struct ComputeTensor {
  std::string value, op, op_type;
  TensorShape shape;
};

class FunctionChecker {
 public:
  FunctionChecker(const ProgramGraph& g, const milspec::Function& fn, std::string package,
                  std::string function, const BlobReader* weights, std::vector<AneFinding>* out)
      : g_(g),
        opset_(OpsetVersion(fn.opset())),
        package_(std::move(package)),
        function_(std::move(function)),
        weights_(weights),
        out_(out) {}

  void Run() {
    std::vector<ComputeTensor> tensors = ComputeTensors();
    for (const ComputeTensor& t : tensors) {
      CheckFp32(t);
      CheckWideInt(t);
      CheckDims(t, "");
      CheckRank(t);
    }
    for (const GraphOp& op : g_.ops()) {
      CheckOpOperands(op);
      CheckNegInf(op);
      if (op.constant) continue;
      CheckLastAxis(op);
      CheckSdpa(op);
      CheckGatherIndices(op);
      CheckDilation(op);
    }
  }

 private:
  void Add(const std::string& rule, const std::string& op, const std::string& op_type,
           std::string message) {
    const AneRule& r = AneRuleById(rule);
    out_->push_back({package_, function_, op, op_type, rule, r.level, std::move(message),
                     std::string(r.source)});
  }

  std::vector<ComputeTensor> ComputeTensors() const {
    std::vector<ComputeTensor> t;
    for (const milspec::NamedValueType* in : g_.inputs()) {
      t.push_back({in->name(), in->name(), in->type().has_statetype() ? "state" : "function input",
                   ShapeOf(in->type())});
    }
    for (const GraphOp& op : g_.ops()) {
      if (op.constant) continue;
      for (const milspec::NamedValueType& o : op.op->outputs()) {
        t.push_back({o.name(), op.name, op.op->type(), ShapeOf(o.type())});
      }
    }
    // A returned value made by a compute op was listed with that op.
    for (const std::string& out : g_.outputs()) {
      const int p = g_.ProducerOf(out);
      if (p >= 0 && g_.ops()[static_cast<size_t>(p)].constant) {
        t.push_back({out, out, "function output", g_.ShapeOfValue(out)});
      }
    }
    return t;
  }

  void CheckFp32(const ComputeTensor& t) {
    if (!t.shape.is_tensor || !IsFloat32(t.shape.dtype)) return;
    Add("fp32-compute", t.op, t.op_type,
        fmt::format("'{}' is {}: the Neural Engine computes in fp16; make it fp16", t.value,
                    ShapeText(t.shape)));
  }

  // The first use of `value` that reads it as data (nullopt: only index operands, transitively).
  std::optional<ValueUse> DataUse(const std::string& value, int depth) {
    auto memo = data_use_.find(value);
    if (memo != data_use_.end()) return memo->second;
    std::optional<ValueUse> found;
    if (depth < 256) {
      for (const ValueUse& u : g_.UsesOf(value)) {
        if (u.op == ValueUse::kFunctionOutput) {
          found = u;
          break;
        }
        const milspec::Operation& c = *g_.ops()[static_cast<size_t>(u.op)].op;
        if (IsIndexParam(c.type(), u.param)) continue;
        bool index_only = u.param != kBlockOutput && IsIndexArithmetic(c.type());
        for (int i = 0; index_only && i < c.outputs_size(); ++i) {
          index_only = IsInt(ShapeOf(c.outputs(i).type()).dtype) &&
                       !DataUse(c.outputs(i).name(), depth + 1).has_value();
        }
        if (!index_only) {
          found = u;
          break;
        }
      }
    }
    data_use_[value] = found;
    return found;
  }

  // Ops that only move elements (no arithmetic).
  static bool IsLayoutOp(const std::string& op) {
    static const std::set<std::string> kOps = {"concat", "reshape", "squeeze", "expand_dims",
                                               "identity"};
    return kOps.count(op) > 0;
  }

  // An argmax/argmin result (or a concat/reshape of such results, constants aside).
  bool IsArgmaxResult(const std::string& value, int depth) const {
    const int p = g_.ProducerOf(value);
    if (p < 0 || depth > 64) return false;
    const milspec::Operation& op = *g_.ops()[static_cast<size_t>(p)].op;
    if (op.type() == "reduce_argmax" || op.type() == "reduce_argmin") return true;
    if (!IsLayoutOp(op.type())) return false;
    bool any = false;
    for (const auto& [param, arg] : op.inputs()) {
      for (const std::string& in : ProgramGraph::ArgNames(op, param)) {
        if (g_.IsConstant(in)) continue;
        if (!IsArgmaxResult(in, depth + 1)) return false;
        any = true;
      }
    }
    return any;
  }

  // Every use returns the value from the function, directly or through layout ops.
  bool OnlyReturned(const std::string& value, int depth) const {
    if (depth > 64) return false;
    for (const ValueUse& u : g_.UsesOf(value)) {
      if (u.op == ValueUse::kFunctionOutput) continue;
      const milspec::Operation& c = *g_.ops()[static_cast<size_t>(u.op)].op;
      if (u.param == kBlockOutput || !IsLayoutOp(c.type())) return false;
      for (int i = 0; i < c.outputs_size(); ++i) {
        if (!OnlyReturned(c.outputs(i).name(), depth + 1)) return false;
      }
    }
    return true;
  }

  void CheckWideInt(const ComputeTensor& t) {
    if (!t.shape.is_tensor || !IsWideInt(t.shape.dtype)) return;
    // ANEMLL 0.3.5's in-model argmax (--argmax): int32 argmax indices concatenated and returned
    // to the host, no arithmetic on them. Its published LM heads carry exactly this.
    if (IsArgmaxResult(t.value, 0) && OnlyReturned(t.value, 0)) return;
    std::optional<ValueUse> use = DataUse(t.value, 0);
    if (!use) return;
    std::string where = "is returned by the function";
    if (use->op != ValueUse::kFunctionOutput) {
      const GraphOp& c = g_.ops()[static_cast<size_t>(use->op)];
      where = fmt::format("is read as data by '{}' ({}) as '{}'", c.name, c.op->type(), use->param);
    }
    Add("int-compute", t.op, t.op_type,
        fmt::format(
            "'{}' ({}) {}: the Neural Engine has no int32/int64 arithmetic; keep integers "
            "to index operands (gather indices, slice begin/end, shapes) or compute in fp16",
            t.value, ShapeText(t.shape), where));
  }

  void CheckDims(const ComputeTensor& t, const std::string& what) {
    if (!t.shape.is_tensor) return;
    for (size_t axis = 0; axis < t.shape.dims.size(); ++axis) {
      const int64_t d = t.shape.dims[axis];
      if (d <= kAneMaxDim) continue;
      // The channel axis (1 of a rank-4 (B, C, H, W) tensor) has the larger limit on some chips.
      const bool channel = t.shape.dims.size() == 4 && axis == 1;
      std::string note = channel && d <= kAneMaxChannels
                             ? "; the channel axis takes up to 65,536 on some chips, but "
                               "16,384 is the limit every chip takes"
                             : "";
      Add("dim-over-16384", t.op, t.op_type,
          fmt::format("{}'{}' is {}: axis {} has {} elements, over {}{}; split the tensor along "
                      "that axis (as the LM head is split into pieces)",
                      what, t.value, ShapeText(t.shape), axis, d, kAneMaxDim, note));
      return;
    }
  }

  void CheckRank(const ComputeTensor& t) {
    if (!t.shape.is_tensor || static_cast<int64_t>(t.shape.dims.size()) <= kAneMaxRank) return;
    Add("rank-over-5", t.op, t.op_type,
        fmt::format("'{}' is {} (rank {}): the Neural Engine takes rank 5 at most; drop size-1 "
                    "axes",
                    t.value, ShapeText(t.shape), t.shape.dims.size()));
  }

  // Constant operands of a compute op: fp32 literals, and the weights of the matrix ops.
  void CheckOpOperands(const GraphOp& op) {
    if (op.constant) return;
    static const std::map<std::string, std::set<std::string>> kWeights = {
        {"conv", {"weight", "bias"}},
        {"conv_transpose", {"weight", "bias"}},
        {"linear", {"weight", "bias"}},
        {"matmul", {"x", "y"}}};
    auto weights = kWeights.find(op.op->type());
    bool fp32_reported = false;
    for (const auto& [param, arg] : op.op->inputs()) {
      for (const auto& binding : arg.arguments()) {
        const TensorShape s =
            binding.has_name() ? g_.ShapeOfValue(binding.name()) : ShapeOf(binding.value().type());
        const bool constant = binding.has_value() || g_.IsConstant(binding.name());
        if (!constant) continue;
        const std::string name = binding.has_name() ? binding.name() : "<inline " + param + ">";
        if (!fp32_reported && s.is_tensor && IsFloat32(s.dtype)) {
          fp32_reported = true;
          Add("fp32-compute", op.name, op.op->type(),
              fmt::format("reads the {} constant '{}' as '{}': an fp32 literal makes the op fp32; "
                          "store it as fp16",
                          ShapeText(s), name, param));
        }
        if (weights != kWeights.end() && weights->second.count(param)) {
          CheckDims({name, op.name, op.op->type(), s}, fmt::format("weight '{}': ", param));
        }
      }
    }
  }

  void CheckNegInf(const GraphOp& op) {
    auto scan = [&](const milspec::Value& v, const std::string& what) {
      const TensorShape s = ShapeOf(v.type());
      if (!s.is_tensor || DataTypeBytes(s.dtype) < 2 || IsInt(s.dtype)) return;
      int64_t count = 0;
      VisitFloats(v, weights_, kMaxScannedConstBytes, [&](double x) {
        if (std::isinf(x) && x < 0) ++count;
        return true;
      });
      if (count == 0) return;
      Add("neg-inf-constant", op.name, op.op->type(),
          fmt::format("{} ({}) holds -inf in {} element(s): the Neural Engine mishandles -inf "
                      "(softmax of a masked row); use a large finite negative such as -65504 or "
                      "-1e4",
                      what, ShapeText(s), count));
    };
    if (op.op->type() == "const") {
      auto val = op.op->attributes().find("val");
      if (val != op.op->attributes().end()) scan(val->second, "the constant");
    }
    for (const auto& [param, arg] : op.op->inputs()) {
      for (const auto& binding : arg.arguments()) {
        if (binding.has_value()) scan(binding.value(), "inline '" + param + "'");
      }
    }
  }

  void CheckLastAxis(const GraphOp& op) {
    const Heavy kind = HeavyKind(op.op->type());
    if (kind == Heavy::kNo) return;
    std::vector<std::pair<std::string, TensorShape>> tensors;
    if (kind == Heavy::kAlways) {
      for (const char* param : {"x", "y"}) {
        for (const std::string& n : ProgramGraph::ArgNames(*op.op, param)) {
          if (!g_.IsConstant(n)) tensors.emplace_back(n, g_.ShapeOfValue(n));
        }
      }
    }
    // A reduction's output is narrow by design (keep_dims); its input is what streams.
    if (op.op->type().rfind("reduce_", 0) != 0) {
      for (const milspec::NamedValueType& o : op.op->outputs()) {
        const TensorShape s = ShapeOf(o.type());
        if (kind == Heavy::kAlways || Elements(s) >= kHeavyElementwiseElements) {
          tensors.emplace_back(o.name(), s);
        }
      }
    }
    for (const auto& [name, s] : tensors) {
      const int bytes = DataTypeBytes(s.dtype);
      if (!s.is_tensor || s.dims.empty() || bytes == 0 || s.dims.back() < 0) continue;
      // (B, C, 1, 1): one token in the channels-first layout of the 1x1 convs. Elementwise ops
      // between two convs (silu(gate) * up) share it in ANEMLL's graphs too, so they pass; a
      // norm, softmax, reduction or matmul over it does not: ANEMLL's layout ([1, S, C], the
      // norm over the last axis) avoids that padding (docs/ANE_RULES.md).
      if (kind == Heavy::kIfLarge && s.dims.size() == 4 && s.dims[2] == 1 && s.dims[3] == 1) {
        continue;
      }
      if (s.dims.back() * bytes >= kAneLastAxisBytes) continue;
      Add("narrow-last-axis", op.name, op.op->type(),
          fmt::format("'{}' is {}: its last axis is {} bytes and the Neural Engine pads it to {} "
                      "({}x the memory traffic); put a longer axis last",
                      name, ShapeText(s), s.dims.back() * bytes, kAneLastAxisBytes,
                      kAneLastAxisBytes / (s.dims.back() * bytes)));
      return;
    }
  }

  void CheckSdpa(const GraphOp& op) {
    if (op.op->type() != "scaled_dot_product_attention") return;
    Add("sdpa", op.name, op.op->type(),
        "scaled_dot_product_attention runs on the GPU: the Neural Engine has no fused attention; "
        "write it as matmul, add (mask), softmax, matmul");
  }

  void CheckGatherIndices(const GraphOp& op) {
    const std::string& type = op.op->type();
    if (type != "gather" && type != "gather_along_axis" && type != "gather_nd") return;
    // int16 gather indices arrived with the iOS17 opset (CoreML7); older opsets cannot do better.
    if (opset_ != 0 && opset_ < 7) return;
    const std::vector<std::string> idx = ProgramGraph::ArgNames(*op.op, "indices");
    const std::vector<std::string> x = ProgramGraph::ArgNames(*op.op, "x");
    if (idx.size() != 1 || x.size() != 1) return;
    const TensorShape is = g_.ShapeOfValue(idx[0]), xs = g_.ShapeOfValue(x[0]);
    if (!IsWideInt(is.dtype) || xs.dims.empty()) return;
    std::vector<int64_t> axes;  // the table axes the indices address
    if (type == "gather_nd") {
      const int64_t k = is.dims.empty() ? -1 : is.dims.back();
      for (int64_t a = 0; a < k && a < static_cast<int64_t>(xs.dims.size()); ++a) axes.push_back(a);
    } else {
      int64_t axis = 0;
      if (const milspec::Value* v = g_.ConstArg(*op.op, "axis")) {
        if (auto ints = ImmediateInts(*v); ints && ints->size() == 1) axis = (*ints)[0];
      }
      if (axis < 0) axis += static_cast<int64_t>(xs.dims.size());
      if (axis >= 0 && axis < static_cast<int64_t>(xs.dims.size())) axes.push_back(axis);
    }
    if (axes.empty()) return;
    int64_t rows = 0;
    for (int64_t a : axes) {
      const int64_t d = xs.dims[static_cast<size_t>(a)];
      if (d < 0) return;
      rows = std::max(rows, d);
    }
    if (rows > kInt16IndexableRows) return;
    Add("gather-int32-indices", op.name, type,
        fmt::format("indices '{}' are {} on a table of {} rows (axis {}): cast them to int16 "
                    "(uint16 for constant non-negative indices), as coremltools does for tables "
                    "of at most {} rows",
                    idx[0], ShapeText(is), rows, fmt::join(axes, ","), kInt16IndexableRows));
  }

  void CheckDilation(const GraphOp& op) {
    if (op.op->type() != "conv" && op.op->type() != "conv_transpose") return;
    const milspec::Value* v = g_.ConstArg(*op.op, "dilations");
    if (v == nullptr) return;
    std::optional<std::vector<int64_t>> d = ImmediateInts(*v);
    if (!d) return;
    for (int64_t x : *d) {
      if (x > 1) {
        Add("dilated-conv", op.name, op.op->type(),
            fmt::format("dilations [{}]: dilated convolutions are slow or rejected on the Neural "
                        "Engine; use dilation 1 (an LLM graph never needs another)",
                        fmt::join(*d, ",")));
        return;
      }
    }
  }

  const ProgramGraph& g_;
  int opset_;
  std::string package_, function_;
  const BlobReader* weights_;
  std::vector<AneFinding>* out_;
  std::map<std::string, std::optional<ValueUse>> data_use_;
};

}  // namespace

std::string_view AneLevelName(AneLevel level) {
  return level == AneLevel::kError ? "error" : "warning";
}

const std::vector<AneRule>& AneRules() { return kRules; }

const AneRule& AneRuleById(std::string_view id) {
  for (const AneRule& r : kRules) {
    if (r.id == id) return r;
  }
  return kRules.front();  // unreachable for ids this file uses (REQUIRES)
}

std::vector<AneFinding> CheckAneModel(const CoreML::Specification::Model& model,
                                      const BlobReader* weights, const std::string& package) {
  std::vector<AneFinding> findings;
  std::vector<std::string> names;
  for (const auto& [name, _] : model.mlprogram().functions()) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const milspec::Function& fn = model.mlprogram().functions().at(name);
    ProgramGraph g(fn);
    FunctionChecker(g, fn, package, name, weights, &findings).Run();
  }
  return findings;
}

}  // namespace anec::coreml
