// cli.h — how a `normlab <command>` registers itself.
//
// Each command lives in one file under src/cli/ and registers a setup function that
// adds its options to a CLI11 subcommand and returns the function that runs it
// (returning the process exit code). main.cpp knows none of them by name.
// What it is not: the commands themselves (src/cli/cmd_*.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "normlab/core/error.h"

namespace nl {

// The options every command takes (`normlab --threads 1 train ...`). 0 / empty: not
// given, so the config's train.threads / train.kernels (or the default) apply.
struct GlobalOptions {
  int threads = 0;
  std::string kernels;
};
GlobalOptions& global_options();

// Read a config file, apply --set overrides, validate, then let --threads / --kernels
// from the command line win. Every error is a UserError with code 2.
struct Config;
Config resolve_config(const std::string& path, const std::vector<std::string>& overrides);
// Let --threads / --kernels from the command line win over a config (resolve_config does
// it; commands that take a checkpoint's stored config call it themselves).
void apply_global_options(Config& cfg);
// A trained model from a checkpoint, for eval, predict and generate: read `path`, take the
// config at `config_path` (resolve_config) or, when empty, the checkpoint's stored one with
// `overrides` and --threads / --kernels applied, then load_checkpoint_model
// (train/saved_model.h). Without with_task the model card is checked first.
struct CheckpointModel;
CheckpointModel open_checkpoint(const std::string& command, const std::string& path, const std::string& config_path,
                                const std::vector<std::string>& overrides, bool with_task);

// Every number option of `app` and its commands checked by its type (usage.cpp): floats
// finite, unsigned integers plain digits that fit (no -1, no 2^64), integers plain decimal.
// main calls it once the commands have added their options.
void check_numbers(CLI::App& app);
// ">= 0" with a short message ("--temperature: '-1' is negative (allowed: >= 0)").
CLI::Validator non_negative();
// A CLI11 parse error as one line for "normlab: error: ...", with the command's --help.
std::string usage_error(const CLI::App& app, const CLI::ParseError& e);

using CommandRun = std::function<int()>;
using CommandSetup = std::function<CommandRun(CLI::App& sub)>;

struct Command {
  std::string name;
  std::string help;
  CommandSetup setup;
  int order;  // position in --help
};
std::vector<Command>& command_registry();
struct CommandRegistrar {
  CommandRegistrar(const std::string& name, const std::string& help, CommandSetup setup, int order);
};
#define NL_CLI_CAT2(a, b) a##b
#define NL_CLI_CAT(a, b) NL_CLI_CAT2(a, b)
// NL_COMMAND("gradcheck", "Run every gradient check", 90, [](CLI::App& sub) { ...; return run; });
#define NL_COMMAND(name, help, order, ...) \
  static ::nl::CommandRegistrar NL_CLI_CAT(nl_command_, __COUNTER__)(name, help, __VA_ARGS__, order)

}  // namespace nl
