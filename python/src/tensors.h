// numpy arrays <-> runtime Tensors for predict(). Needs the GIL.
#pragma once

#include <nanobind/nanobind.h>

#include "runtime/interpreter.h"
#include "runtime/tensor.h"

namespace anec::python {

// A copy of a C-contiguous numpy array (any shape) as a Tensor of the matching dtype. Errors
// name `name` and the unsupported dtype (float16/32/64, (u)int8-64, bool are supported).
Result<runtime::Tensor> TensorFromNumpy(const std::string& name, nanobind::handle array);

// A new numpy array holding a copy of `t` (fp16 as numpy.float16; sub-byte integers, which the
// runtime stores one per byte, as int8/uint8).
Result<nanobind::object> NumpyFromTensor(const std::string& name, const runtime::Tensor& t);

// {name: numpy array} from NamedTensors.
Result<nanobind::dict> NumpyDict(const runtime::NamedTensors& tensors);

}  // namespace anec::python
