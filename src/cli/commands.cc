#include "cli/commands.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace anec::cli {

std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "anec: convert Hugging Face and GGUF language models to Core ML for the Apple Neural "
      "Engine, and run them.\n\n"
      "  anec convert --model ./Llama-3.2-1B --output out --context 1024 --chunks 2 --lut 6\n"
      "  anec run --model-path out --prompt \"Why is the sky blue?\"\n"
      "  anec inspect out/llama_lm_head_lut6.mlpackage\n",
      "anec"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "anec 0.1.0");
  std::vector<Command> commands = Registry();
  std::sort(commands.begin(), commands.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  std::function<Status()> to_run;
  for (const Command& c : commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    auto run = c.setup(sub);
    sub->callback([&to_run, run] { to_run = run; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!to_run) return 0;
  Status s = to_run();
  if (!s.ok()) {
    fmt::print(stderr, "anec: error: {}\n", s.message());
    return 2;
  }
  return 0;
}

}  // namespace anec::cli
