// main.cpp — `normlab`: parse the command line, run one registered command.
//
// Global options (--threads, --kernels) apply to every command: the thread count is set
// here; the kernel set is read by each command once (resolve_config puts it into
// train.kernels) and handed to the model it builds. Errors the user can
// fix are one line on stderr and a non-zero exit, never a crash or a stack trace; a bad
// command line (CLI11's parse errors: an unknown option, a missing argument, nan for a
// float) is one line and exit code 2, like a bad config.
// Under mpirun (a data-parallel `train`), an error on any rank is one line naming the
// rank, "normlab: error: rank 1 of 2: <what>", and MPI_Abort ends every rank with the
// error's exit code, so no rank waits forever in a collective for one that is gone.
// What it is not: a list of commands — each registers itself (cli.h, NL_COMMAND), so
// main.cpp knows none of them by name.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <thread>

#include "normlab/cli/cli.h"
#include "normlab/parallel/comm.h"
#include "normlab/core/io.h"
#include "normlab/core/runtime.h"

namespace {

// How long a rank other than 0 waits for rank 0's abort before it reports its own error.
constexpr int kRankErrorDelaySeconds = 10;

// Print the one-line error and return its exit code; on K > 1 ranks, end the whole job.
int report_error(const char* what, int code) {
  if (nl::mpi_initialized()) {
    nl::Comm& world = nl::world_comm();
    if (world.size() > 1) {
      // Rank 0 reports at once. The others wait first: an error every rank hits (a NaN
      // loss, a bad config) is then reported once, by rank 0, whose abort ends them. Their
      // wait is long because the abort is not instant: mpirun must be scheduled to kill
      // them, and on a loaded machine under ASan that took over 0.5 s. An error on one rank
      // only (its data file missing) is reported that much later; rank 0 waits for it in a
      // collective meanwhile.
      if (!world.is_root()) std::this_thread::sleep_for(std::chrono::seconds(kRankErrorDelaySeconds));
      std::fprintf(stderr, "normlab: error: %s: %s\n", world.where().c_str(), what);
      std::fflush(stderr);
      world.abort(code);
    }
  }
  std::fprintf(stderr, "normlab: error: %s\n", what);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"normlab: a minimal Transformer training framework where every normalization "
               "layer is one config key"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every command");
  nl::GlobalOptions& global = nl::global_options();
  app.add_option("--threads", global.threads,
                 "Worker threads for OpenMP and OpenBLAS (default: train.threads, else all cores)");
  app.add_option("--kernels", global.kernels,
                 "Kernel set: fast or reference (plain loops, for learners); default: train.kernels, else fast")
      ->check(CLI::IsMember({"fast", "reference"}));

  auto& registry = nl::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const nl::Command& a, const nl::Command& b) { return a.order < b.order; });
  std::map<CLI::App*, nl::CommandRun> runs;
  for (auto& cmd : registry) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.help);
    runs[sub] = cmd.setup(*sub);
  }
  nl::check_numbers(app);  // floats finite, integers plain decimal that fit (usage.cpp)

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --help-all print the help (exit 0); anything else is a usage error: one
    // line, exit 2, as for a bad config.
    if (e.get_exit_code() == 0) return app.exit(e);
    return report_error(nl::usage_error(app, e).c_str(), 2);
  }
  try {
    nl::set_num_threads(global.threads);
    for (auto& [sub, run] : runs)
      if (sub->parsed()) {
        const int code = run();
        nl::flush_stdout_or_throw();  // `normlab eval --json - > /dev/full` is an error, not exit 0
        return code;
      }
  } catch (const nl::UserError& e) {
    return report_error(e.what(), e.code);
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
  return 1;
}
