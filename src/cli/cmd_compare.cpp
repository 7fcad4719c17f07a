// cmd_compare.cpp — `normlab compare CONFIG`: variants x sweep points x seeds as independent runs, then a report.
//
// What it is: the command-line side of compare/compare.h: the flags (--out, --jobs, --only,
// --dry-run), then run_compare(). --dry-run validates every run's config and lists the plan.
// Each run is a child process `normlab --threads T train <run>/compare_config.json --out <run>`;
// `--jobs` of them at a time with T = max(1, cores / jobs). Finished runs (result.json) are
// skipped, so an interrupted comparison continues where it stopped; `--only` reruns one.
// Exit code: 0 when every run has a result, 1 when some failed or are missing (the report
// still covers the others), 2 for a bad compare config, 130/143 when stopped by SIGINT/SIGTERM
// (the runs in progress are stopped with a checkpoint, and a rerun resumes them).
// Under `mpirun -np K`, the K compare processes share the runs (run i on rank i mod K) and
// rank 0 writes the summary and report; every rank exits with the same code.
// What it is not: the planner, runner or report (src/compare/runner.cpp,
// summary.cpp, report.cpp), nor the training of a run (each child is `normlab train`).
#include <cstdio>
#include <memory>

#include "normlab/cli/cli.h"
#include "normlab/compare/compare.h"
#include "normlab/parallel/comm.h"
#include "normlab/core/signals.h"

namespace nl {

NL_COMMAND("compare", "Train every variant x sweep point x seed of a compare config, then write summary.json and report.md", 30,
           [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string config, out, only;
    int jobs = 0;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("config", a->config, "Compare config (configs/compare/*.json)")->required();
  sub.add_option("--out", a->out, "Output folder (default: the config's out_dir)");
  sub.add_option("--jobs", a->jobs, "Runs at a time (default: the config's jobs)")->check(CLI::Range(1, 256));
  sub.add_option("--only", a->only,
                 "Rerun only VARIANT, VARIANT/SEED (e.g. batchnorm/2) or VARIANT/POINT/SEED, even if finished");
  sub.add_flag("--dry-run", a->dry_run,
               "Validate and list the runs (variant, sweep point, seed, folder), one a line; run nothing");
  return [a]() {
    CompareConfig cc = load_compare_config(a->config);
    CompareOptions opt;
    opt.comm = &world_comm();  // under `mpirun -np K`: K compare processes share the runs
    opt.out_dir = a->out;
    opt.jobs = a->jobs;
    opt.only = a->only;
    opt.dry_run = a->dry_run;
    CompareResult r = run_compare(cc, opt);
    if (r.interrupted_by) {
      std::fprintf(stderr, "normlab: compare interrupted by %s; the runs in progress stopped with a checkpoint; "
                   "rerun the same command to resume them\n", signal_name(r.interrupted_by));
      return 128 + r.interrupted_by;
    }
    if (a->dry_run) return 0;
    return r.incomplete ? 1 : 0;
  };
});

}  // namespace nl
