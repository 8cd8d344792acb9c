#include "runtime/program.h"

#include <algorithm>
#include <unordered_map>

#include "runtime/constexpr_ops.h"
#include "runtime/interpreter.h"
#include "runtime/lut_weight.h"

namespace anec::runtime {
namespace {

// Ops run once at load when every input is a constant, instead of on every call. The converter
// emits one such op: the gather that puts a GPTQ act-order weight (stored in group order) back in
// input order, which would otherwise copy the whole dense weight per call. Only pure ops of the
// weight path are listed (never state or random ops), so folding cannot change a result.
bool FoldableAtLoad(std::string_view type) {
  return type == "gather" || type == "transpose" || type == "reshape" || type == "cast" ||
         type == "expand_dims" || type == "squeeze";
}

std::string OpName(const milspec::Operation& op) {
  auto it = op.attributes().find("name");
  if (it != op.attributes().end() && it->second.has_immediatevalue() &&
      it->second.immediatevalue().tensor().strings().values_size() == 1) {
    return it->second.immediatevalue().tensor().strings().values(0);
  }
  return op.outputs_size() > 0 ? op.outputs(0).name() : std::string("<unnamed>");
}

struct FunctionLoader {
  const ValueSource& source;
  std::string package;
  std::string function;
  CompiledFunction fn;
  std::unordered_map<std::string, int> slots;
  std::unordered_map<std::string, ConstArg> constants;
  std::vector<int> slot_producer;  // op index producing the slot, -1 for function inputs
  uint64_t constant_bytes = 0;
  int folded_ops = 0;

  Status Error(const milspec::Operation& op, const Status& s) const {
    return s.WithContext(
        fmt::format("{}: function '{}': op '{}' ({})", package, function, OpName(op), op.type()));
  }

  int NewSlot(const std::string& name, int producer) {
    int s = fn.num_slots++;
    slots[name] = s;
    slot_producer.push_back(producer);
    return s;
  }

  // `packed_only`: a sub-byte value is kept in its stored form only (c.tensor stays undefined).
  // The LUT indices of constexpr_lut_to_dense are read packed by LutWeight; unpacking them cost
  // a transient byte per weight of each tensor (525 MB for a Llama-3 8B head) and, for SmolLM2's
  // LUT6, 0.35-0.4 s of a 0.45 s load.
  Result<ConstArg> DecodeConst(const milspec::Value& v, std::string_view what,
                               bool packed_only = false) {
    ConstArg c;
    ANEC_ASSIGN_OR_RETURN(StoredValue stored, DecodeStored(v, source, what));
    if (packed_only && IsSubByte(stored.spec.dtype)) {
      c.stored = std::move(stored);
      c.keep_alive = source.keep_alive;
      return c;
    }
    ANEC_ASSIGN_OR_RETURN(c.tensor, DecodeValue(v, source, what));
    if (IsSubByte(stored.spec.dtype) || stored.spec.dtype == DType::kUInt8) {
      c.stored = std::move(stored);
    }
    c.keep_alive = source.keep_alive;
    return c;
  }

  // Resolves one binding to a slot or a constant.
  Result<Arg> Resolve(const milspec::Argument::Binding& b, std::string_view param) {
    Arg a;
    if (b.has_value()) {
      ANEC_ASSIGN_OR_RETURN(ConstArg c, DecodeConst(b.value(), fmt::format("input '{}'", param)));
      a.constant = std::move(c.tensor);
      return a;
    }
    if (auto it = constants.find(b.name()); it != constants.end()) {
      a.constant = it->second.tensor;
      a.constant_name = b.name();
      return a;
    }
    if (auto it = slots.find(b.name()); it != slots.end()) {
      a.slot = it->second;
      return a;
    }
    return InvalidArgument("input '{}' binds '{}', which is not defined before this op", param,
                           b.name());
  }

