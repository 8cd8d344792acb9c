// Thin helpers over mil::Function::Op for the MIL ops the ANE builders use, with every optional
// input spelled out (as coremltools writes them) so the programs do not depend on defaults.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mil/program_builder.h"

namespace anec::ane {

using mil::Function;
using mil::Tensor;
using mil::Value;

Tensor I32s(const std::vector<int32_t>& v);  // 1-D int32 constant
Tensor Bools(const std::vector<bool>& v);    // 1-D bool constant

// x[begin:end] with static bounds (end exclusive); rank = begin.size().
Value SliceStatic(Function* f, Value x, const std::vector<int32_t>& begin,
                  const std::vector<int32_t>& end, const std::string& name = "");
// slice_by_index with dynamic int32[rank] begin/end values.
Value SliceDynamic(Function* f, Value x, Value begin, Value end, const std::string& name = "");
Value SliceUpdate(Function* f, Value x, Value update, Value begin, Value end,
                  const std::string& name = "");
Value ExpandDims(Function* f, Value x, const std::vector<int32_t>& axes,
                 const std::string& name = "");
Value Squeeze(Function* f, Value x, const std::vector<int32_t>& axes, const std::string& name = "");
Value Gather(Function* f, Value x, Value indices, int32_t axis, const std::string& name = "");
// layer_norm over `axes` without gamma/beta; epsilon is an fp16 scalar like x.
Value LayerNorm(Function* f, Value x, const std::vector<int32_t>& axes, float epsilon,
                const std::string& name = "");
Value Silu(Function* f, Value x, const std::string& name = "");
// gelu with the tanh approximation (torch's gelu(approximate="tanh"), Gemma's gelu_pytorch_tanh).
Value GeluTanh(Function* f, Value x, const std::string& name = "");
// softmax over `axis` as reduce_max, sub, exp, reduce_sum, real_div: the form ANEMLL's published
// graphs run on the Neural Engine (its ANE_softmax), rather than the fused `softmax` op.
Value SoftmaxAne(Function* f, Value x, int32_t axis, const std::string& name);
// [1, S, C] -> channels-first [1, C, 1, S] for a 1x1 conv, and back (ANEMLL's
// permute(0, 2, 1).unsqueeze(2) and squeeze(2).permute(0, 2, 1)).
Value ToChannelsFirst(Function* f, Value x, const std::string& name);
Value FromChannelsFirst(Function* f, Value x, const std::string& name);
// Gather rows of `table` (axis 0) by int32 `indices`, cast to int16 first when the table has at
// most 32,767 rows, as coremltools' add_int16_cast pass does for ANEMLL's packages.
Value GatherRows(Function* f, Value table, Value indices, const std::string& name);
Value Neg(Function* f, Value x, const std::string& name = "");               // mul by -1
Value ScaleBy(Function* f, Value x, float s, const std::string& name = "");  // mul by fp16 scalar

}  // namespace anec::ane
