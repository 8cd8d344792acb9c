// Kernel tables, one per family of ops; program.cc's FindKernel looks in all of them.
#pragma once

#include <map>
#include <string>

#include "runtime/program.h"

namespace anec::runtime {

using KernelTable = std::map<std::string, KernelFn, std::less<>>;

void RegisterMathKernels(KernelTable* table);      // kernels_math.cc
void RegisterShapeKernels(KernelTable* table);     // kernels_shape.cc
void RegisterLinalgKernels(KernelTable* table);    // kernels_linalg.cc
void RegisterConvKernels(KernelTable* table);      // kernels_conv.cc
void RegisterStateKernels(KernelTable* table);     // kernels_state.cc
void RegisterNormKernels(KernelTable* table);      // kernels_norm.cc
void RegisterSelectKernels(KernelTable* table);    // kernels_select.cc

}  // namespace anec::runtime
