#include "tensors.h"

#include <nanobind/ndarray.h>

#include <cstring>
#include <memory>
#include <vector>

#include "bindings.h"

namespace anec::python {
namespace {

using runtime::DType;
namespace dl = nb::dlpack;

Result<DType> DTypeOf(const std::string& name, dl::dtype d) {
  using C = dl::dtype_code;
  const auto code = static_cast<C>(d.code);
  if (d.lanes == 1) {
    if (code == C::Float && d.bits == 16) return DType::kFloat16;
    if (code == C::Float && d.bits == 32) return DType::kFloat32;
    if (code == C::Float && d.bits == 64) return DType::kFloat64;
    if (code == C::Int && d.bits == 8) return DType::kInt8;
    if (code == C::Int && d.bits == 16) return DType::kInt16;
    if (code == C::Int && d.bits == 32) return DType::kInt32;
    if (code == C::Int && d.bits == 64) return DType::kInt64;
    if (code == C::UInt && d.bits == 8) return DType::kUInt8;
    if (code == C::UInt && d.bits == 16) return DType::kUInt16;
    if (code == C::UInt && d.bits == 32) return DType::kUInt32;
    if (code == C::Bool && d.bits == 8) return DType::kBool;
  }
  return InvalidArgument(
      "input '{}': numpy dtype with code {} and {} bits is not supported "
      "(use float16, float32, int32, ...)",
      name, static_cast<int>(d.code), static_cast<int>(d.bits));
}

dl::dtype DlpackOf(DType t) {
  using C = dl::dtype_code;
  auto make = [](C code, int bits) {
    dl::dtype d;
    d.code = static_cast<uint8_t>(code);
    d.bits = static_cast<uint8_t>(bits);
    d.lanes = 1;
    return d;
  };
  switch (t) {
    case DType::kBool:
      return make(C::Bool, 8);
    case DType::kFloat16:
      return make(C::Float, 16);
    case DType::kFloat32:
      return make(C::Float, 32);
    case DType::kFloat64:
      return make(C::Float, 64);
    case DType::kInt8:
    case DType::kInt4:
      return make(C::Int, 8);
    case DType::kInt16:
      return make(C::Int, 16);
    case DType::kInt32:
      return make(C::Int, 32);
    case DType::kInt64:
      return make(C::Int, 64);
    case DType::kUInt16:
      return make(C::UInt, 16);
    case DType::kUInt32:
      return make(C::UInt, 32);
    default:
      return make(C::UInt, 8);  // uint8 and the unpacked sub-byte types
  }
}

}  // namespace

Result<runtime::Tensor> TensorFromNumpy(const std::string& name, nb::handle array) {
  nb::ndarray<nb::numpy, nb::c_contig, nb::device::cpu> a;
  if (!nb::try_cast(array, a, /*convert=*/true)) {
    return InvalidArgument("input '{}': expected a numpy array, got {}", name,
                           nb::type_name(array.type()).c_str());
  }
  ANEC_ASSIGN_OR_RETURN(DType dtype, DTypeOf(name, a.dtype()));
  runtime::Shape shape;
  for (size_t i = 0; i < a.ndim(); ++i) shape.push_back(static_cast<int64_t>(a.shape(i)));
  runtime::Tensor t = runtime::Tensor::Zeros(dtype, std::move(shape));
  if (t.nbytes() != a.nbytes()) {
    return Internal("input '{}': {} bytes for {}", name, a.nbytes(), t.TypeString());
  }
  if (t.nbytes() > 0) std::memcpy(t.mutable_bytes(), a.data(), t.nbytes());
  return t;
}

Result<nb::object> NumpyFromTensor(const std::string& name, const runtime::Tensor& t) {
  if (t.is_lut() || t.dtype() == DType::kString || !t.defined()) {
    return Unsupported("output '{}' ({}) cannot be returned as a numpy array", name,
                       t.defined() ? t.TypeString() : std::string("undefined"));
  }
  const size_t n = t.nbytes();
  std::unique_ptr<uint8_t[]> buf(new uint8_t[std::max<size_t>(n, 1)]);
  if (n > 0) std::memcpy(buf.get(), t.bytes(), n);
  std::vector<size_t> shape;
  for (int64_t d : t.shape()) shape.push_back(static_cast<size_t>(d));
  nb::capsule owner(buf.get(), [](void* p) noexcept { delete[] static_cast<uint8_t*>(p); });
  uint8_t* data = buf.release();
  nb::ndarray<nb::numpy> out(data, shape.size(), shape.data(), owner, nullptr, DlpackOf(t.dtype()));
  return out.cast();
}

Result<nb::dict> NumpyDict(const runtime::NamedTensors& tensors) {
  nb::dict d;
  for (const auto& [name, t] : tensors) {
    ANEC_ASSIGN_OR_RETURN(nb::object a, NumpyFromTensor(name, t));
    d[nb::str(name.c_str())] = a;
  }
  return d;
}

}  // namespace anec::python
