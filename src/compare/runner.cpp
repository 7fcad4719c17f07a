// runner.cpp — the runner of a comparison's child processes.
//
// What it is: given the plan (plan.cpp), run each run as `normlab --threads T train ... --out DIR`
// in its own process (`jobs` at a time), skip runs whose result.json reached train.steps,
// report runs that fail, pass SIGINT/SIGTERM on to the runs (and have the kernel send them
// SIGTERM if compare dies), then summarise (summary.cpp, report.cpp) and draw the plots (a python script).
// A run whose train.ranks is K > 1 is launched as `mpirun --bind-to none -np K normlab
// --threads max(1, T/K) train ...` (data parallel; --oversubscribe, and --allow-run-as-root
// when root). Under `mpirun -np R normlab compare` the R compare processes share the plan:
// run i is rank i % R's (a fixed assignment, whatever is finished already), each rank runs
// its own runs `jobs` at a time, then rank 0 gathers every outcome and writes the summary,
// plots and report; a failed run on any rank is in them, and every rank exits with the same
// code. Its children must not believe they are ranks of compare's own job: the variables
// mpirun gave compare (OMPI_*, PMIX_*, PMI_*, PRTE_*, ...) are left out of their environment,
// so a run without train.ranks is a plain single process, and one with it starts a job of
// its own.
// What it is not: the compare config (config.cpp), the plan (plan.cpp), training (the child
// processes do that) nor the summary and report (summary.cpp, report.cpp).
#include "normlab/compare/compare.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "normlab/parallel/comm.h"
#include "normlab/core/error.h"
#include "normlab/config/config.h"
#include "normlab/core/io.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"
#include "normlab/core/signals.h"
#include "normlab/train/progress.h"
#include "normlab/train/run_lock.h"

namespace fs = std::filesystem;

namespace nl {

// ---------------------------------------------------------------------------
// The runner: child processes, `jobs` at a time
// ---------------------------------------------------------------------------

static bool file_exists(const std::string& p) {
  std::error_code ec;  // a path the system refuses is not there
  return fs::exists(p, ec);
}

// Two resolved configs describe the same run when they differ at most in train.threads.
static bool same_run(nlohmann::json a, nlohmann::json b) {
  if (a.is_null() || b.is_null()) return false;
  if (a.contains("train")) a["train"].erase("threads");
  if (b.contains("train")) b["train"].erase("threads");
  return a == b;
}

// A run is finished when its result.json says it reached the train.steps of its config (a
// result of a shorter run, or a half-written folder, is not finished).
static bool finished_run(const std::string& dir, const nlohmann::json& config) {
  const nlohmann::json result = read_json_or_null((fs::path(dir) / "result.json").string());
  return result.is_object() && result.contains("steps") && config.contains("train") &&
         config["train"].contains("steps") && result["steps"] == config["train"]["steps"];
}

static std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    // progress bars redraw with '\r': keep the last segment
    auto cr = line.find_last_of('\r');
    if (cr != std::string::npos) line = line.substr(cr + 1);
    if (line.find_first_not_of(" \t") != std::string::npos) last = line;
  }
  return last;
}

struct Child {
  pid_t pid = -1;
  size_t index = 0;
  std::chrono::steady_clock::time_point start;
};

std::string default_mpirun() {
#ifdef NORMLAB_MPIEXEC
  if (std::string(NORMLAB_MPIEXEC).size() && fs::exists(NORMLAB_MPIEXEC)) return NORMLAB_MPIEXEC;
#endif
  return "mpirun";
}

// `name` as execv needs it: itself if it has a '/', else the first executable on PATH.
static std::string on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t b = 0; b <= dirs.size();) {
    size_t e = dirs.find(':', b);
    if (e == std::string::npos) e = dirs.size();
    const std::string cand = (e > b ? dirs.substr(b, e - b) : std::string(".")) + "/" + name;
    if (access(cand.c_str(), X_OK) == 0) return cand;
    b = e + 1;
  }
  return name;  // execv fails; the child reports "cannot execute"
}

