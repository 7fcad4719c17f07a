// test_signals.cpp — SIGTERM and SIGINT stop a run cleanly: the step in progress finishes, a
// checkpoint is written, the resume command is printed, the exit code is 143 / 130, and the
// resumed run is bit-identical to one never interrupted. compare passes the stop on to its
// children, and killing compare leaves none running.
//
// What it is not: the lock (test_run_lock.cpp) nor resume's checks (test_resume.cpp). The
// children are frozen with SIGSTOP before they are signalled, so no assertion depends on
// how fast this machine is.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>

#include "normlab/compare/compare.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/run_lock.h"
#include "testutil/process.h"
#include "testutil/runs.h"

namespace fs = std::filesystem;
using testutil::metrics_without_speed;
using testutil::slurp;
using testutil::TempDir;

namespace {

const std::string kTiny = std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json";

int checkpoint_step(const fs::path& run) {
  return std::stoi(nl::load_safetensors((run / "checkpoint.safetensors").string()).metadata.at("step"));
}

// Start `args`, wait until metrics.csv has more than `rows_before` rows, freeze the run, send
// `sig`, let it go on; return its exit code.
int interrupt_mid_run(const std::vector<std::string>& args, const fs::path& run, int rows_before, int sig,
                      const fs::path& log, std::string* err) {
  testutil::Child c(args, log);
  testutil::wait_until([&] { return testutil::data_rows(run / "metrics.csv") > rows_before || !c.running(); });
  REQUIRE(c.stop());  // alive and frozen: the signal lands mid-run
  kill(c.pid, sig);
  c.resume();
  const int code = c.wait();
  *err = slurp(c.err);
  return code;
}

}  // namespace

TEST_CASE("SIGTERM then SIGINT mid-run: checkpoint, exit 143/130, resume is bit-identical", "[signals]") {
  TempDir t("signals_train");
  // BatchNorm buffers and dropout make the bit-identical claim cover the RNG and buffers too.
  const std::vector<std::string> sets = {"--set", "model.norm.type=batchnorm", "--set", "model.dropout=0.1",
                                         "--set", "train.steps=300",           "--set", "train.log_every=10"};
  auto args = [&](const fs::path& out, bool resume) {
    std::vector<std::string> a = {"train", kTiny};
    a.insert(a.end(), sets.begin(), sets.end());
    a.insert(a.end(), {"--out", out.string()});
    if (resume) a.push_back("--resume");
    return a;
  };
  const fs::path straight = t / "straight", run = t / "run";
  {
    testutil::Child c(args(straight, false), t / "straight");
    REQUIRE(c.wait() == 0);
  }

  // SIGTERM: 143, a checkpoint at the step it stopped after, the command to resume.
  std::string err;
  CHECK(interrupt_mid_run(args(run, false), run, 0, SIGTERM, t / "first", &err) == 143);
  const int n1 = checkpoint_step(run);
  INFO(err);
  CHECK(n1 >= 10);
  CHECK(n1 < 300);
  CHECK(err.find("normlab: interrupted at step " + std::to_string(n1) + " by SIGTERM; resume with: normlab train " +
                 kTiny + " --set model.norm.type=batchnorm --set model.dropout=0.1 --set train.steps=300"
                 " --set train.log_every=10 --out " + run.string() + " --resume\n") != std::string::npos);
  CHECK_FALSE(fs::exists(run / "result.json"));

  // Resumed, then SIGINT: 130, a later checkpoint.
  const int rows = testutil::data_rows(run / "metrics.csv");
  CHECK(interrupt_mid_run(args(run, true), run, rows, SIGINT, t / "second", &err) == 130);
  const int n2 = checkpoint_step(run);
  CHECK(n2 > n1);
  CHECK(err.find("normlab: interrupted at step " + std::to_string(n2) + " by SIGINT; resume with: ") != std::string::npos);

  // Resumed to the end: the same weights, buffers, optimizer state and metrics as never stopped.
  {
    testutil::Child c(args(run, true), t / "third");
    REQUIRE(c.wait() == 0);
  }
  nl::SafetensorsFile a = nl::load_safetensors((straight / "checkpoint.safetensors").string());
  nl::SafetensorsFile b = nl::load_safetensors((run / "checkpoint.safetensors").string());
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (auto& [name, x] : a.tensors) {
    INFO(name);
    REQUIRE(b.tensors.count(name));
    const nl::Tensor& y = b.tensors.at(name);
    REQUIRE(x.shape() == y.shape());
    CHECK(std::memcmp(x.data(), y.data(), x.numel() * sizeof(float)) == 0);
  }
  CHECK(a.metadata.at(nl::kDataCrc32Key) == b.metadata.at(nl::kDataCrc32Key));
  CHECK(metrics_without_speed(straight / "metrics.csv") == metrics_without_speed(run / "metrics.csv"));
  CHECK(slurp(straight / "result.json").find("\"steps\": 300") != std::string::npos);
  // result.json: evaluation and the jitter over all 30 logged steps, as never stopped.
  const nlohmann::json ra = nlohmann::json::parse(slurp(straight / "result.json"));
  const nlohmann::json rb = nlohmann::json::parse(slurp(run / "result.json"));
  CHECK(ra["eval"] == rb["eval"]);
  CHECK(ra["bn_jitter"]["layers.0.norm1"]["steps"] == 30);
  CHECK(ra["bn_jitter"].dump() == rb["bn_jitter"].dump());
}

