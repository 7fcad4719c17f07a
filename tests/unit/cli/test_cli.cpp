// test_cli.cpp — the `normlab` binary as a user meets it: help, clean one-line errors, eval --data.
//
// What it is not: the in-depth test of each command's logic (test_config.cpp,
// test_train.cpp, test_compare_*.cpp, test_data_*.cpp); these cases run the binary.
#include <catch2/catch.hpp>

#include <regex>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "testutil/process.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string out, err;
};

// Run normlab with `args`, capturing stdout and stderr.
Run normlab(const std::string& args) {
  static int n = 0;
  const fs::path dir = fs::temp_directory_path() / "normlab_test_cli";
  fs::create_directories(dir);
  const std::string tag = std::to_string(getpid()) + "_" + std::to_string(n++);
  const fs::path out = dir / ("out_" + tag), err = dir / ("err_" + tag);
  const std::string cmd = std::string(NORMLAB_BINARY) + " --threads 1 " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const std::string kSrc = NORMLAB_SOURCE_DIR;

}  // namespace

TEST_CASE("normlab --help lists the commands", "[cli]") {
  Run r = normlab("--help");
  CHECK(r.code == 0);
  for (const char* cmd : {"train", "eval", "data", "gradcheck", "bench"}) {
    INFO(cmd);
    CHECK(r.out.find(std::string("  ") + cmd) != std::string::npos);
  }
}

TEST_CASE("gradcheck states its pass rule and each case's tolerances", "[cli]") {
  Run r = normlab("gradcheck --filter exp/size1");
  CHECK(r.code == 0);
  CHECK(r.out.find("An element passes when its absolute error <= atol OR its relative") != std::string::npos);
  CHECK(r.out.find("near-zero gradient") != std::string::npos);
  // the case's line: name, two errors, atol 2e-03 and rtol 2e-02 (GradcheckOptions), OK
  const size_t at = r.out.find("\nexp/size1 ");
  REQUIRE(at != std::string::npos);
  const std::string line = r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  CHECK(line.find("   2e-03    2e-02  OK") == line.size() - 21);
  CHECK(r.out.find("1 cases, 1 passed, 0 failed") != std::string::npos);
}

TEST_CASE("train: --quiet drops the progress, not the results; --verbose adds the resolved config", "[cli]") {
  testutil::TempDir dir("cli_quiet");
  const std::string args = "train " + kSrc + "/configs/tiny.json --set train.steps=4 --set optim.warmup_steps=0 " +
                           "--set train.log_every=1 --out ";
  Run plain = normlab(args + (dir / "plain").string());
  Run quiet = normlab(args + (dir / "quiet").string() + " --quiet");
  Run verbose = normlab(args + (dir / "verbose").string() + " --verbose");
  for (const Run* r : {&plain, &quiet, &verbose}) {
    INFO(r->out << r->err);
    CHECK(r->code == 0);
    CHECK(r->out.find("finished 4 steps") != std::string::npos);   // the result table, every time
    CHECK(r->out.find("\nsplit          lengths") != std::string::npos);
  }
  CHECK(plain.err.find("step 4/4") != std::string::npos);  // progress on stderr
  CHECK(quiet.err.empty());
  // The resolved config: saved in the run folder always, printed first with --verbose only.
  CHECK(plain.out.find("\"d_model\"") == std::string::npos);
  CHECK(quiet.out.find("\"d_model\"") == std::string::npos);
  CHECK(verbose.out.rfind("{\n  \"", 0) == 0);  // the JSON comes first
  CHECK(verbose.out.find("\"d_model\"") < verbose.out.find("finished 4 steps"));
  CHECK(testutil::slurp(dir / "quiet" / "config.json").find("\"d_model\"") != std::string::npos);
  CHECK(lines(plain.out) < 20);  // the table is in view, not after 90 lines of JSON
}

TEST_CASE("bench reports its steps on stderr, the result alone on stdout", "[cli]") {
  Run r = normlab("bench --preset small --steps 1 --warmup 1");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(lines(r.out) == 1);  // the JSON line
  CHECK(r.out.rfind("{\"preset\": \"small\"", 0) == 0);
  CHECK(r.err.find("bench: step 2/2 (timed), ") != std::string::npos);
}

TEST_CASE("a broken config is one line on stderr, exit 2, and nothing written", "[cli]") {
  const fs::path out = testutil::unique_temp("cli_broken_run");
  fs::remove_all(out);
  for (const char* set : {"model.norm.type=batchnrom", "model.nope=1", "train.steps=-5", "model.heads=3"}) {
    Run r = normlab("train " + kSrc + "/configs/tiny.json --out " + out.string() + " --set " + set);
    INFO(set << " -> " << r.err);
    CHECK(r.code == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("normlab: error: ", 0) == 0);
    CHECK_FALSE(fs::exists(out));
  }
  Run missing = normlab("train /nonexistent/config.json");
  CHECK(missing.code == 2);
  CHECK(lines(missing.err) == 1);
  CHECK(missing.err.find("/nonexistent/config.json") != std::string::npos);
}

TEST_CASE("eval on exported data reproduces the training run's evaluation", "[cli]") {
  const fs::path dir = testutil::unique_temp("cli_eval");
  fs::remove_all(dir);
  const std::string cfg = kSrc + "/configs/tiny.json";
  REQUIRE(normlab("train " + cfg + " --quiet --out " + (dir / "run").string() + " --set train.steps=60").code == 0);
  REQUIRE(normlab("data export " + cfg + " --out " + (dir / "data").string()).code == 0);
  const std::string ckpt = (dir / "run" / "checkpoint.safetensors").string();
  Run builtin = normlab("eval " + cfg + " --checkpoint " + ckpt + " --json " + (dir / "a.json").string());
  Run file = normlab("eval " + cfg + " --checkpoint " + ckpt + " --data " + (dir / "data" / "eval_len_17_32.tsv").string() +
                     " --json " + (dir / "b.json").string());
  REQUIRE(builtin.code == 0);
  REQUIRE(file.code == 0);
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  // The same examples through the file give the same loss and accuracy as the built-in split.
  const nlohmann::json a = nlohmann::json::parse(read(dir / "a.json")), b = nlohmann::json::parse(read(dir / "b.json"));
  REQUIRE(a.size() == 2);
  REQUIRE(a[1]["split"] == "len_17_32");
  REQUIRE(b.size() == 1);
  CHECK(a[1]["loss"] == b[0]["loss"]);
  CHECK(a[1]["accuracy"] == b[0]["accuracy"]);
  CHECK(a[1]["count"] == b[0]["count"]);
  CHECK(a[1]["by_length"] == b[0]["by_length"]);

  Run bad = normlab("eval " + cfg + " --checkpoint " + (dir / "nope.safetensors").string());
  CHECK(bad.code != 0);
  CHECK(lines(bad.err) == 1);
}