// The variables with which a launcher (Open MPI, PMIx, MPICH's Hydra, Intel MPI) tells a
// process that it is a rank of a job.
static bool launcher_variable(const std::string& kv) {
  for (const char* p : {"OMPI_", "PMIX_", "PMI_", "PRTE_", "ORTE_", "OPAL_", "HYDRA_", "HYDI_", "MPIR_",
                        "MPI_LOCALNRANKS=", "MPI_LOCALRANKID="})
    if (kv.rfind(p, 0) == 0) return true;
  return false;
}

// The children's environment: compare's own, less launcher_variable()s when compare is a rank.
static std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  const bool strip = launched_by_mpirun();
  for (char** e = ::environ; e && *e; ++e)  // unistd.h (_GNU_SOURCE)
    if (!strip || !launcher_variable(*e)) env.push_back(*e);
  return env;
}

// fork + execve: stdout -> <dir>/train.log, stderr -> <dir>/stderr.log.
static pid_t spawn(const std::vector<std::string>& argv, const std::string& dir) {
  std::string out = (fs::path(dir) / "train.log").string();
  std::string err = (fs::path(dir) / "stderr.log").string();
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::vector<std::string> env_strings = child_environment();  // built before fork
  std::vector<char*> envp;
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw UserError("compare: fork failed", 1);
  if (pid == 0) {
    // If compare dies (even by SIGKILL), the kernel sends this run SIGTERM: it checkpoints
    // and stops. Compare may have died before prctl took effect: then stop now.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo >= 0) dup2(fo, 1);
    if (fe >= 0) dup2(fe, 2);
    execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "compare: cannot execute %s\n", args[0]);
    _exit(127);
  }
  return pid;
}

static void remove_run_outputs(const std::string& dir) {
  for (const char* f : {"result.json", "metrics.csv", "checkpoint.safetensors", "config.json",
                        "train.log", "stderr.log"})
    fs::remove(fs::path(dir) / f);
}

static std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

// Installed beside the binary (share/normlab/scripts), else in the source tree (files.h).
static std::string default_plot_script() {
  std::string p = shipped_file("scripts/plot_compare.py");
  return p.empty() ? "scripts/plot_compare.py" : p;
}

// Runs the plot script; returns "" on success, else a one-line reason.
static std::string draw_plots(const std::string& python, const std::string& script,
                              const std::string& out_dir) {
  if (!file_exists(script)) return "the plot script " + script + " was not found";
  fs::create_directories(fs::path(out_dir) / "plots");
  std::string log = (fs::path(out_dir) / "plots" / "plot.log").string();
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
    execl(python.c_str(), python.c_str(), script.c_str(), out_dir.c_str(), (char*)nullptr);
    std::fprintf(stderr, "cannot execute %s\n", python.c_str());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  std::string why = last_line(log);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) why = "install python3-matplotlib";
  return "the plot script failed (" + (why.empty() ? std::string("no output") : why) + "; see " + log + ")";
}

// A run's outcome as the ranks exchange it (compare over ranks).
static nlohmann::json outcome_to_json(size_t index, const RunOutcome& o) {
  return {{"index", index},        {"status", o.status},           {"exit_code", o.exit_code},
          {"signal", o.signal},    {"last_stderr", o.last_stderr}, {"seconds", o.seconds}};
}

// One invocation of compare: the plan, this rank's share of it, and how it reports.
namespace {

struct Session {
  const CompareConfig& cc;
  const CompareOptions& opt;
  Comm& world;
  int n_ranks = 1, me = 0, jobs = 1, threads = 1;
  std::string exe;
  std::vector<CompareRun> plan;
  CompareResult res;
  std::string rank_tag;