TEST_CASE("kill -9 mid-run, then --resume from the last checkpoint: result.json as never killed", "[signals]") {
  TempDir t("signals_kill9");
  const std::vector<std::string> sets = {"--set", "model.norm.type=batchnorm", "--set", "model.dropout=0.1",
                                         "--set", "train.steps=300",           "--set", "train.log_every=10",
                                         "--set", "train.checkpoint_every=40"};
  auto args = [&](const fs::path& out, bool resume) {
    std::vector<std::string> a = {"train", kTiny};
    a.insert(a.end(), sets.begin(), sets.end());
    a.insert(a.end(), {"--out", out.string()});
    if (resume) a.push_back("--resume");
    return a;
  };
  const fs::path straight = t / "straight", run = t / "run";
  {
    testutil::Child c(args(straight, false), t / "straight");
    REQUIRE(c.wait() == 0);
  }
  std::string err;
  // 5 rows: step 50, so the checkpoint of step 40 exists; no chance to write anything more.
  CHECK(interrupt_mid_run(args(run, false), run, 4, SIGKILL, t / "first", &err) == 128 + SIGKILL);
  const int at = checkpoint_step(run);
  CHECK(at >= 40);
  CHECK(at < 300);
  CHECK_FALSE(fs::exists(run / "result.json"));
  {
    testutil::Child c(args(run, true), t / "second");
    REQUIRE(c.wait() == 0);
  }
  const nlohmann::json ra = nlohmann::json::parse(slurp(straight / "result.json"));
  const nlohmann::json rb = nlohmann::json::parse(slurp(run / "result.json"));
  CHECK(ra["eval"] == rb["eval"]);
  CHECK(ra["final_train_loss"] == rb["final_train_loss"]);
  CHECK(ra["bn_jitter"]["layers.0.norm2"]["steps"] == 30);
  CHECK(ra["bn_jitter"].dump() == rb["bn_jitter"].dump());
  CHECK(metrics_without_speed(straight / "metrics.csv") == metrics_without_speed(run / "metrics.csv"));
}

namespace {

// A compare of two real training runs (tiny.json, 300 steps each, both at once).
struct CompareFixture {
  TempDir t{"signals_compare"};
  fs::path cfg = t / "cmp.json", out = t / "out";
  std::vector<fs::path> runs = {out / "ln" / "seed1", out / "rms" / "seed1"};
  CompareFixture() {
    std::ofstream(cfg) << R"({"base": ")" << kTiny << R"(", "variants": {"ln": {"model.norm.type": "layernorm"},
      "rms": {"model.norm.type": "rmsnorm"}}, "seeds": [1], "target_loss": 0.5, "jobs": 2})";
  }
  std::vector<std::string> args() const { return {"compare", cfg.string(), "--out", out.string()}; }
  // Wait until both runs train (lock held, a metrics row written), freeze them; their pids.
  std::vector<pid_t> freeze_runs(testutil::Child& compare) {
    std::vector<pid_t> pids;
    for (const fs::path& r : runs) {
      testutil::wait_until([&] {
        return (nl::RunLock::holder(r.string()) > 0 && testutil::data_rows(r / "metrics.csv") >= 1) ||
               !compare.running();
      });
      const pid_t pid = (pid_t)nl::RunLock::holder(r.string());
      REQUIRE(pid > 0);
      REQUIRE(testutil::freeze(pid));
      pids.push_back(pid);
    }
    return pids;
  }
  // Each run stopped itself after a step, with a checkpoint, and holds nothing any more.
  void check_stopped_cleanly() {
    for (const fs::path& r : runs) {
      INFO(r);
      testutil::wait_until([&] { return nl::RunLock::holder(r.string()) == 0; });
      const std::string err = slurp(r / "stderr.log");
      INFO(err);
      CHECK(err.find("normlab: interrupted at step ") != std::string::npos);
      CHECK(err.find(" by SIGTERM; resume with: ") != std::string::npos);
      CHECK_FALSE(fs::exists(r / "result.json"));
      CHECK(checkpoint_step(r) > 0);
      CHECK(checkpoint_step(r) < 300);
    }
  }
};

}  // namespace

