// compare/compare.h — `normlab compare`: one base config, named variants, several seeds.
//
// What it is: the public face of a pipeline of typed stages, each in its own file:
//   config.cpp    the compare config, read through one table of keys (as the training config)
//   plan.cpp      the plan (one run per variant x sweep point x seed, each a resolved training
//                 config with train.seed = seed, so every variant sees the same data order and,
//                 for a given seed, the same initial values of the parameters it shares)
//   runner.cpp    each run an independent child process `normlab --threads T train
//                 <dir>/compare_config.json --out <dir>`, `jobs` at a time; finished runs skipped
//   records.cpp   run folder -> RunRecord (metrics.csv and result.json, read once; records.h)
//   summary.cpp   cells (variant x sweep point): the records and their mean and interval
//   tests.cpp     the questions' tests -> Test records, Holm over the report (stats.cpp computes)
//   questions/    one file per research question: when it applies, its tests, its section
//   report.cpp    report.md from summary.json; plots by scripts/plot_compare.py
// What it is not: training. The child processes train; compare only reads what the trainer
// writes (the run-folder layout in train/trainer.h, the column names in train/metrics_schema.h).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/compare/stats.h"

namespace nl {

class Comm;  // parallel/comm.h

struct CompareVariant {
  std::string name;                 // also the run folder name: [A-Za-z0-9_.-]+
  nlohmann::ordered_json overrides; // {"model.norm.type": "batchnorm", ...}, applied in order
  // What the variant is, read from its resolved config (never guessed from its name):
  std::string norm_type;            // model.norm.type
  bool batch_stats = false;         // its norm keeps batch statistics (drift, shift, jitter)
};

// One axis of a sweep: a config key (--set semantics) and the values it takes, in file order.
// `labels` are the values as they appear in folder names and report columns (sweep_label).
struct SweepAxis {
  std::string key;                  // e.g. "train.batch_size"
  std::vector<nlohmann::json> values;
  std::vector<std::string> labels;
};

// One point of the sweep (the cartesian product of the axes, first axis slowest).
struct SweepPoint {
  std::string label;                // "train.batch_size=4,optim.lr=0.001"; "" without a sweep
  std::vector<std::pair<std::string, nlohmann::json>> values;  // key -> value, axis order
};

// The most runs (variants x sweep points x seeds) one comparison may plan: a bigger product
// is a code-2 error naming the count, before any run or sweep point is built.
constexpr size_t kMaxCompareRuns = 10000;

struct CompareConfig {
  std::string source;               // the file (or "compare config"), for messages
  nlohmann::json base;              // the base training config (inline, or read from "base")
  std::string base_source;          // where base came from
  std::vector<CompareVariant> variants;  // in file order
  std::vector<uint64_t> seeds;
  double target_loss = 0;
  std::string out_dir;
  int jobs = 1;
  std::string title;                // report heading (default: file stem)
  std::string description;          // one paragraph under the heading (optional)
  std::string reference;            // variant the others are compared to (default: the
                                    // standard norm's (norm_for_role) if present, else the first)
  std::vector<std::string> questions;  // report sections; see compare_question_names()
  std::vector<SweepAxis> sweep;     // empty: no sweep (one point, today's folder layout)
  // Statistics (docs/math.md): runs at the same seed pair ("seed") or not ("unpaired": Welch);
  // equivalence margins (TOST) for accuracies and for losses.
  std::string pairing = "seed";
  double margin_acc = 0.01, margin_loss = 0.02;
  // Confirmatory seeds: every difference found on `seeds` is re-tested on these alone.
  std::vector<uint64_t> replicate_seeds;
  // Any two cells: "VARIANT" (at every point) or "VARIANT/POINT" (POINT a sweep point's label).
  struct Contrast {
    std::string a, a_point, b, b_point;  // points "" for "at every point"
  };
  std::vector<Contrast> contrasts;
  // Claims that re-check themselves: metric ("final_train_loss", "overfit_gap", "acc SPLIT",
  // "loss SPLIT"), cells a and b as in contrasts, expect "higher", "lower" or "equivalent".
  struct Claim {
    std::string claim, metric, a, a_point, b, b_point, expect;
  };
  std::vector<Claim> claims;
  // Settings around base where the claims are re-checked: each a name (a folder name) and
  // overrides of base ({key.path: value}, applied before the variants' and the sweep's).
  // Only the cells the claims name run there, on `seeds` (not replicate_seeds); each
  // neighbour's claim tests are a Holm family of their own.
  struct Neighbour {
    std::string name;
    nlohmann::ordered_json overrides;
  };
  std::vector<Neighbour> neighbours;
};

// The variant that stands for a norm type in the report's questions (the reference defaults
// to the standard norm's, overfit compares it with the one without gain and bias, ...): the
// variant named like the type if it has that type, else the first variant of that type; ""
// if none.
int variant_index(const CompareConfig& cc, const std::string& name);  // -1 if none
std::string variant_of_norm(const CompareConfig& cc, const std::string& norm_type);

// The points of cc.sweep: one empty point when there is no sweep.
std::vector<SweepPoint> sweep_points(const CompareConfig& cc);
// A sweep value as it appears in a folder name: a number or string as written, an object's
// or array's values joined by '-' ({"min": 4, "max": 16} -> "4-16"); any character outside
// [A-Za-z0-9_.+-] becomes '_'.
std::string sweep_label(const nlohmann::ordered_json& value);

// Parse and validate; every error is a one-line UserError (code 2) naming the key.
// `base_dir` resolves a relative "base" path (the compare file's folder).
CompareConfig compare_config_from_json(const nlohmann::ordered_json& j, const std::string& source,
                                       const std::string& base_dir);
CompareConfig load_compare_config(const std::string& path);
std::vector<std::string> compare_question_names();

// One run of the plan.
struct CompareRun {
  std::string neighbour;            // "" for a run of the base setting
  std::string variant;
  std::string point;                // sweep point label ("" without a sweep)
  uint64_t seed = 0;
  std::string dir;                  // <out>[/neighbours/<name>]/<variant>[/<point>]/seed<k>
  nlohmann::json config;            // resolved training config (every key)
};

// The resolved training config of one variant x point x seed: base, then the variant's
// overrides, then the sweep point's values (nl::apply_overrides semantics), then train.seed,
// train.out_dir and train.threads. Validated by config_from_json: a bad override is a
// UserError naming the variant, a bad sweep value one naming the sweep key and value.
nlohmann::json resolve_run_config(const CompareConfig& cc, const CompareVariant& v, const SweepPoint& point,
                                  uint64_t seed, const std::string& run_dir, int threads);
nlohmann::json resolve_run_config(const CompareConfig& cc, const CompareVariant& v, uint64_t seed,
                                  const std::string& run_dir, int threads);
// Every run, variant-major, then point, then seed. Resolving validates every run's config, so
// a bad variant or sweep value throws before anything runs or is written.
// seeds, then replicate_seeds: every seed a run is planned for.
std::vector<uint64_t> all_seeds(const CompareConfig& cc);
std::vector<CompareRun> plan_runs(const CompareConfig& cc, const std::string& out_dir, int threads);
std::string run_dir_for(const std::string& out_dir, const std::string& variant, uint64_t seed,
                        const std::string& point = "");
// A neighbour's folder: <out>/neighbours/<name> (its runs laid out below it as the base's).
std::string neighbour_dir(const std::string& out_dir, const std::string& neighbour);
// The cells (variant index, sweep point index) the claims name, in variant then point order:
// what runs at each neighbour.
std::vector<std::pair<size_t, size_t>> claim_cells(const CompareConfig& cc);
// cc with base = base + the neighbour's overrides (a bad override: UserError naming it).
CompareConfig neighbour_config(const CompareConfig& cc, const CompareConfig::Neighbour& n);

// --only: "VARIANT", "VARIANT/SEED", "VARIANT/seedSEED", and with a sweep "VARIANT/POINT" or
// "VARIANT/POINT/SEED" (POINT as in the folder name); a neighbour's runs "neighbours/NAME",
// then optionally "/" and any of the above. Throws UserError (code 2) when it names no run of
// the plan.
bool only_matches(const std::string& only, const CompareRun& run);

struct RunOutcome {
  std::string neighbour;            // "" for a run of the base setting
  std::string variant;
  std::string point;                // sweep point label ("" without a sweep)
  uint64_t seed = 0;
  std::string dir;
  std::string status;               // ok | skipped | failed | missing (not run, no result)
  int exit_code = 0;                // of the child (128 + signal when killed)
  int signal = 0;                   // when killed
  std::string last_stderr;          // last non-empty line of the child's stderr
  double seconds = 0;
};

// The mpirun that built normlab found (CMake's MPIEXEC_EXECUTABLE), else "mpirun" on PATH.
std::string default_mpirun();

struct CompareOptions {
  std::string out_dir;              // overrides the config's out_dir when not empty
  int jobs = 0;                     // > 0 overrides the config's jobs
  std::string only;                 // rerun only these runs (see only_matches)
  std::string exe = "/proc/self/exe";  // the normlab binary the children run
  std::string plot_script;          // empty: scripts/plot_compare.py, installed or in the source tree (shipped_file)
  std::string python = "/usr/bin/python3";
  int cores = 0;                    // 0: the machine's cores
  bool quiet = false;
  bool dry_run = false;             // print the plan (one run a line) and return: nothing runs or is written
  // The compare processes (`mpirun -np K normlab compare`): run i of the plan is rank
  // i % K's; rank 0 collects every outcome and writes summary, plots and report. nullptr:
  // this process alone.
  Comm* comm = nullptr;
  // Launches a run whose train.ranks is K > 1 as `mpirun ... -np K normlab train ...`.
  std::string mpirun = default_mpirun();
  // A test's hook: called with a run's folder just before the runner removes that run's old
  // files (the run's lock is held then, so no other process can be writing them).
  std::function<void(const std::string& run_dir)> before_removing_run_files;
};

struct CompareResult {
  std::vector<RunOutcome> runs;
  std::string out_dir, summary_path, report_path;
  bool plots_ok = false;
  int incomplete = 0;               // planned runs without result.json at the end
  int interrupted_by = 0;           // SIGINT/SIGTERM: runs stopped (with checkpoints), no report
};

// Run what is not finished, then write summary.json, plots and report.md. With
// opt.dry_run: validate, print the plan and return (res.runs status "planned").
CompareResult run_compare(const CompareConfig& cc, const CompareOptions& opt);
// The --dry-run listing: one line per run, "variant<TAB>point<TAB>seed<TAB>folder" ("-" for
// no point), after a header line.
std::string format_plan(const std::vector<CompareRun>& plan);

// ---- reading run folders (no training needed; tests use synthetic folders) ----

// metrics.csv as columns of doubles; an empty cell is NaN (a step without evaluation).
struct MetricsTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
  int col(const std::string& name) const;  // -1 when absent
};
MetricsTable read_metrics_csv(const std::string& path);  // UserError when unreadable

// summary.json from the run folders under out_dir. `outcomes` (may be empty) adds status,
// exit code and stderr of runs that failed in this invocation.
nlohmann::ordered_json summarize_compare(const CompareConfig& cc, const std::string& out_dir,
                                         const std::vector<RunOutcome>& outcomes);
// The number at a JSON pointer (e.g. "/eval/len_4_16/acc") of each finished run in `runs`
// (NaN where absent), and a key escaped for a JSON pointer.
std::vector<double> collect_runs(const nlohmann::ordered_json& runs, const std::string& pointer);
std::string json_pointer_escape(const std::string& s);

// report.md from summary.json. `plots_note` is empty when the plots were drawn, else why not.
std::string render_report(const nlohmann::ordered_json& summary, const std::string& plots_note);

// The JSON in `path`, or null when the file is missing or not valid JSON (a run folder
// that has not got that far). Shared by the runner and the report.
nlohmann::json read_json_or_null(const std::string& path);

}  // namespace nl