  Session(const CompareConfig& c, const CompareOptions& o)
      : cc(c), opt(o), world(o.comm ? *o.comm : local_comm()), n_ranks(world.size()), me(world.rank()) {}
  // Rank 0 says what concerns the whole comparison; every rank reports its own runs.
  void say(const std::string& s) const {
    if (!opt.quiet && world.is_root()) std::printf("%s\n", s.c_str()), std::fflush(stdout);
  }
  void say_run(const std::string& s) const {
    if (!opt.quiet) std::printf("compare: %s%s\n", rank_tag.c_str(), s.c_str()), std::fflush(stdout);
  }
};

std::string run_name(const std::string& neighbour, const std::string& variant, const std::string& point, uint64_t seed) {
  return (neighbour.empty() ? "" : "neighbours/" + neighbour + "/") + variant + (point.empty() ? "" : "/" + point) +
         "/seed" + std::to_string(seed);
}
std::string run_name(const CompareRun& r) { return run_name(r.neighbour, r.variant, r.point, r.seed); }

// The binary every run executes: resolved here, since /proc/self/exe in an mpirun child
// would be mpirun.
std::string resolve_exe(const std::string& exe) {
  if (exe != "/proc/self/exe") return exe;
  std::error_code ec;
  const fs::path real = fs::read_symlink(exe, ec);
  return ec ? exe : real.string();
}

// The machine's cores, shared by the compare ranks on this host (Open MPI's local size),
// then by the runs at a time.
int threads_per_run(const CompareOptions& opt, int n_ranks, int jobs) {
  int local_ranks = 1;
  if (n_ranks > 1)
    if (const char* l = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local_ranks = std::max(1, std::atoi(l));
  int cores = opt.cores > 0 ? opt.cores
                            : std::max(1, (int)std::max(1u, std::thread::hardware_concurrency()) / local_ranks);
  return std::max(1, cores / jobs);
}

RunOutcome outcome_of(const CompareRun& r, const std::string& status) {
  RunOutcome o;
  o.neighbour = r.neighbour;
  o.variant = r.variant;
  o.point = r.point;
  o.seed = r.seed;
  o.dir = r.dir;
  o.status = status;
  return o;
}

void check_only(const std::string& only, const std::vector<CompareRun>& plan) {
  if (only.empty()) return;
  for (const auto& r : plan)
    if (only_matches(only, r)) return;
  const CompareRun& f = plan.front();
  const bool neighbours = plan.back().neighbour.size() > 0;
  throw UserError("--only: '" + only + "' names no run (use VARIANT, VARIANT/SEED" +
                      (f.point.empty() ? "" : " or VARIANT/POINT/SEED") +
                      (neighbours ? ", each optionally after neighbours/NAME/" : "") + ", e.g. " + f.variant + "/" +
                      (f.point.empty() ? "" : f.point + "/") + std::to_string(f.seed) + ")",
                  2);
}

// Decide what runs: --only reruns its runs; otherwise a finished run of the same config is
// skipped. Every rank decides for every run, and returns its own (i % n_ranks == me);
// `todo_all` counts every rank's.
std::vector<size_t> decide(Session& s, size_t& todo_all) {
  std::vector<size_t> todo;
  todo_all = 0;
  for (size_t i = 0; i < s.plan.size(); ++i) {
    const CompareRun& r = s.plan[i];
    RunOutcome& o = s.res.runs[i];
    o = outcome_of(r, "");
    const bool finished = finished_run(r.dir, r.config);
    const bool same = same_run(read_json_or_null((fs::path(r.dir) / "compare_config.json").string()), r.config);
    bool run_it = false;
    if (!s.opt.only.empty()) {
      if (only_matches(s.opt.only, r)) run_it = true;
      else o.status = finished && same ? "skipped" : "missing";
    } else if (finished && same) {
      o.status = "skipped";
    } else {
      if (finished && !same) s.say("compare: " + run_name(r) + ": the config changed since it ran; rerunning");
      run_it = true;
    }
    if (!run_it) continue;
    ++todo_all;
    if ((int)(i % s.n_ranks) == s.me) todo.push_back(i);
  }
  return todo;
}

void say_plan(const Session& s, size_t todo_all) {
  int skipped = 0;
  for (const auto& o : s.res.runs) skipped += o.status == "skipped";
  const size_t n_points = sweep_points(s.cc).size();
  size_t n_neighbour_runs = 0;
  for (const auto& r : s.plan) n_neighbour_runs += !r.neighbour.empty();
  const size_t n_seeds = all_seeds(s.cc).size();
  s.say("compare: " + std::to_string(s.plan.size()) + " runs (" + std::to_string(s.cc.variants.size()) + " variants x " +
        (n_points > 1 ? std::to_string(n_points) + " sweep points x " : std::string()) + std::to_string(n_seeds) +
        " seeds" + (s.cc.replicate_seeds.empty() ? "" : " (" + std::to_string(s.cc.seeds.size()) + " + " +
                    std::to_string(s.cc.replicate_seeds.size()) + " confirmatory)") +
        (n_neighbour_runs ? ", + " + std::to_string(n_neighbour_runs) + " runs at " +
                                std::to_string(s.cc.neighbours.size()) + " neighbours" : std::string()) +
        ") in " + s.res.out_dir + "; " + std::to_string(todo_all) +
        " to run, " + std::to_string(skipped) + " already finished; " +
        (s.n_ranks > 1 ? "over " + std::to_string(s.n_ranks) + " compare ranks (run i on rank i mod " +
                             std::to_string(s.n_ranks) + "), " : std::string()) +
        std::to_string(s.jobs) + " at a time" + (s.n_ranks > 1 ? " on each" : "") + ", " +
        std::to_string(s.threads) + " thread(s) each");
}

// The command line of run r: train.ranks = K > 1 is a data-parallel job of its own, the
// run's threads shared by its ranks; --bind-to none, since mpirun would pin every job's
// rank 0 to the same core.
std::vector<std::string> run_argv(const Session& s, const CompareRun& r, const std::string& cfg_path, bool resume) {
  const int ranks = r.config.contains("train") && r.config["train"].contains("ranks") ? r.config["train"]["ranks"].get<int>() : 0;
  std::vector<std::string> argv;
  if (ranks > 1) {
    argv = {on_path(s.opt.mpirun), "-q", "--oversubscribe", "--bind-to", "none"};
    if (geteuid() == 0) argv.push_back("--allow-run-as-root");
    argv.insert(argv.end(), {"-np", std::to_string(ranks)});
  }
  argv.insert(argv.end(), {s.exe, "--threads", std::to_string(std::max(1, s.threads / std::max(1, ranks))), "train",
                           cfg_path, "--out", r.dir});
  if (resume) argv.push_back("--resume");
  return argv;
}

// Start run i: write its resolved config, resume when a checkpoint of the same config
// exists. A folder another process is writing (its lock is held) is left alone: pid -1.
Child start_run(Session& s, size_t i) {
  const CompareRun& r = s.plan[i];
  Child c;
  c.index = i;
  c.start = std::chrono::steady_clock::now();
  fs::create_directories(r.dir);
  std::string cfg_path = (fs::path(r.dir) / "compare_config.json").string();
  bool resume = false;
  try {
    // The run's own lock while its files are read and removed: a folder another process
    // writes is never touched, and none can start writing it in between. Released before
    // the child starts, which takes it again.
    RunLock run_lock(r.dir);
    resume = s.opt.only.empty() && same_run(read_json_or_null(cfg_path), r.config) &&
             file_exists((fs::path(r.dir) / "checkpoint.safetensors").string()) && !finished_run(r.dir, r.config);
    if (!resume) {
      if (s.opt.before_removing_run_files) s.opt.before_removing_run_files(r.dir);
      remove_run_outputs(r.dir);
    }
    write_file_atomic(cfg_path, r.config.dump(2) + "\n");
  } catch (const UserError& e) {
    if (e.code != 2) throw;  // not "in use": a real failure to read or write the folder
    RunOutcome& o = s.res.runs[i];
    o.status = "failed";
    o.exit_code = 2;
    o.last_stderr = std::string(e.what()) + "; not touched";
    return c;
  }
  c.pid = spawn(run_argv(s, r, cfg_path, resume), r.dir);
  StopSignals::forward_to(c.pid);  // a SIGINT/SIGTERM to compare reaches the run
  return c;
}

// A child ended with `status`: its outcome, and one line about it.
void finish_run(Session& s, const Child& c, int status, size_t done, size_t n_todo,
                std::chrono::steady_clock::time_point wall0) {
  RunOutcome& o = s.res.runs[c.index];
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c.start).count();
  if (WIFSIGNALED(status)) {
    o.signal = WTERMSIG(status);
    o.exit_code = 128 + o.signal;
  } else {
    o.exit_code = WEXITSTATUS(status);
  }
  const bool has_result = finished_run(o.dir, s.plan[c.index].config);
  o.status = o.exit_code == 0 && has_result ? "ok" : "failed";
  const std::string tag = "[" + std::to_string(done) + "/" + std::to_string(n_todo) + "] " + run_name(s.plan[c.index]);
  if (o.status == "ok") {
    // Runs done / total, and the time left at the pace so far (train/progress.h).
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    s.say_run(tag + " finished in " + fmt_seconds(o.seconds) + "; " + format_duration(wall) + " elapsed, ETA " +
              format_duration(eta_seconds(wall, (int)done, (int)(n_todo - done))));
    return;
  }
  o.last_stderr = last_line((fs::path(o.dir) / "stderr.log").string());
  if (o.exit_code == 0 && !has_result) o.last_stderr = "exited 0 but its result.json does not reach train.steps";
  s.say_run(tag + " FAILED (" +
            (o.signal ? "killed by signal " + std::to_string(o.signal) : "exit code " + std::to_string(o.exit_code)) +
            ")" + (o.last_stderr.empty() ? "" : ": " + o.last_stderr));
}

// This rank's runs, `jobs` at a time. SIGINT/SIGTERM: start no more runs, pass the stop on
// to the running ones (each checkpoints and exits) and wait for them.
void run_todo(Session& s, const std::vector<size_t>& todo) {
  StopSignals stop_signals;
  std::vector<Child> running;
  size_t next = 0, done = 0;
  const auto wall0 = std::chrono::steady_clock::now();
  while ((next < todo.size() && stop_signal() == 0) || !running.empty()) {
    while (next < todo.size() && (int)running.size() < s.jobs && stop_signal() == 0) {
      Child c = start_run(s, todo[next++]);
      if (c.pid > 0) {
        running.push_back(c);
        continue;
      }
      ++done;
      s.say_run("[" + std::to_string(done) + "/" + std::to_string(todo.size()) + "] " + run_name(s.plan[c.index]) +
                " FAILED: " + s.res.runs[c.index].last_stderr);
    }
    if (running.empty()) continue;
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = std::find_if(running.begin(), running.end(), [&](const Child& c) { return c.pid == pid; });
    if (it == running.end()) continue;
    StopSignals::forget(pid);
    finish_run(s, *it, status, ++done, todo.size(), wall0);
    running.erase(it);
  }
}

// Every rank's outcomes to every rank (a rank done early sleeps here, not spins); returns
// the stop signal any rank saw.
int gather_outcomes(Session& s, const std::vector<size_t>& todo, int stopped) {
  s.world.idle_barrier();
  nlohmann::json mine = {{"stop", stopped}, {"runs", nlohmann::json::array()}};
  for (size_t i : todo) mine["runs"].push_back(outcome_to_json(i, s.res.runs[i]));
  for (const std::string& text : s.world.all_gather(mine.dump())) {
    const nlohmann::json theirs = nlohmann::json::parse(text);
    if (!stopped) stopped = theirs["stop"].get<int>();
    for (const auto& o : theirs["runs"]) {
      RunOutcome& r = s.res.runs.at(o["index"].get<size_t>());
      r.status = o["status"].get<std::string>();
      r.exit_code = o["exit_code"].get<int>();
      r.signal = o["signal"].get<int>();
      r.last_stderr = o["last_stderr"].get<std::string>();
      r.seconds = o["seconds"].get<double>();
    }
  }
  return stopped;
}

// Rank 0: summary.json, plots, report.md, and the runs without a result.
void write_outputs(Session& s) {
  CompareResult& res = s.res;
  nlohmann::ordered_json summary = summarize_compare(s.cc, res.out_dir, res.runs);
  res.summary_path = (fs::path(res.out_dir) / "summary.json").string();
  write_file_atomic(res.summary_path, summary.dump(2) + "\n");
  const std::string plot_script = s.opt.plot_script.empty() ? default_plot_script() : s.opt.plot_script;
  std::string plots_note = draw_plots(s.opt.python, plot_script, res.out_dir);
  res.plots_ok = plots_note.empty();
  if (!res.plots_ok) s.say("compare: plots are missing: " + plots_note);
  else s.say("compare: plots   " + (fs::path(res.out_dir) / "plots").string() + " (drawn by " + plot_script + ")");
  res.report_path = (fs::path(res.out_dir) / "report.md").string();
  write_file_atomic(res.report_path, render_report(summary, plots_note));
  if (res.incomplete) {
    std::string list;
    for (const auto& o : res.runs)
      if (o.status == "failed" || o.status == "missing")
        list += (list.empty() ? "" : ", ") + run_name(o.neighbour, o.variant, o.point, o.seed) + " (" + o.status + ")";
    s.say("compare: " + std::to_string(res.incomplete) + " run(s) without a result: " + list +
          "; rerun one with --only " + (sweep_points(s.cc).size() > 1 ? "VARIANT/POINT/SEED" : "VARIANT/SEED"));
  }
  s.say("compare: summary " + res.summary_path);
  s.say("compare: report  " + res.report_path);
}

}  // namespace

