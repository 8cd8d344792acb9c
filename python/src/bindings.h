// Shared by the binding files of anec._anec: what each adds to the module, and how a Status
// becomes a Python exception.
//
// Errors: a non-OK Status is thrown as StatusError and turned into anec.Error (a RuntimeError)
// carrying the Status message unchanged, the text `anec` prints after "anec: error: ", plus a
// `code` attribute naming the StatusCode ("InvalidArgument", "NotFound", ...). C++ exceptions are
// used only here, at the Python boundary; the core below never throws.
#pragma once

#include <nanobind/nanobind.h>

#include <utility>

#include "base/status.h"

namespace anec::python {

namespace nb = nanobind;

struct StatusError {
  Status status;
};

// Throws StatusError when `s` is not OK.
inline void Check(const Status& s) {
  if (!s.ok()) throw StatusError{s};
}
template <typename T>
T Check(Result<T> r) {
  if (!r.ok()) throw StatusError{r.status()};
  return std::move(r).value();
}

void BindErrors(nb::module_& m);   // errors.cc: _anec.Error and the StatusError translator
void BindConvert(nb::module_& m);  // convert_binding.cc: ConvertFlags, convert()
void BindRuntime(nb::module_& m);  // runtime_binding.cc: Package, State (predict on the CPU)
void BindModel(nb::module_& m);    // model_binding.cc: Model, GenerationStream

}  // namespace anec::python
