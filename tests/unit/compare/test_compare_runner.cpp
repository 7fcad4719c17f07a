// test_compare_runner.cpp — the compare runner: child processes, skipping finished runs,
// rerunning deleted ones, --only, failed and killed runs reported, plots drawn or reported
// missing.
//
// What it is not: a test of training. The children are a stand-in trainer (a shell script
// writing the documented run folder), so this tests the machinery; test_compare_e2e.cpp
// runs the real one.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/compare/compare.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// Mimics `normlab --threads T train CONFIG --out DIR [--resume]`: fails when train.steps is
// 13, kills itself when it is 14, else writes metrics.csv (loss depends on the seed) and
// result.json. Every call appends a line to <DIR>/../../calls.txt.
const char* kFakeTrainer = R"(#!/bin/sh
cfg="$4"; dir="$6"
echo "$@" > "$dir/argv.txt"
echo "$dir" >> "$dir/../../calls.txt"
if grep -q '"steps": 13' "$cfg"; then echo "step 1"; echo "warming up" >&2; echo "normlab: error: loss is NaN at step 13" >&2; exit 1; fi
if grep -q '"steps": 14' "$cfg"; then kill -9 $$; fi
seed=$(grep -o '"seed": [0-9]*' "$cfg" | head -n 1 | grep -o '[0-9]*$')
printf 'step,loss,lr,grad_norm,tokens_per_s,eval_loss/len_4_8,eval_acc/len_4_8\n' > "$dir/metrics.csv"
printf '10,1.5,0.001,1.0,100,,\n20,0.%s,0.001,0.5,100,0.6,0.7\n' "$seed" >> "$dir/metrics.csv"
echo '{"steps": 20}' > "$dir/result.json"
)";

struct Fixture {
  fs::path root, out, exe;
  Fixture(const std::string& name) {
    root = fs::temp_directory_path() / ("normlab_test_compare_runner_" + name);
    fs::remove_all(root);
    fs::create_directories(root);
    out = root / "out";
    exe = root / "fake_normlab.sh";
    std::ofstream(exe) << kFakeTrainer;
    fs::permissions(exe, fs::perms::owner_all);
  }
  ~Fixture() { fs::remove_all(root); }
  int calls() const {
    std::ifstream in(out / "calls.txt");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) ++n;
    return n;
  }
  nl::CompareOptions options(const std::string& only = "") const {
    nl::CompareOptions o;
    o.exe = exe.string();
    o.plot_script = (root / "no_such_plot_script.py").string();
    o.cores = 2;
    o.quiet = true;
    o.only = only;
    return o;
  }
  nl::CompareConfig config(const ojson& variants) const {
    ojson j;
    j["base"] = ojson::parse(R"({"train": {"steps": 20}})");
    j["variants"] = variants;
    j["seeds"] = {1, 2};
    j["target_loss"] = 0.5;
    j["out_dir"] = out.string();
    j["jobs"] = 2;
    return nl::compare_config_from_json(j, "runner.json", "");
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const nl::RunOutcome& outcome(const nl::CompareResult& r, const std::string& v, uint64_t seed) {
  for (const auto& o : r.runs)
    if (o.variant == v && o.seed == seed) return o;
  throw std::runtime_error("no outcome");
}

}  // namespace

