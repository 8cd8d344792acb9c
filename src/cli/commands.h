// Entry point of the `anec` subcommands. Each subcommand registers itself from its own file
// (inspect_command.cc, convert_command.cc, run_command.cc, ...). This is the only place where
// errors turn into messages and exit codes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace anec::cli {

// A subcommand: Setup() adds its options to `sub`; Run() executes after parsing.
struct Command {
  std::string name;
  std::string help;
  // Called once to declare options; returns the function that runs the command.
  std::function<std::function<Status()>(CLI::App* sub)> setup;
};

// Registration from a file's static initializer: static Registrar r({...});
std::vector<Command>& Registry();
struct Registrar {
  explicit Registrar(Command c) { Registry().push_back(std::move(c)); }
};

int Main(int argc, char** argv);

}  // namespace anec::cli
