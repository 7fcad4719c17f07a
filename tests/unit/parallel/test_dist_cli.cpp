// test_dist_cli.cpp — `mpirun -np 2 normlab train` as a user runs it: one run folder that
// matches the single-process run, and the errors of a data-parallel run.
//
// What it checks: the README's command on configs/tiny.json (shortened) writes one run
// folder whose losses and result match `normlab train` without mpirun; a rank that cannot
// read its data ends the job with one line naming that rank, exit code 1, and the last
// checkpoint unchanged; a rank killed outright ends the job, mpirun names it and the signal,
// and rank 0's last checkpoint loads whole; SIGTERM to mpirun stops both ranks after the
// same step, checkpointed, with one line; `mpirun -np 2 normlab bench` is data parallel
// (the single-process first loss); a global batch that does not split over the ranks and a
// train.ranks that is not the launched count are one line naming the key, exit code 2.
// What it does not check: the numerics of K ranks against one (tests/mpi/, the
// mpi_data_parallel CTest test, runs that under mpirun).
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "normlab/train/checkpoint.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::slurp;

namespace {

struct Run {
  int code;
  std::string out, err;
};

// `prefix` (e.g. mpirun ... -np 2) + normlab + args, in `cwd`, capturing stdout and stderr.
// -q: Open MPI's own banner after an abort is left out, so stderr holds normlab's lines.
Run launch(const std::string& prefix, const std::string& args, const fs::path& cwd = fs::temp_directory_path()) {
  static int n = 0;
  const fs::path dir = fs::temp_directory_path() / "normlab_test_dist_cli";
  fs::create_directories(dir);
  const std::string tag = std::to_string(getpid()) + "_" + std::to_string(n++);
  const fs::path out = dir / ("out_" + tag), err = dir / ("err_" + tag);
  const std::string cmd = "cd " + cwd.string() + " && OMP_NUM_THREADS=1 " + prefix + " " + NORMLAB_BINARY +
                          " --threads 1 " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

using testutil::kMpiEnv;
using testutil::kRankAsan;
using testutil::kRankLsan;
const std::string kMpirun = kMpiEnv + NORMLAB_MPIRUN + " -q --allow-run-as-root --oversubscribe -np 2";
const std::string kSrc = NORMLAB_SOURCE_DIR;

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

int normlab_lines(const std::string& s) {
  std::istringstream in(s);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.rfind("normlab", 0) == 0;
  return n;
}

std::vector<std::string> loss_column(const fs::path& metrics) {
  std::istringstream in(slurp(metrics));
  std::string line;
  std::vector<std::string> v;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string step, loss;
    std::getline(ss, step, ',');
    std::getline(ss, loss, ',');
    v.push_back(loss);
  }
  return v;
}

}  // namespace

TEST_CASE("mpirun -np 2 normlab train configs/tiny.json: one run folder, the single-process numbers", "[dist][cli]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_dist_tiny_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string args = "train " + kSrc + "/configs/tiny.json --quiet --set train.steps=60 --out ";
  Run k2 = launch(kMpirun, args + (dir / "k2").string());
  Run k1 = launch("", args + (dir / "k1").string());
  INFO(k2.err);
  REQUIRE(k2.code == 0);
  REQUIRE(k1.code == 0);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir / "k2")) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"checkpoint.safetensors", "config.json", "metrics.csv", "normlab.lock",
                                          "result.json"});
  const std::vector<std::string> l2 = loss_column(dir / "k2" / "metrics.csv"), l1 = loss_column(dir / "k1" / "metrics.csv");
  REQUIRE(l1.size() == 3);
  REQUIRE(l2.size() == l1.size());
  for (size_t i = 0; i < l1.size(); ++i) CHECK(std::stod(l2[i]) == Approx(std::stod(l1[i])).epsilon(1e-5));
  fs::remove_all(dir);
}