TEST_CASE("compare runner: runs, skips finished runs, reruns deleted ones and --only", "[compare]") {
  Fixture f("basic");
  ojson variants = ojson::parse(R"({"a": {"model.norm.type": "layernorm"}, "b": {"model.norm.type": "batchnorm"}})");
  nl::CompareConfig cc = f.config(variants);

  nl::CompareResult r = nl::run_compare(cc, f.options());
  CHECK(f.calls() == 4);
  CHECK(r.incomplete == 0);
  for (const auto& o : r.runs) CHECK(o.status == "ok");
  // each child got its resolved config and folder, one thread each (2 cores / 2 jobs)
  fs::path run = nl::run_dir_for(f.out.string(), "b", 2);
  CHECK(read_file(run / "argv.txt") == "--threads 1 train " + (run / "compare_config.json").string() + " --out " +
                                           run.string() + "\n");
  nlohmann::json resolved = nlohmann::json::parse(read_file(run / "compare_config.json"));
  CHECK(resolved["train"]["seed"] == 2);
  CHECK(resolved["train"]["out_dir"] == run.string());
  CHECK(resolved["model"]["norm"]["type"] == "batchnorm");
  // summary and report exist, and the summary reads what the children wrote
  ojson S = ojson::parse(read_file(f.out / "summary.json"));
  CHECK(S["variants"][1]["points"][0]["runs"][1]["final_train_loss"].get<double>() == Approx(0.2));
  CHECK(S["variants"][1]["points"][0]["runs"][0]["steps_to_target"] == 20);
  std::string md = read_file(f.out / "report.md");
  CHECK(md.find("Plots are missing: the plot script") != std::string::npos);
  CHECK_FALSE(r.plots_ok);

  // a rerun skips every finished run
  r = nl::run_compare(cc, f.options());
  CHECK(f.calls() == 4);
  for (const auto& o : r.runs) CHECK(o.status == "skipped");

  // a deleted run folder is rerun, and only that one
  fs::remove_all(nl::run_dir_for(f.out.string(), "a", 1));
  r = nl::run_compare(cc, f.options());
  CHECK(f.calls() == 5);
  CHECK(outcome(r, "a", 1).status == "ok");
  CHECK(outcome(r, "b", 1).status == "skipped");

  // --only reruns a finished run
  r = nl::run_compare(cc, f.options("b/seed2"));
  CHECK(f.calls() == 6);
  CHECK(outcome(r, "b", 2).status == "ok");
  CHECK(outcome(r, "a", 2).status == "skipped");
  // --only that names no run is a usage error
  try {
    nl::run_compare(cc, f.options("c/1"));
    FAIL("--only c/1 accepted");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()).find("--only: 'c/1' names no run") != std::string::npos);
  }

  // a changed variant is rerun, not skipped with stale results
  variants["a"]["model.norm.type"] = "rmsnorm";
  r = nl::run_compare(f.config(variants), f.options());
  CHECK(f.calls() == 8);
  CHECK(outcome(r, "a", 1).status == "ok");
  CHECK(outcome(r, "b", 1).status == "skipped");
}

TEST_CASE("compare runner: failed and killed runs are reported, the rest still summarised", "[compare]") {
  Fixture f("failures");
  ojson variants = ojson::parse(R"({"good": {}, "nan": {"train.steps": 13}, "killed": {"train.steps": 14}})");
  nl::CompareConfig cc = f.config(variants);
  nl::CompareResult r = nl::run_compare(cc, f.options());
  CHECK(f.calls() == 6);
  CHECK(r.incomplete == 4);
  CHECK(outcome(r, "good", 1).status == "ok");
  const nl::RunOutcome& nan = outcome(r, "nan", 2);
  CHECK(nan.status == "failed");
  CHECK(nan.exit_code == 1);
  CHECK(nan.last_stderr == "normlab: error: loss is NaN at step 13");
  const nl::RunOutcome& killed = outcome(r, "killed", 1);
  CHECK(killed.status == "failed");
  CHECK(killed.signal == 9);
  CHECK(killed.exit_code == 137);

  ojson S = ojson::parse(read_file(f.out / "summary.json"));
  CHECK(S["variants"][0]["points"][0]["stats"]["finished"] == 2);
  CHECK(S["variants"][1]["points"][0]["runs"][0]["status"] == "failed");
  CHECK(S["variants"][2]["points"][0]["runs"][1]["signal"] == 9);
  std::string md = read_file(f.out / "report.md");
  CHECK(md.find("| nan | 1 | failed | 1 | normlab: error: loss is NaN at step 13 |") != std::string::npos);
  CHECK(md.find("| killed | 2 | failed | 137 |") != std::string::npos);

  // the failed runs are retried on the next invocation; the finished ones are not
  r = nl::run_compare(cc, f.options());
  CHECK(f.calls() == 10);
  CHECK(outcome(r, "good", 2).status == "skipped");
}

TEST_CASE("compare runner: the plot script draws PNGs into <out>/plots", "[compare]") {
  Fixture f("plots");
  nl::CompareConfig cc = f.config(ojson::parse(R"({"a": {}, "b": {}})"));
  nl::CompareOptions opt = f.options();
  opt.plot_script = std::string(NORMLAB_TEST_DIR) + "/../scripts/plot_compare.py";
  nl::CompareResult r = nl::run_compare(cc, opt);
  std::string md = read_file(f.out / "report.md");
  if (r.plots_ok) {
    CHECK(fs::file_size(f.out / "plots" / "loss.png") > 1000);
    CHECK(fs::file_size(f.out / "plots" / "eval_acc.png") > 1000);
    CHECK(md.find("![training loss](plots/loss.png)") != std::string::npos);
  } else {  // no matplotlib on this machine: the report must say so
    CHECK(md.find("Plots are missing: ") != std::string::npos);
  }
}
