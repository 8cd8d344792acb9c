// Model and GenerationStream (model.h) bound as _anec.Model / _anec.GenerationStream.
#include <Python.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstdio>
#include <memory>
#include <mutex>

#include "bindings.h"
#include "cli/perplexity.h"
#include "cli/sampling_flags.h"
#include "model.h"
#include "text/chat_template.h"
#include "text/json_util.h"

namespace anec::python {
namespace {

// The sampling options with `anec run`'s checks and messages (--max-tokens must be >= 1, ...).
runtime::GenerationOptions Sampling(int max_tokens, float temperature, float top_p, int top_k,
                                    int64_t seed) {
  cli::SamplingFlags f;
  f.max_tokens = max_tokens;
  f.temperature = temperature;
  f.top_p = top_p;
  f.top_k = top_k;
  f.seed = seed;
  return Check(cli::ToGenerationOptions(f));
}

// generate(): the prompt `anec run --prompt` builds (chat template unless !use_template, with
// the system prompt), leaving room for the reply as ChatSession::Reply does.
std::unique_ptr<GenerationStream> Generate(Model& m, const std::string& prompt,
                                           const std::string& system, bool use_template,
                                           int max_tokens, float temperature, float top_p,
                                           int top_k, int64_t seed) {
  runtime::GenerationOptions gen = Sampling(max_tokens, temperature, top_p, top_k, seed);
  runtime::ChatSession session(&m.llm(), &m.tokenizer(), use_template);
  session.SetSystem(system);
  const int reserve = std::min(gen.max_tokens, m.llm().context_length() * 3 / 4);
  std::vector<int32_t> ids = Check(session.BuildPrompt(prompt, reserve));
  return std::make_unique<GenerationStream>(&m, std::move(ids), gen);
}

// chat(): `messages_json` is the conversation as a JSON array of {"role", "content"} objects,
// rendered with the folder's chat template (FailedPrecondition when it has none).
std::unique_ptr<GenerationStream> Chat(Model& m, const std::string& messages_json, int max_tokens,
                                       float temperature, float top_p, int top_k, int64_t seed) {
  runtime::GenerationOptions gen = Sampling(max_tokens, temperature, top_p, top_k, seed);
  text::OrderedJson messages = Check(text::ParseOrderedJson(messages_json, "messages"));
  text::ChatTemplateOptions opts;
  opts.add_generation_prompt = true;
  std::string rendered = Check(text::ApplyChatTemplate(m.tokenizer(), messages, opts));
  // The template writes the special tokens itself (as ChatSession does).
  std::vector<int32_t> ids = m.tokenizer().Encode(rendered, /*add_special_tokens=*/false);
  return std::make_unique<GenerationStream>(&m, std::move(ids), gen);
}

// The iterator's __next__: waits without the GIL, checking for Ctrl-C every 100 ms.
nb::str NextPiece(GenerationStream& s) {
  while (true) {
    bool finished = false;
    std::optional<std::string> piece;
    {
      nb::gil_scoped_release release;
      piece = s.Next(100, &finished);
    }
    if (piece) return nb::str(piece->data(), piece->size());
    if (finished) {
      Check(s.status());
      throw nb::stop_iteration();
    }
    if (PyErr_CheckSignals() != 0) {
      nb::python_error e;  // the KeyboardInterrupt
      {
        nb::gil_scoped_release release;
        s.Close();
      }
      throw e;
    }
  }
}

nb::dict StatsDict(const runtime::GenerationStats& s) {
  nb::dict d;
  d["prompt_tokens"] = s.prompt_tokens;
  d["prefilled_tokens"] = s.prefilled_tokens;
  d["generated_tokens"] = s.generated_tokens;
  d["time_to_first_token_s"] = s.time_to_first_token_s;
  d["prefill_tokens_per_s"] = s.prefill_tokens_per_s();
  d["decode_tokens_per_s"] = s.decode_tokens_per_s();
  d["context_shifts"] = s.context_shifts;
  d["stopped_by_token"] = s.stopped_by_token;
  return d;
}

// score(): `anec perplexity --json` as a dict, with the KL fields when `reference` is given.
// Both models' runtimes are held for the whole scoring (one lock when they are the same object;
// std::scoped_lock orders two so that concurrent calls cannot deadlock).
nb::dict Score(Model& m, const std::string& text, int max_tokens, int window, Model* reference) {
  cli::PerplexityScores s;
  {
    nb::gil_scoped_release release;
    auto score = [&] {
      return Check(cli::ScoreText(m.converted(), m.path(), text, "text", max_tokens, window, stderr,
                                  reference ? &reference->converted() : nullptr,
                                  reference ? reference->path() : std::string()));
    };
    if (reference == nullptr || reference == &m) {
      std::lock_guard<std::mutex> lock(m.mu());
      s = score();
    } else {
      std::scoped_lock lock(m.mu(), reference->mu());
      s = score();
    }
  }
  nb::dict d;
  d["tokens"] = s.tokens;
  d["positions"] = s.positions;
  d["top1"] = s.top1;
  d["nll"] = s.nll;
  d["window"] = s.window;
  d["perplexity"] = s.perplexity;
  if (reference != nullptr) {
    d["kl"] = s.kl;
    d["reference_top1"] = s.reference_top1;
    d["mean_kl"] = s.mean_kl;
    d["top1_agreement"] = s.top1_agreement;
  }
  return d;
}

}  // namespace

void BindModel(nb::module_& m) {
  nb::class_<GenerationStream>(m, "GenerationStream")
      .def("__iter__", [](nb::handle self) { return self; })
      .def("__next__", &NextPiece)
      .def("close",
           [](GenerationStream& s) {
             nb::gil_scoped_release release;
             s.Close();
           })
      .def_prop_ro("stats", [](GenerationStream& s) -> nb::object {
        if (!s.Finished() || !s.status().ok()) return nb::none();
        return StatsDict(s.stats());
      });

  nb::class_<Model>(m, "Model")
      .def_static("open", &Model::Open, nb::arg("path"))
      .def_prop_ro("path", &Model::path)
      .def_prop_ro("context_length", [](Model& x) { return x.llm().context_length(); })
      .def_prop_ro("batch_size", [](Model& x) { return x.llm().batch_size(); })
      .def_prop_ro("vocab_size", [](Model& x) { return x.llm().vocab_size(); })
      .def_prop_ro("architecture", [](Model& x) { return x.llm().config().architecture; })
      .def(
          "encode",
          [](Model& x, const std::string& text, bool add_special_tokens) {
            return x.tokenizer().Encode(text, add_special_tokens);
          },
          nb::arg("text"), nb::arg("add_special_tokens"))
      .def(
          "decode",
          [](Model& x, const std::vector<int32_t>& ids, bool skip_special) {
            return x.tokenizer().Decode(ids, skip_special);
          },
          nb::arg("ids"), nb::arg("skip_special"))
      .def("generate", &Generate, nb::arg("prompt"), nb::arg("system"), nb::arg("use_template"),
           nb::arg("max_tokens"), nb::arg("temperature"), nb::arg("top_p"), nb::arg("top_k"),
           nb::arg("seed"), nb::keep_alive<0, 1>())
      .def("chat", &Chat, nb::arg("messages_json"), nb::arg("max_tokens"), nb::arg("temperature"),
           nb::arg("top_p"), nb::arg("top_k"), nb::arg("seed"), nb::keep_alive<0, 1>())
      .def(
          "perplexity",
          [](Model& x, const std::string& text, int max_tokens, int window) {
            nb::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(x.mu());
            cli::PerplexityScores s = Check(
                cli::ScoreText(x.converted(), x.path(), text, "text", max_tokens, window, stderr));
            return s.perplexity;
          },
          nb::arg("text"), nb::arg("max_tokens"), nb::arg("window"))
      .def("score", &Score, nb::arg("text"), nb::arg("max_tokens"), nb::arg("window"),
           nb::arg("reference").none())
      .def_prop_ro("functions",
                   [](Model& x) {
                     nb::gil_scoped_release release;
                     return Check(x.Functions());
                   })
      .def(
          "describe",
          [](Model& x, const std::string& function) {
            std::pair<Package*, std::string> target;
            {
              nb::gil_scoped_release release;
              target = Check(x.Resolve(function));
            }
            return DescribeFunction(*Check(target.first->Function(target.second)));
          },
          nb::arg("function"))
      .def("make_state",
           [](Model& x) {
             nb::gil_scoped_release release;
             return Check(x.MakeState());
           })
      .def(
          "predict",
          [](Model& x, const std::string& function, nb::dict inputs, State* state) {
            std::pair<Package*, std::string> target;
            {
              nb::gil_scoped_release release;
              target = Check(x.Resolve(function));
            }
            return target.first->Predict(target.second, inputs, state);
          },
          nb::arg("function"), nb::arg("inputs"), nb::arg("state").none());
}

}  // namespace anec::python
