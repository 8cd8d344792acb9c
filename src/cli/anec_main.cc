// The anec command line: see `anec --help`.
#include "cli/commands.h"

int main(int argc, char** argv) { return anec::cli::Main(argc, argv); }