TEST_CASE("a rank that cannot read its data ends the job: one line naming the rank, checkpoint intact", "[dist][cli]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_dist_fail_" + std::to_string(getpid()));
  fs::remove_all(dir);
  // Rank 0 runs where the relative task.path exists; rank 1 (Open MPI's MPMD form, its own
  // working directory) where it does not: a host without the data file.
  fs::create_directories(dir / "here" / "data");
  fs::create_directories(dir / "elsewhere");
  fs::copy_file(kSrc + "/tests/fixtures/data/small.tsv", dir / "here" / "data" / "t.tsv");
  const std::string cfg = kSrc + "/configs/tiny.json --quiet --set task.name=text_classify --set task.path=data/t.tsv "
                                 "--set 'task.train_lengths={\"min\":1,\"max\":64}' --set 'task.eval_lengths=[{\"min\":1,\"max\":64}]' "
                                 "--set train.batch_size=4 --set train.steps=4 --set optim.warmup_steps=0 --out " + (dir / "run").string();
  REQUIRE(launch("", "train " + cfg + " --stop-after 2", dir / "here").code == 0);  // steps 1..2 of 4
  const std::string before = slurp(dir / "run" / "checkpoint.safetensors");
  REQUIRE(!before.empty());
  const std::string exe = NORMLAB_BINARY;
  const std::string mpmd = kMpiEnv + NORMLAB_MPIRUN + " -q --allow-run-as-root --oversubscribe -np 1 --wdir " +
                           (dir / "here").string() + " " + exe + " --threads 1 train " + cfg + " --resume : -np 1 --wdir " +
                           (dir / "elsewhere").string();
  Run r = launch(mpmd, "train " + cfg + " --resume", dir);
  INFO(r.err);
  CHECK(r.code == 1);
  // one line from normlab (Open MPI's runtime may add a warning of its own as it tears down)
  CHECK(normlab_lines(r.err) == 1);
  CHECK(r.err.find("normlab: error: rank 1 of 2: ") != std::string::npos);
  CHECK(r.err.find("data/t.tsv") != std::string::npos);
  CHECK(slurp(dir / "run" / "checkpoint.safetensors") == before);
  fs::remove_all(dir);
}

TEST_CASE("a data-parallel config error names the key: batch that does not split, train.ranks", "[dist][cli]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_dist_cfg_" + std::to_string(getpid()));
  const std::string args = "train " + kSrc + "/configs/tiny.json --quiet --out " + dir.string();
  Run odd = launch(kMpirun, args + " --set train.batch_size=31");
  INFO(odd.err);
  CHECK(odd.code == 2);
  CHECK(lines(odd.err) == 1);
  CHECK(odd.err.find("train.batch_size") != std::string::npos);
  Run ranks = launch("", args + " --set train.ranks=2");
  CHECK(ranks.code == 2);
  CHECK(lines(ranks.err) == 1);
  CHECK(ranks.err.find("train.ranks: 2 but this run has 1 process(es); start it with mpirun -np 2") != std::string::npos);
  Run sync = launch("", args + " --set model.norm.sync=true");
  CHECK(sync.code == 2);
  CHECK(sync.err.find("model.norm.sync") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "checkpoint.safetensors"));
  fs::remove_all(dir);
}

TEST_CASE("mpirun -np 2 normlab bench: data parallel, the single-process first loss, its all-reduce reported", "[dist][cli]") {
  Run k2 = launch(kMpirun, "bench --preset small --steps 1 --warmup 1");
  Run k1 = launch("", "bench --preset small --steps 1 --warmup 1");
  INFO(k2.err << k2.out);
  REQUIRE(k2.code == 0);
  REQUIRE(k1.code == 0);
  CHECK(lines(k2.out) == 1);  // rank 0 alone reports
  const nlohmann::json j2 = nlohmann::json::parse(k2.out), j1 = nlohmann::json::parse(k1.out);
  CHECK(j2["ranks"] == 2);
  CHECK_FALSE(j1.contains("ranks"));
  // every gradient of bench-small once, plus one flag per parameter, in float32
  CHECK(j2["allreduce_bytes"].get<double>() > 4.0 * 700000);
  CHECK(j2["first_loss"].get<double>() == Approx(j1["first_loss"].get<double>()).epsilon(1e-6));
}

namespace {

// The pid of the `normlab` rank `rank` whose command line holds `marker`, or -1.
pid_t find_rank(const std::string& marker, int rank) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = slurp(e.path() / "cmdline"), env = slurp(e.path() / "environ");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find("mpirun") != std::string::npos || cmd.find(marker) == std::string::npos) continue;
    const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
    for (size_t at = env.find(want); at != std::string::npos; at = env.find(want, at + 1))
      if ((at == 0 || env[at - 1] == '\0') && (at + want.size() == env.size() || env[at + want.size()] == '\0'))
        return (pid_t)std::stol(name);
  }
  return -1;
}

