// `anec run --model-path DIR --prompt TEXT`: one prompt through a converted model on the CPU
// runtime, streaming the reply, then time to first token and throughput on stderr.
#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "cli/converted_model.h"
#include "cli/sampling_flags.h"
#include "runtime/generation.h"
#include "runtime/llm_model.h"

namespace anec::cli {
namespace {

struct RunOptions {
  std::string model_path;
  std::string prompt;
  std::string system;
  SamplingFlags sampling;
  bool no_template = false;
};

Status RunRun(const RunOptions& o) {
  ANEC_ASSIGN_OR_RETURN(runtime::GenerationOptions gen, ToGenerationOptions(o.sampling));
  ANEC_ASSIGN_OR_RETURN(ConvertedModel converted, OpenConvertedModel(o.model_path, "--model-path"));
  auto& model = converted.model;
  text::Tokenizer& tokenizer = converted.tokenizer;
  runtime::ChatSession session(model.get(), &tokenizer, !o.no_template);
  session.SetSystem(o.system);
  ANEC_ASSIGN_OR_RETURN(runtime::GenerationStats stats,
                        session.Reply(o.prompt, gen, [](std::string_view piece) {
                          std::fwrite(piece.data(), 1, piece.size(), stdout);
                          std::fflush(stdout);
                        }));
  std::fputc('\n', stdout);
  std::fflush(stdout);
  fmt::print(stderr,
             "time to first token: {:.3f} s | prefill: {:.1f} tok/s ({} tokens) | decode: {:.1f} "
             "tok/s ({} tokens){}\n",
             stats.time_to_first_token_s, stats.prefill_tokens_per_s(), stats.prefilled_tokens,
             stats.decode_tokens_per_s(), stats.generated_tokens,
             stats.context_shifts ? fmt::format(" | context shifted {}x", stats.context_shifts) : "");
  return Status::Ok();
}

const Registrar kRun({
    "run",
    "Generate a reply to one prompt with a converted model on the CPU runtime (streams text; "
    "prints time to first token and tokens/s on stderr)",
    [](CLI::App* sub) -> std::function<Status()> {
      auto o = std::make_shared<RunOptions>();
      sub->add_option("--model-path", o->model_path, "Folder written by `anec convert` (meta.yaml)")
          ->required();
      sub->add_option("--prompt", o->prompt, "The user message")->required();
      sub->add_option("--system", o->system, "System prompt");
      AddSamplingFlags(sub, &o->sampling);
      sub->add_flag("--no-template", o->no_template,
                    "Send the prompt as raw text instead of through the chat template");
      return [o] { return RunRun(*o); };
    },
});

}  // namespace
}  // namespace anec::cli
