// registry.cpp — the list of `normlab` commands (filled by NL_COMMAND in each file), the
// global options, and the config loading every command that takes a CONFIG shares.
//
// What it is: a function-local vector (so registration order across files does not matter),
// the global options every command reads, and resolve_config.
// What it is not: the parser; main.cpp builds the CLI11 app from this list.
#include "normlab/cli.h"
#include "normlab/config.h"

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

Config resolve_config(const std::string& path, const std::vector<std::string>& overrides) {
  nlohmann::json j = read_config_json(path);
  apply_overrides(j, overrides);
  Config cfg = config_from_json(j, path);
  apply_global_options(cfg);
  return cfg;
}

void apply_global_options(Config& cfg) {
  // Command-line --threads / --kernels win over the config.
  if (global_options().threads > 0) cfg.train.threads = global_options().threads;
  if (!global_options().kernels.empty()) cfg.train.kernels = parse_kernel_set(global_options().kernels);
}

}  // namespace nl
