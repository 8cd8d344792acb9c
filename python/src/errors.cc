// anec.Error and the translation of StatusError into it (bindings.h).
#include <Python.h>

#include <exception>
#include <string>

#include "bindings.h"

namespace anec::python {
namespace {

PyObject* g_error_type = nullptr;  // owned by the module for the interpreter's lifetime

// The StatusCode's name without the leading 'k': "InvalidArgument", "NotFound", ...
std::string CodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "Ok";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kCorrupt:
      return "Corrupt";
    case StatusCode::kUnsupported:
      return "Unsupported";
    case StatusCode::kIoError:
      return "IoError";
    case StatusCode::kNoSpace:
      return "NoSpace";
    case StatusCode::kPermissionDenied:
      return "PermissionDenied";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

void Translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const StatusError& e) {
    nb::object exc =
        nb::steal(PyObject_CallFunction(g_error_type, "s", e.status.message().c_str()));
    if (!exc.is_valid()) return;  // the call itself raised (e.g. bad UTF-8): keep that error
    nb::setattr(exc, "code", nb::str(CodeName(e.status.code()).c_str()));
    PyErr_SetObject(g_error_type, exc.ptr());
  }
}

}  // namespace

void BindErrors(nb::module_& m) {
  g_error_type = PyErr_NewExceptionWithDoc(
      "anec.Error",
      "An anec operation failed. str(e) is the message the `anec` command prints after "
      "'anec: error: '; e.code names the kind (InvalidArgument, NotFound, Corrupt, Unsupported, "
      "IoError, PermissionDenied, FailedPrecondition, Internal).",
      PyExc_RuntimeError, nullptr);
  if (g_error_type == nullptr) throw nb::python_error();
  m.attr("Error") = nb::handle(g_error_type);
  nb::register_exception_translator(Translate);
}

}  // namespace anec::python
