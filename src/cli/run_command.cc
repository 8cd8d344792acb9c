// `anec run --model-path DIR --prompt TEXT`: one prompt through a converted model on the CPU
// runtime, streaming the reply, then time to first token and throughput on stderr.
#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "runtime/generation.h"
#include "runtime/llm_model.h"

namespace anec::cli {
namespace {

struct RunOptions {
  std::string model_path;
  std::string prompt;
  std::string system;
  int max_tokens = 256;
  float temperature = 0.7f;
  float top_p = 0.9f;
  int top_k = 0;
  int64_t seed = -1;
  bool no_template = false;
};

Status RunRun(const RunOptions& o) {
  if (o.max_tokens < 1) return InvalidArgument("--max-tokens must be >= 1, got {}", o.max_tokens);
  if (o.temperature < 0) return InvalidArgument("--temperature must be >= 0, got {}", o.temperature);
  if (o.top_p <= 0 || o.top_p > 1) return InvalidArgument("--top-p must be in (0, 1], got {}", o.top_p);
  FileSystem* fs = RealFileSystem();
  if (!fs->IsDirectory(o.model_path)) {
    return NotFound("--model-path {} is not a folder; give the output folder of `anec convert`",
                    o.model_path);
  }
  ANEC_ASSIGN_OR_RETURN(auto model, runtime::LlmModel::Open(fs, o.model_path));
  ANEC_ASSIGN_OR_RETURN(text::Tokenizer tokenizer, runtime::LoadFolderTokenizer(fs, o.model_path));
  runtime::ChatSession session(model.get(), &tokenizer, !o.no_template);
  session.SetSystem(o.system);
  runtime::GenerationOptions gen;
  gen.max_tokens = o.max_tokens;
  gen.sampling.temperature = o.temperature;
  gen.sampling.top_p = o.top_p;
  gen.sampling.top_k = o.top_k;
  gen.sampling.seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) : std::random_device{}();
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
      sub->add_option("--max-tokens", o->max_tokens, "Most tokens to generate (default 256)");
      sub->add_option("--temperature", o->temperature,
                      "Sampling temperature; 0 = greedy (default 0.7)");
      sub->add_option("--top-p", o->top_p, "Nucleus sampling mass (default 0.9)");
      sub->add_option("--top-k", o->top_k, "Sample among the k most likely tokens; 0 = all (default 0)");
      sub->add_option("--seed", o->seed, "Random seed for sampling (default: random)");
      sub->add_flag("--no-template", o->no_template,
                    "Send the prompt as raw text instead of through the chat template");
      return [o] { return RunRun(*o); };
    },
});

}  // namespace
}  // namespace anec::cli
