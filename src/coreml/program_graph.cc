#include "coreml/program_graph.h"

#include <fmt/format.h>

#include <cstring>

#include "base/half.h"

namespace anec::coreml {

namespace milspec = CoreML::Specification::MILSpec;

TensorShape ShapeOf(const milspec::ValueType& type) {
  const milspec::ValueType* t = &type;
  if (t->has_statetype()) t = &t->statetype().wrappedtype();
  TensorShape s;
  if (!t->has_tensortype()) return s;
  const milspec::TensorType& tt = t->tensortype();
  s.is_tensor = true;
  s.dtype = tt.datatype();
  for (const milspec::Dimension& d : tt.dimensions()) {
    s.dims.push_back(d.has_constant() ? static_cast<int64_t>(d.constant().size()) : -1);
  }
  return s;
}

std::string DataTypeName(milspec::DataType t) {
  switch (t) {
    case milspec::BOOL:
      return "bool";
    case milspec::STRING:
      return "string";
    case milspec::FLOAT16:
      return "fp16";
    case milspec::FLOAT32:
      return "fp32";
    case milspec::FLOAT64:
      return "fp64";
    case milspec::BFLOAT16:
      return "bf16";
    case milspec::INT8:
      return "int8";
    case milspec::INT16:
      return "int16";
    case milspec::INT32:
      return "int32";
    case milspec::INT64:
      return "int64";
    case milspec::INT4:
      return "int4";
    case milspec::UINT8:
      return "uint8";
    case milspec::UINT16:
      return "uint16";
    case milspec::UINT32:
      return "uint32";
    case milspec::UINT64:
      return "uint64";
    case milspec::UINT4:
      return "uint4";
    case milspec::UINT2:
      return "uint2";
    case milspec::UINT1:
      return "uint1";
    case milspec::UINT6:
      return "uint6";
    case milspec::UINT3:
      return "uint3";
    default:
      return fmt::format("dtype({})", static_cast<int>(t));
  }
}

int DataTypeBytes(milspec::DataType t) {
  switch (t) {
    case milspec::FLOAT16:
    case milspec::BFLOAT16:
    case milspec::INT16:
    case milspec::UINT16:
      return 2;
    case milspec::FLOAT32:
    case milspec::INT32:
    case milspec::UINT32:
      return 4;
    case milspec::FLOAT64:
    case milspec::INT64:
    case milspec::UINT64:
      return 8;
    case milspec::INT8:
    case milspec::UINT8:
      return 1;
    default:
      return 0;
  }
}

std::optional<std::vector<int64_t>> ImmediateInts(const milspec::Value& v) {
  if (!v.has_immediatevalue() || !v.immediatevalue().has_tensor()) return std::nullopt;
  const milspec::TensorValue& t = v.immediatevalue().tensor();
  std::vector<int64_t> out;
  if (t.has_ints()) {
    out.assign(t.ints().values().begin(), t.ints().values().end());
  } else if (t.has_longints()) {
    out.assign(t.longints().values().begin(), t.longints().values().end());
  } else if (t.has_bytes()) {
    const milspec::DataType dt = v.type().tensortype().datatype();
    if (dt != milspec::INT8 && dt != milspec::UINT8) return std::nullopt;
    for (char c : t.bytes().values()) {
      out.push_back(dt == milspec::INT8 ? static_cast<int8_t>(c) : static_cast<uint8_t>(c));
    }
  } else {
    return std::nullopt;
  }
  return out;
}

namespace {

float Bf16ToFloat(uint16_t b) { return BitsFloat(static_cast<uint32_t>(b) << 16); }

// Walks 16- or 32-bit little-endian floats in `bytes`.
bool VisitRaw(const uint8_t* data, size_t size, milspec::DataType dt,
              const std::function<bool(double)>& visit) {
  if (dt == milspec::FLOAT16 || dt == milspec::BFLOAT16) {
    for (size_t i = 0; i + 2 <= size; i += 2) {
      const uint16_t h = static_cast<uint16_t>(data[i] | (data[i + 1] << 8));
      if (!visit(dt == milspec::FLOAT16 ? HalfToFloat(h) : Bf16ToFloat(h))) break;
    }
    return true;
  }
  if (dt == milspec::FLOAT32) {
    for (size_t i = 0; i + 4 <= size; i += 4) {
      float f;
      std::memcpy(&f, data + i, 4);
      if (!visit(f)) break;
    }
    return true;
  }
  return false;
}

}  // namespace

bool VisitFloats(const milspec::Value& v, const BlobReader* weights, uint64_t max_blob_bytes,
                 const std::function<bool(double)>& visit) {
  const milspec::DataType dt = ShapeOf(v.type()).dtype;
  if (v.has_blobfilevalue()) {
    if (weights == nullptr) return false;
    Result<Blob> b = weights->Get(v.blobfilevalue().offset());
    if (!b.ok()) return false;
    if (b->size_bytes > max_blob_bytes) return true;
    return VisitRaw(b->data.data(), b->data.size(), dt, visit);
  }
  if (!v.has_immediatevalue() || !v.immediatevalue().has_tensor()) return false;
  const milspec::TensorValue& t = v.immediatevalue().tensor();
  if (t.has_floats()) {
    for (float f : t.floats().values()) {
      if (!visit(f)) break;
    }
    return true;
  }
  if (t.has_doubles()) {
    for (double d : t.doubles().values()) {
      if (!visit(d)) break;
    }
    return true;
  }
  if (t.has_bytes()) {
    const std::string& raw = t.bytes().values();
    return VisitRaw(reinterpret_cast<const uint8_t*>(raw.data()), raw.size(), dt, visit);
  }
  return false;
}

ProgramGraph::ProgramGraph(const milspec::Function& fn) {
  for (const milspec::NamedValueType& in : fn.inputs()) {
    inputs_.push_back(&in);
    values_[in.name()].type = &in.type();
  }
  auto block = fn.block_specializations().find(fn.opset());
  if (block == fn.block_specializations().end()) block = fn.block_specializations().begin();
  if (block == fn.block_specializations().end()) return;
  AddBlock(block->second, 0);
  for (const std::string& out : block->second.outputs()) {
    outputs_.push_back(out);
    values_[out].uses.push_back({ValueUse::kFunctionOutput, ""});
  }
}

void ProgramGraph::AddBlock(const milspec::Block& block, int depth) {
  // Hostile nesting stays partial rather than overflowing the stack.
  if (depth > 64) return;
  for (const milspec::NamedValueType& in : block.inputs()) values_[in.name()].type = &in.type();
  for (const milspec::Operation& op : block.operations()) {
    const int index = static_cast<int>(ops_.size());
    GraphOp g;
    g.op = &op;
    g.depth = depth;
    auto name = op.attributes().find("name");
    if (name != op.attributes().end() && name->second.immediatevalue().tensor().has_strings() &&
        name->second.immediatevalue().tensor().strings().values_size() == 1) {
      g.name = name->second.immediatevalue().tensor().strings().values(0);
    } else if (op.outputs_size() > 0) {
      g.name = op.outputs(0).name();
    }
    const bool constexpr_op = op.type() == "const" || op.type().rfind("constexpr_", 0) == 0;
    bool all_const = op.inputs_size() > 0 && op.blocks_size() == 0;
    for (const auto& [param, arg] : op.inputs()) {
      for (const auto& binding : arg.arguments()) {
        if (!binding.has_name()) continue;
        ValueInfo& v = values_[binding.name()];
        v.uses.push_back({index, param});
        all_const = all_const && v.constant;
      }
    }
    g.constant = constexpr_op || all_const;
    ops_.push_back(g);
    for (const milspec::Block& inner : op.blocks()) {
      AddBlock(inner, depth + 1);
      for (const std::string& out : inner.outputs())
        values_[out].uses.push_back({index, kBlockOutput});
    }
    for (const milspec::NamedValueType& out : op.outputs()) {
      ValueInfo& v = values_[out.name()];
      v.type = &out.type();
      v.producer = index;
      v.constant = g.constant;
    }
  }
}

const milspec::ValueType* ProgramGraph::TypeOf(const std::string& value) const {
  auto it = values_.find(value);
  return it == values_.end() ? nullptr : it->second.type;
}

TensorShape ProgramGraph::ShapeOfValue(const std::string& value) const {
  const milspec::ValueType* t = TypeOf(value);
  return t ? ShapeOf(*t) : TensorShape{};
}

int ProgramGraph::ProducerOf(const std::string& value) const {
  auto it = values_.find(value);
  return it == values_.end() ? -1 : it->second.producer;
}

const std::vector<ValueUse>& ProgramGraph::UsesOf(const std::string& value) const {
  static const std::vector<ValueUse> kNone;
  auto it = values_.find(value);
  return it == values_.end() ? kNone : it->second.uses;
}

bool ProgramGraph::IsConstant(const std::string& value) const {
  auto it = values_.find(value);
  return it != values_.end() && it->second.constant;
}

const milspec::Value* ProgramGraph::ConstArg(const milspec::Operation& op,
                                             const std::string& param) const {
  auto arg = op.inputs().find(param);
  if (arg == op.inputs().end() || arg->second.arguments_size() != 1) return nullptr;
  const auto& binding = arg->second.arguments(0);
  if (binding.has_value()) return &binding.value();
  const int producer = ProducerOf(binding.name());
  if (producer < 0) return nullptr;
  const milspec::Operation& p = *ops_[static_cast<size_t>(producer)].op;
  if (p.type() != "const") return nullptr;
  auto val = p.attributes().find("val");
  return val == p.attributes().end() ? nullptr : &val->second;
}

std::vector<std::string> ProgramGraph::ArgNames(const milspec::Operation& op,
                                                const std::string& param) {
  std::vector<std::string> names;
  auto arg = op.inputs().find(param);
  if (arg == op.inputs().end()) return names;
  for (const auto& binding : arg->second.arguments()) {
    if (binding.has_name()) names.push_back(binding.name());
  }
  return names;
}

}  // namespace anec::coreml
