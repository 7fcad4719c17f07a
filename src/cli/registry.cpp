// registry.cpp — the list of `normlab` commands, filled by NL_COMMAND in each file.
//
// What it is: a function-local vector (so registration order across files does not matter)
// and the global options every command reads.
// What it is not: the parser; main.cpp builds the CLI11 app from this list.
#include "normlab/cli.h"

namespace nl {

GlobalOptions& global_options() {
  static GlobalOptions options;
  return options;
}

std::vector<Command>& command_registry() {
  static std::vector<Command> commands;
  return commands;
}

CommandRegistrar::CommandRegistrar(const std::string& name, const std::string& help,
                                   CommandSetup setup, int order) {
  command_registry().push_back({name, help, std::move(setup), order});
}

}  // namespace nl