  Status LoadConst(const milspec::Operation& op) {
    auto it = op.attributes().find("val");
    if (it == op.attributes().end() || op.outputs_size() != 1) {
      return InvalidArgument("a const op needs attribute 'val' and one output");
    }
    ANEC_ASSIGN_OR_RETURN(ConstArg c, DecodeConst(it->second, "attribute 'val'"));
    ANEC_ASSIGN_OR_RETURN(ValueSpec declared,
                          DecodeValueType(op.outputs(0).type(), op.outputs(0).name()));
    if (!declared.Matches(c.tensor)) {
      return InvalidArgument("output '{}' is declared {} but the value is {}", declared.name,
                             declared.TypeString(), c.tensor.TypeString());
    }
    constant_bytes += c.tensor.nbytes();
    constants[op.outputs(0).name()] = std::move(c);
    return Status::Ok();
  }

  Status LoadConstexpr(const milspec::Operation& op) {
    std::map<std::string, ConstArg, std::less<>> args;
    for (const auto& [param, arg] : op.inputs()) {
      if (arg.arguments_size() != 1) {
        return InvalidArgument("input '{}' must have one binding", param);
      }
      const auto& b = arg.arguments(0);
      if (b.has_value()) {
        ANEC_ASSIGN_OR_RETURN(args[param], DecodeConst(b.value(), fmt::format("input '{}'", param),
                                                       ReadsPacked(op.type(), param)));
      } else if (auto it = constants.find(b.name()); it != constants.end()) {
        args[param] = it->second;
      } else {
        return InvalidArgument("input '{}' binds '{}', which is not a constant defined before it",
                               param, b.name());
      }
    }
    for (const auto& [attr, value] : op.attributes()) {  // iOS16 form: parameters as attributes
      if (attr == "name" || args.count(attr)) continue;
      ANEC_ASSIGN_OR_RETURN(args[attr], DecodeConst(value, fmt::format("attribute '{}'", attr),
                                                    ReadsPacked(op.type(), attr)));
    }
    ANEC_ASSIGN_OR_RETURN(Tensor out, EvaluateConstexpr(op.type(), args));
    if (op.outputs_size() != 1) return InvalidArgument("expected one output");
    ANEC_ASSIGN_OR_RETURN(ValueSpec declared,
                          DecodeValueType(op.outputs(0).type(), op.outputs(0).name()));
    if (!declared.Matches(out)) {
      return InvalidArgument("output '{}' is declared {} but evaluates to {}", declared.name,
                             declared.TypeString(), out.TypeString());
    }
    constant_bytes += out.is_lut() ? out.lut()->compressed_bytes() : out.nbytes();
    ConstArg c;
    c.tensor = std::move(out);
    constants[op.outputs(0).name()] = std::move(c);
    return Status::Ok();
  }

  Status LoadOp(const milspec::Operation& op, int index) {
    CompiledOp cop;
    cop.type = op.type();
    cop.name = OpName(op);
    cop.kernel = FindKernel(op.type());
    if (cop.kernel == nullptr) {
      return Unsupported("unknown op type '{}' (op '{}'); the anec runtime cannot run it",
                         op.type(), cop.name);
    }
    // Deterministic parameter order (protobuf maps are unordered).
    std::vector<std::string> params;
    for (const auto& [param, arg] : op.inputs()) params.push_back(param);
    std::sort(params.begin(), params.end());
    for (const std::string& param : params) {
      std::vector<Arg> bound;
      for (const auto& b : op.inputs().at(param).arguments()) {
        ANEC_ASSIGN_OR_RETURN(Arg a, Resolve(b, param));
        bound.push_back(std::move(a));
      }
      cop.inputs.emplace_back(param, std::move(bound));
    }
    for (const auto& [attr, value] : op.attributes()) {
      if (attr == "name" || op.inputs().count(attr)) continue;
      Arg a;
      ANEC_ASSIGN_OR_RETURN(ConstArg c, DecodeConst(value, fmt::format("attribute '{}'", attr)));
      a.constant = std::move(c.tensor);
      cop.inputs.emplace_back(attr, std::vector<Arg>{std::move(a)});
    }
    bool all_constant = FoldableAtLoad(cop.type);
    for (const auto& [param, args] : cop.inputs) {
      for (const Arg& a : args) all_constant = all_constant && a.slot < 0;
    }
    if (all_constant) return Fold(op, std::move(cop));
    for (const auto& o : op.outputs()) {
      ANEC_ASSIGN_OR_RETURN(ValueSpec spec, DecodeValueType(o.type(), o.name()));
      cop.outputs.push_back(spec);
      cop.output_slots.push_back(NewSlot(o.name(), index));
    }
    fn.ops.push_back(std::move(cop));
    return Status::Ok();
  }

