// test_dist_cli.cpp — `mpirun -np 2 normlab train` as a user runs it: one run folder that
// matches the single-process run, and the errors of a data-parallel run.
//
// What it checks: the README's command on configs/tiny.json (shortened) writes one run
// folder whose losses and result match `normlab train` without mpirun; a rank that cannot
// read its data ends the job with one line naming that rank, exit code 1, and the last
// checkpoint unchanged; a global batch that does not split over the ranks and a
// train.ranks that is not the launched count are one line naming the key, exit code 2.
// What it does not check: the numerics of K ranks against one (tests/mpi/, the
// mpi_data_parallel CTest test, runs that under mpirun).
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

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

const std::string kMpirun = std::string(NORMLAB_MPIRUN) + " -q --allow-run-as-root --oversubscribe -np 2";
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
  const std::string mpmd = std::string(NORMLAB_MPIRUN) + " -q --allow-run-as-root --oversubscribe -np 1 --wdir " +
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
