// `anec chat --model-path DIR`: interactive multi-turn chat on the CPU runtime.
// Commands: /reset, /system TEXT, /quit. Reads stdin line by line, so it also works with piped
// input; the "> " prompt and the banner are shown only when stdin is a terminal.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <random>
#include <string>

#include "cli/commands.h"
#include "cli/converted_model.h"
#include "cli/sampling_flags.h"
#include "runtime/generation.h"
#include "runtime/llm_model.h"

namespace anec::cli {
namespace {

struct ChatOptions {
  std::string model_path;
  std::string system;
  SamplingFlags sampling{.max_tokens = 512};
  bool no_template = false;
  bool stats = false;
};

Status RunChat(const ChatOptions& o) {
  ANEC_ASSIGN_OR_RETURN(runtime::GenerationOptions gen, ToGenerationOptions(o.sampling));
  ANEC_ASSIGN_OR_RETURN(ConvertedModel converted, OpenConvertedModel(o.model_path, "--model-path"));
  auto& model = converted.model;
  text::Tokenizer& tokenizer = converted.tokenizer;
  runtime::ChatSession session(model.get(), &tokenizer, !o.no_template);
  session.SetSystem(o.system);
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) {
    fmt::print(stderr, "anec chat: {} (context {}). /reset, /system TEXT, /quit\n",
               o.model_path, model->context_length());
  }
  std::string line;
  while (true) {
    if (interactive) {
      fmt::print(stderr, "> ");
      std::fflush(stderr);
    }
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line == "/quit" || line == "/exit") break;
    if (line == "/reset") {
      session.Reset();
      if (interactive) fmt::print(stderr, "(conversation cleared)\n");
      continue;
    }
    if (line.rfind("/system", 0) == 0 && (line.size() == 7 || line[7] == ' ')) {
      session.SetSystem(line.size() > 8 ? line.substr(8) : "");
      session.Reset();
      if (interactive) fmt::print(stderr, "(system prompt set; conversation cleared)\n");
      continue;
    }
    ANEC_ASSIGN_OR_RETURN(runtime::GenerationStats stats,
                          session.Reply(line, gen, [](std::string_view piece) {
                            std::fwrite(piece.data(), 1, piece.size(), stdout);
                            std::fflush(stdout);
                          }));
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (o.stats || interactive) {
      fmt::print(stderr, "[{:.2f} s to first token, {:.1f} tok/s prefill, {:.1f} tok/s decode{}]\n",
                 stats.time_to_first_token_s, stats.prefill_tokens_per_s(),
                 stats.decode_tokens_per_s(),
                 stats.context_shifts ? ", context shifted" : "");
    }
  }
  return Status::Ok();
}

const Registrar kChat({
    "chat",
    "Interactive multi-turn chat with a converted model on the CPU runtime (/reset, /system TEXT, "
    "/quit; works with piped stdin)",
    [](CLI::App* sub) -> std::function<Status()> {
      auto o = std::make_shared<ChatOptions>();
      sub->add_option("--model-path", o->model_path, "Folder written by `anec convert` (meta.yaml)")
          ->required();
      sub->add_option("--system", o->system, "System prompt");
      AddSamplingFlags(sub, &o->sampling);
      sub->add_flag("--no-template", o->no_template, "Do not use the chat template");
      sub->add_flag("--stats", o->stats, "Print timing after each reply even when not interactive");
      return [o] { return RunChat(*o); };
    },
});

}  // namespace
}  // namespace anec::cli