  // Runs `cop` (all inputs constant) through the interpreter as a one-op function and keeps its
  // outputs as constants.
  Status Fold(const milspec::Operation& op, CompiledOp cop) {
    CompiledFunction once;
    once.name = fn.name;
    once.package = fn.package;
    for (const auto& o : op.outputs()) {
      ANEC_ASSIGN_OR_RETURN(ValueSpec spec, DecodeValueType(o.type(), o.name()));
      cop.outputs.push_back(spec);
      cop.output_slots.push_back(once.num_slots);
      Arg out;
      out.slot = once.num_slots++;
      once.outputs.push_back(out);
      once.output_names.push_back(o.name());
    }
    once.ops.push_back(std::move(cop));
    StateStore no_states;
    ANEC_ASSIGN_OR_RETURN(NamedTensors values, RunFunction(once, {}, &no_states, nullptr));
    for (const std::string& name : once.output_names) {
      ConstArg c;
      c.tensor = values.at(name);
      c.keep_alive = source.keep_alive;
      constant_bytes += c.tensor.nbytes();
      constants[name] = std::move(c);
    }
    ++folded_ops;
    return Status::Ok();
  }

  // Slots die after their last reader; function outputs live to the end.
  void ComputeLiveness() {
    std::vector<int> last(static_cast<size_t>(fn.num_slots), -1);
    for (size_t i = 0; i < fn.ops.size(); ++i) {
      for (const auto& [param, args] : fn.ops[i].inputs) {
        for (const Arg& a : args) {
          if (a.slot >= 0) last[static_cast<size_t>(a.slot)] = static_cast<int>(i);
        }
      }
    }
    for (const Arg& a : fn.outputs) {
      if (a.slot >= 0) last[static_cast<size_t>(a.slot)] = static_cast<int>(fn.ops.size());
    }
    for (int s = 0; s < fn.num_slots; ++s) {
      int l = last[static_cast<size_t>(s)];
      if (l < 0) l = slot_producer[static_cast<size_t>(s)];  // never read: free at once
      if (l >= 0 && l < static_cast<int>(fn.ops.size())) {
        fn.ops[static_cast<size_t>(l)].release.push_back(s);
      }
    }
  }

  static int SlotOf(const CompiledOp& op, std::string_view param) {
    for (const auto& [name, args] : op.inputs) {
      if (name == param && args.size() == 1) return args[0].slot;
    }
    return -1;
  }