CompareResult run_compare(const CompareConfig& cc, const CompareOptions& opt) {
  Session s(cc, opt);
  s.res.out_dir = opt.out_dir.empty() ? cc.out_dir : opt.out_dir;
  s.exe = resolve_exe(opt.exe);
  s.jobs = opt.jobs > 0 ? opt.jobs : cc.jobs;
  s.threads = threads_per_run(opt, s.n_ranks, s.jobs);
  s.plan = plan_runs(cc, s.res.out_dir, s.threads);  // validates every run first
  check_only(opt.only, s.plan);  // also under --dry-run: a plan of nothing is a typo
  if (opt.dry_run) {
    // The plan, and nothing else: no folder, no file, no child.
    if (!opt.quiet && s.world.is_root()) std::printf("%s", format_plan(s.plan).c_str()), std::fflush(stdout);
    for (const auto& r : s.plan) s.res.runs.push_back(outcome_of(r, "planned"));
    return s.res;
  }
  fs::create_directories(s.res.out_dir);
  // One comparison per output folder: rank 0 holds the folder's lock (run_lock.h) until the
  // report is written; a second compare exits 2 at once naming its pid. The other ranks
  // wait here, so none starts a run when rank 0 could not lock (its error ends them all).
  std::optional<RunLock> folder_lock;
  if (s.world.is_root()) folder_lock.emplace(s.res.out_dir);
  if (s.n_ranks > 1) s.world.barrier();
  s.rank_tag = s.n_ranks > 1 ? s.world.where() + ": " : "";
  s.res.runs.resize(s.plan.size());
  size_t todo_all = 0;
  const std::vector<size_t> todo = decide(s, todo_all);
  say_plan(s, todo_all);
  const auto wall0 = std::chrono::steady_clock::now();
  run_todo(s, todo);
  int stopped = stop_signal();
  if (s.n_ranks > 1) stopped = gather_outcomes(s, todo, stopped);
  if (stopped != 0) {
    s.res.interrupted_by = stopped;
    for (const auto& o : s.res.runs) s.res.incomplete += o.status != "ok" && o.status != "skipped";
    return s.res;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (todo_all > 0) s.say("compare: runs took " + fmt_seconds(wall) + " wall time");
  for (const auto& o : s.res.runs) s.res.incomplete += o.status == "failed" || o.status == "missing";
  if (!s.world.is_root()) {
    s.world.idle_barrier();  // until rank 0 has written the report
    return s.res;
  }
  write_outputs(s);
  s.world.idle_barrier();
  return s.res;
}

}  // namespace nl
