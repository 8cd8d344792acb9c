// convert(): `anec convert` from Python. The flags struct is the command's own (cli/convert.h)
// and the run is the command's RunConvert, so options, plan notes, progress and errors are the
// same; only Ctrl-C handling is added.
#include <Python.h>
#include <nanobind/stl/string.h>

#include <memory>
#include <string>

#include "bindings.h"
#include "cli/convert.h"

namespace anec::python {
namespace {

// Runs the conversion without the GIL. Progress goes to the process's stderr as in the CLI.
// Ctrl-C: Python's SIGINT handler only sets a flag while C++ runs, so after every package the
// pipeline writes (its after_unit hook) the flag is checked with the GIL held; when set, the run
// stops there as an interrupted `anec convert` would (restart=N resumes), and the
// KeyboardInterrupt is raised.
void Convert(const cli::ConvertFlags& flags) {
  std::unique_ptr<nb::python_error> interrupt;
  pipeline::ConvertHooks hooks;
  hooks.after_unit = [&interrupt](int step, const std::string& unit) -> Status {
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return Status::Ok();
    interrupt = std::make_unique<nb::python_error>();  // takes the pending exception
    return FailedPrecondition("interrupted in step {} after {}; restart={} resumes there", step,
                              unit.empty() ? std::string("the step") : unit, step);
  };
  Status s;
  {
    nb::gil_scoped_release release;
    s = cli::RunConvert(flags, hooks);
  }
  if (interrupt) throw nb::python_error(*interrupt);
  Check(s);
}

}  // namespace

void BindConvert(nb::module_& m) {
  using F = cli::ConvertFlags;
  nb::class_<F>(m, "ConvertFlags",
                "The flags of `anec convert`, one field each, in the command line's spelling "
                "(strings where the flag takes words: chunks='auto', lut='6' or 'none').")
      .def(nb::init<>())
      .def_rw("model", &F::model)
      .def_rw("output", &F::output)
      .def_rw("context", &F::context)
      .def_rw("chunks", &F::chunks)
      .def_rw("lut", &F::lut)
      .def_rw("lut_embed", &F::lut_embed)
      .def_rw("lut_ffn", &F::lut_ffn)
      .def_rw("lut_lmhead", &F::lut_lmhead)
      .def_rw("lut_group", &F::lut_group)
      .def_rw("lut_row_scale", &F::lut_row_scale)
      .def_rw("batch", &F::batch)
      .def_rw("architecture", &F::architecture)
      .def_rw("restart", &F::restart)
      .def_rw("only", &F::only)
      .def_rw("skip_check", &F::skip_check)
      .def_rw("prefix", &F::prefix)
      .def_rw("target", &F::target)
      .def_rw("preserve_quant", &F::preserve_quant)
      .def_rw("kv_cache", &F::kv_cache)
      .def_rw("no_preserve_quant", &F::no_preserve_quant)
      .def_rw("argmax", &F::argmax)
      .def_rw("max_file_mb", &F::max_file_mb)
      .def_rw("calibration", &F::calibration)
      .def_rw("calibration_tokens", &F::calibration_tokens)
      .def_rw("calibration_damping", &F::calibration_damping)
      .def_rw("sensitivity_tokens", &F::sensitivity_tokens)
      .def_rw("lut_tune_rounds", &F::lut_tune_rounds)
      .def_rw("mlp_order", &F::mlp_order)
      .def_rw("lut_bits_budget", &F::lut_bits_budget)
      .def_rw("residual_scale", &F::residual_scale);
  m.def("convert", &Convert, nb::arg("flags"),
        "Runs `anec convert` with these flags (the GIL is released; progress on stderr).");
}

}  // namespace anec::python
