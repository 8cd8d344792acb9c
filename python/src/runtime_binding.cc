// Package and State (runtime.h) bound as _anec.Package / _anec.State.
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "base/file_system.h"
#include "bindings.h"
#include "runtime.h"
#include "runtime/llm_model.h"
#include "runtime/thread_pool.h"
#include "tensors.h"

namespace anec::python {

std::unique_ptr<Package> Package::Open(const std::string& path) {
  std::shared_ptr<const runtime::Program> program;
  {
    nb::gil_scoped_release release;
    program = Check(runtime::LoadPackageProgram(RealFileSystem(), path));
  }
  return std::make_unique<Package>(std::move(program));
}

std::string Package::default_function() const {
  const std::string& d = program_->description().defaultfunctionname();
  if (!d.empty() && program_->Find(d) != nullptr) return d;
  if (program_->Find("main") != nullptr) return "main";
  std::vector<std::string> names = functions();
  return names.size() == 1 ? names[0] : std::string();
}

Result<const runtime::CompiledFunction*> Package::Function(const std::string& name) const {
  const runtime::CompiledFunction* fn = program_->Find(name);
  if (fn == nullptr) {
    return NotFound("{}: no function '{}'; it has {}", program_->name(), name,
                    fmt::join(functions(), ", "));
  }
  return fn;
}

Result<std::unique_ptr<State>> Package::MakeState() const {
  auto state = std::make_unique<State>();
  for (const std::string& name : functions()) {
    ANEC_RETURN_IF_ERROR(runtime::PrepareStates(*program_->Find(name), &state->store));
  }
  return state;
}

nb::dict Package::Predict(const std::string& function, nb::dict inputs, State* state) {
  const runtime::CompiledFunction* fn = Check(Function(function));
  runtime::NamedTensors in;
  for (auto [key, value] : inputs) {
    std::string name = nb::cast<std::string>(key);
    in.emplace(name, Check(TensorFromNumpy(name, value)));
  }
  runtime::NamedTensors out;
  {
    nb::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_lock<std::mutex> state_lock;
    if (state != nullptr) {
      state_lock = std::unique_lock<std::mutex>(state->mu);
      Check(runtime::PrepareStates(*fn, &state->store));
    }
    out = Check(runtime::RunFunction(*fn, in, state ? &state->store : nullptr,
                                     runtime::DefaultThreadPool()));
  }
  return Check(NumpyDict(out));
}

nb::dict DescribeFunction(const runtime::CompiledFunction& fn) {
  nb::list inputs, states, outputs;
  for (const runtime::ValueSpec& v : fn.inputs) {
    nb::list dims;
    for (int64_t d : v.dims) dims.append(d);
    nb::tuple t = nb::make_tuple(v.name, std::string(runtime::DTypeName(v.dtype)), nb::tuple(dims));
    (v.is_state ? states : inputs).append(t);
  }
  for (const std::string& name : fn.output_names) outputs.append(name);
  nb::dict d;
  d["inputs"] = inputs;
  d["states"] = states;
  d["outputs"] = outputs;
  return d;
}

void BindRuntime(nb::module_& m) {
  nb::class_<State>(m, "State",
                    "State buffers (the KV cache) for stateful functions, as Core ML's MLState.")
      .def_prop_ro("names",
                   [](const State& s) {
                     std::vector<std::string> names;
                     for (const auto& [name, t] : s.store) names.push_back(name);
                     return names;
                   })
      .def("read", [](State& s, const std::string& name) {
        std::lock_guard<std::mutex> lock(s.mu);
        auto it = s.store.find(name);
        if (it == s.store.end()) Check(NotFound("no state named '{}'", name));
        return Check(NumpyFromTensor(name, it->second));
      });

  nb::class_<Package>(m, "Package", "A .mlpackage loaded for the CPU runtime.")
      .def_static("open", &Package::Open, nb::arg("path"))
      .def_prop_ro("name", [](const Package& p) { return p.program().name(); })
      .def_prop_ro("functions", &Package::functions)
      .def_prop_ro("default_function", &Package::default_function)
      .def("describe",
           [](const Package& p, const std::string& function) {
             return DescribeFunction(*Check(p.Function(function)));
           })
      .def("make_state", [](const Package& p) { return Check(p.MakeState()); })
      .def("predict", &Package::Predict, nb::arg("function"), nb::arg("inputs"),
           nb::arg("state").none());
}

}  // namespace anec::python
