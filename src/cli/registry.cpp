// registry.cpp — the list of `normlab` commands, filled by NL_COMMAND in each file.
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