// Kills and reaps a background job when a test ends early: a failed REQUIRE must not leave
// the job running. Set pid to -1 once the test has reaped it itself.
struct Reap {
  pid_t pid;
  // Wait for the job to end by itself: its wait status (nothing left to kill after).
  int wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  ~Reap() {
    if (pid > 0) kill(pid, SIGKILL), waitpid(pid, nullptr, 0);
  }
};

}  // namespace

TEST_CASE("a rank that dies ends the job: mpirun names the rank and the signal, the last checkpoint is intact", "[dist][cli]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_dist_die_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path run = dir / "run", err = dir / "err";
  // A long run that checkpoints every 2 steps; rank 1 is killed once a checkpoint exists.
  // Without -q: Open MPI's line about the dead rank is what -q hides.
  const std::string mpirun = kMpiEnv + NORMLAB_MPIRUN + " --allow-run-as-root --oversubscribe -np 2";
  const std::string cmd = "OMP_NUM_THREADS=1 " + mpirun + " " + NORMLAB_BINARY + " --threads 1 train " + kSrc +
                          "/configs/tiny.json --quiet --set train.steps=1000000 --set train.checkpoint_every=2 "
                          "--set train.eval_every=0 --out " + run.string() + " >/dev/null 2>" + err.string();
  const pid_t job = fork();
  if (job == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    _exit(127);
  }
  REQUIRE(job > 0);
  Reap reap{job};
  const fs::path ckpt = run / "checkpoint.safetensors";
  pid_t rank1 = -1;
  // no time limit: ctest's timeout is the backstop (a slow machine never fails by timing)
  while (!fs::exists(ckpt) || (rank1 = find_rank(run.string(), 1)) < 0) usleep(20000);
  REQUIRE(kill(rank1, SIGKILL) == 0);
  const int status = reap.wait();
  const std::string e = slurp(err);
  INFO(e);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) != 0));
  // mpirun's one line: "mpirun noticed that process rank 1 with PID <pid> on node <host> exited on
  // signal 9 (Killed)." (inside a block of dashes)
  std::istringstream lines_in(e);
  std::string line;
  bool named = false;
  while (std::getline(lines_in, line))
    named |= line.find("process rank 1 ") != std::string::npos && line.find("signal 9") != std::string::npos;
  CHECK(named);
  // the checkpoint rank 0 last wrote is whole (CRC checked) and resumable
  const nl::SafetensorsFile f = nl::load_safetensors(ckpt.string());
  const int step = std::stoi(f.metadata.at("step"));
  CHECK(step >= 2);
  CHECK(step % 2 == 0);
  fs::remove_all(dir);
}

TEST_CASE("SIGTERM to mpirun: both ranks stop after the same step, rank 0 checkpoints it and says so once", "[dist][cli]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_dist_term_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path run = dir / "run", err = dir / "err";
  std::vector<std::string> argv = {NORMLAB_MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                                   NORMLAB_BINARY, "--threads", "1", "train", kSrc + "/configs/tiny.json",
                                   "--set", "train.steps=1000000", "--set", "train.checkpoint_every=1000000",
                                   "--set", "train.eval_every=0", "--set", "train.log_every=5",
                                   "--quiet", "--out", run.string()};
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  const pid_t job = fork();
  if (job == 0) {
    const int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fe, 2);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("ASAN_OPTIONS", kRankAsan.c_str(), 1);
    setenv("LSAN_OPTIONS", kRankLsan.c_str(), 1);
    execv(a[0], a.data());
    _exit(127);
  }
  REQUIRE(job > 0);
  Reap reap{job};
  // a few logged steps first (no time limit: ctest's timeout is the backstop)
  auto rows = [&] {
    const std::string m = slurp(run / "metrics.csv");
    return std::count(m.begin(), m.end(), '\n');
  };
  while (rows() < 3) usleep(20000);
  REQUIRE(kill(job, SIGTERM) == 0);
  reap.wait();  // the ranks have stopped; their exit code is not what this test is about
  const std::string e = slurp(err);
  INFO(e);
  // one line from normlab, naming the step it stopped after
  const std::string tag = "normlab: interrupted at step ";
  const size_t at = e.find(tag);
  REQUIRE(at != std::string::npos);
  CHECK(e.find(tag, at + 1) == std::string::npos);
  const int step = std::stoi(e.substr(at + tag.size()));
  const nl::SafetensorsFile f = nl::load_safetensors((run / "checkpoint.safetensors").string());
  CHECK(std::stoi(f.metadata.at("step")) == step);  // written at the step both ranks stopped after
  fs::remove_all(dir);
}
