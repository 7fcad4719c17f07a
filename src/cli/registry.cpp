// registry.cpp — the list of `normlab` commands (filled by NL_COMMAND in each file), the
// global options, the config loading every command that takes a CONFIG shares, and the
// checkpoint loading of eval, predict and generate.
//
// What it is: a function-local vector (so registration order across files does not matter),
// the global options every command reads, resolve_config and open_checkpoint.
// What it is not: the parser; main.cpp builds the CLI11 app from this list.
#include "normlab/cli/cli.h"
#include "normlab/config/config.h"
#include "normlab/train/saved_model.h"

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

CheckpointModel open_checkpoint(const std::string& command, const std::string& path, const std::string& config_path,
                                const std::vector<std::string>& overrides, bool with_task) {
  SavedModel saved = read_saved_model(path);
  if (!with_task) require_model_card(saved, command);  // before anything is built
  Config cfg;
  if (config_path.empty()) {
    cfg = saved_config(saved, overrides);
    apply_global_options(cfg);
  } else {
    cfg = resolve_config(config_path, overrides);
  }
  return load_checkpoint_model(std::move(saved), std::move(cfg), command, with_task);
}

}  // namespace nl