  // A chain read_state(S) -> slice_update -> slice_update ... whose last output is written back
  // by write_state(S) before any other read_state(S) (the converter updates keys and values of a
  // layer this way): every slice_update in the chain may update S in place, which saves copying
  // the whole KV cache per update. The interpreter still copies when another live value shares
  // the buffer (see SliceUpdate).
  void MarkInPlaceStateUpdates() {
    for (size_t i = 0; i < fn.ops.size(); ++i) {
      CompiledOp& op = fn.ops[i];
      if (op.type != "slice_update" || op.output_slots.empty()) continue;
      int x = SlotOf(op, "x");
      int producer = x < 0 ? -1 : slot_producer[static_cast<size_t>(x)];
      while (producer >= 0 && fn.ops[static_cast<size_t>(producer)].type == "slice_update") {
        int px = SlotOf(fn.ops[static_cast<size_t>(producer)], "x");
        producer = px < 0 ? -1 : slot_producer[static_cast<size_t>(px)];
      }
      if (producer < 0 || fn.ops[static_cast<size_t>(producer)].type != "read_state") continue;
      int state = SlotOf(fn.ops[static_cast<size_t>(producer)], "input");
      int chain_end = op.output_slots[0];
      for (size_t j = i + 1; j < fn.ops.size(); ++j) {
        const CompiledOp& later = fn.ops[j];
        if (later.type == "read_state" && SlotOf(later, "input") == state) break;
        if (later.type == "slice_update" && SlotOf(later, "x") == chain_end &&
            !later.output_slots.empty()) {
          chain_end = later.output_slots[0];
          continue;
        }
        if (later.type == "write_state" && SlotOf(later, "input") == state) {
          op.in_place_state_update = SlotOf(later, "data") == chain_end;
          break;
        }
      }
    }
  }
};

}  // namespace

const ValueSpec* CompiledFunction::FindInput(std::string_view name) const {
  for (const ValueSpec& v : inputs) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

Result<std::shared_ptr<const Program>> Program::Load(const CoreML::Specification::Model& model,
                                                     const ValueSource& source, std::string name) {
  if (!model.has_mlprogram()) {
    return Unsupported("{}: not an ML Program model (neural network models are not supported)",
                       name);
  }
  auto program = std::make_shared<Program>();
  program->name_ = name;
  program->description_ = model.description();
  for (const auto& [fname, f] : model.mlprogram().functions()) {
    const milspec::Block* block = nullptr;
    if (auto it = f.block_specializations().find(f.opset());
        it != f.block_specializations().end()) {
      block = &it->second;
    } else if (f.block_specializations().size() == 1) {
      block = &f.block_specializations().begin()->second;
    } else {
      return InvalidArgument("{}: function '{}' has no block for its opset '{}'", name, fname,
                             f.opset());
    }
    FunctionLoader loader{source, name, fname, {}, {}, {}, {}, 0};
    loader.fn.name = fname;
    loader.fn.package = name;
    for (const auto& in : f.inputs()) {
      auto spec = DecodeValueType(in.type(), in.name());
      if (!spec.ok())
        return spec.status().WithContext(fmt::format("{}: function '{}' input", name, fname));
      loader.fn.inputs.push_back(*spec);
      loader.fn.input_slots.push_back(loader.NewSlot(in.name(), -1));
    }
    for (int i = 0; i < block->operations_size(); ++i) {
      const milspec::Operation& op = block->operations(i);
      Status s;
      if (op.type() == "const") {
        s = loader.LoadConst(op);
      } else if (IsConstexprOp(op.type())) {
        s = loader.LoadConstexpr(op);
      } else {
        s = loader.LoadOp(op, static_cast<int>(loader.fn.ops.size()));
      }
      if (!s.ok()) return loader.Error(op, s);
    }
    for (const std::string& out : block->outputs()) {
      Arg a;
      if (auto it = loader.constants.find(out); it != loader.constants.end()) {
        a.constant = it->second.tensor;
      } else if (auto it2 = loader.slots.find(out); it2 != loader.slots.end()) {
        a.slot = it2->second;
      } else {
        return InvalidArgument("{}: function '{}' output '{}' is not defined by any op", name,
                               fname, out);
      }
      loader.fn.output_names.push_back(out);
      loader.fn.outputs.push_back(std::move(a));
    }
    loader.ComputeLiveness();
    loader.MarkInPlaceStateUpdates();
    program->constant_bytes_ += loader.constant_bytes;
    program->functions_.emplace(fname, std::move(loader.fn));
  }
  return std::shared_ptr<const Program>(std::move(program));
}

const CompiledFunction* Program::Find(std::string_view function) const {
  auto it = functions_.find(function);
  return it == functions_.end() ? nullptr : &it->second;
}

std::vector<std::string> Program::function_names() const {
  std::vector<std::string> out;
  for (const auto& [n, f] : functions_) out.push_back(n);
  return out;
}

}  // namespace anec::runtime
