// anec._anec: the extension module. Each Bind* function (bindings.h) adds one part of the API;
// the typed, documented surface is the pure-Python package around it (python/anec/).
#include <nanobind/nanobind.h>

#include "bindings.h"

NB_MODULE(_anec, m) {
  m.doc() =
      "anec's C++ core (conversion and CPU runtime); use the `anec` package, not this module.";
  anec::python::BindErrors(m);
  anec::python::BindConvert(m);
  anec::python::BindRuntime(m);
  anec::python::BindModel(m);
}