TEST_CASE("SIGTERM to compare stops its runs with checkpoints, and a rerun resumes them to the end", "[signals][compare]") {
  CompareFixture f;
  testutil::Child compare(f.args(), f.t / "compare");
  std::vector<pid_t> pids = f.freeze_runs(compare);
  REQUIRE(compare.running());
  kill(compare.pid, SIGTERM);  // forwarded to the (frozen) runs as SIGTERM
  for (pid_t p : pids) kill(p, SIGCONT);
  CHECK(compare.wait() == 143);
  CHECK(slurp(compare.err).find("compare interrupted by SIGTERM") != std::string::npos);
  for (pid_t p : pids) {
    const char st = testutil::proc_state(p);
    CHECK((st == 0 || st == 'Z'));  // no child left running
  }
  f.check_stopped_cleanly();

  // The rerun resumes both (never records a half-length run as finished) and finishes them.
  testutil::Child rerun(f.args(), f.t / "rerun");
  CHECK(rerun.wait() == 0);
  for (const fs::path& r : f.runs) {
    INFO(r);
    CHECK(slurp(r / "stderr.log").find("resuming") != std::string::npos);
    CHECK(slurp(r / "result.json").find("\"steps\": 300") != std::string::npos);
  }
}

TEST_CASE("compare killed with SIGKILL: the kernel stops its runs (PR_SET_PDEATHSIG), none keeps running", "[signals][compare]") {
  CompareFixture f;
  testutil::Child compare(f.args(), f.t / "compare");
  std::vector<pid_t> pids = f.freeze_runs(compare);
  kill(compare.pid, SIGKILL);
  CHECK(compare.wait() == 128 + SIGKILL);
  for (pid_t p : pids) kill(p, SIGCONT);  // the runs now see the SIGTERM the kernel sent
  // Before: the runs trained on to the end, orphaned. Now each stops after its step.
  f.check_stopped_cleanly();
}

TEST_CASE("compare rerun: a run whose result.json stops short of train.steps is not finished", "[compare]") {
  // A stand-in trainer (as in test_compare_runner.cpp): records each call, writes the result
  // of a run of 20 steps, as its config asks.
  TempDir t("signals_halfrun");
  const fs::path exe = t / "fake_normlab.sh", out = t / "out";
  std::ofstream(exe) << "#!/bin/sh\ndir=\"$6\"\necho \"$@\" >> \"$dir/../../calls.txt\"\n"
                        "printf 'step,loss\\n20,0.5\\n' > \"$dir/metrics.csv\"\n"
                        "echo '{\"steps\": 20}' > \"$dir/result.json\"\n";
  fs::permissions(exe, fs::perms::owner_all);
  nlohmann::ordered_json j;
  j["base"] = nlohmann::ordered_json::parse(R"({"train": {"steps": 20}})");
  j["variants"] = nlohmann::ordered_json::parse(R"({"a": {}, "b": {}})");
  j["seeds"] = {1};
  j["target_loss"] = 0.5;
  j["out_dir"] = out.string();
  const nl::CompareConfig cc = nl::compare_config_from_json(j, "half.json", "");
  nl::CompareOptions opt;
  opt.exe = exe.string();
  opt.plot_script = (t / "none.py").string();
  opt.quiet = true;
  auto calls = [&] { return testutil::count_lines(slurp(out / "calls.txt")); };

  nl::CompareResult r = nl::run_compare(cc, opt);
  REQUIRE(calls() == 2);
  // Run a/seed1 was cut short: its result.json says 10 steps (a folder from an older,
  // shorter run, or one written while another process trained on).
  std::ofstream(out / "a" / "seed1" / "result.json") << "{\"steps\": 10}\n";
  r = nl::run_compare(cc, opt);
  CHECK(calls() == 3);  // a/seed1 rerun, b/seed1 skipped
  for (const auto& o : r.runs) CHECK(o.status == (o.variant == "a" ? "ok" : "skipped"));

  // A run whose trainer exits 0 without reaching train.steps is reported, not recorded as ok.
  std::ofstream(exe) << "#!/bin/sh\ndir=\"$6\"\necho '{\"steps\": 7}' > \"$dir/result.json\"\n";
  fs::remove(out / "b" / "seed1" / "result.json");
  r = nl::run_compare(cc, opt);
  for (const auto& o : r.runs)
    if (o.variant == "b") {
      CHECK(o.status == "failed");
      CHECK(o.last_stderr == "exited 0 but its result.json does not reach train.steps");
    }
}
