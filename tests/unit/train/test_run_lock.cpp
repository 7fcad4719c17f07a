// test_run_lock.cpp — one writer per run folder: a second `train` on a folder in use exits 2
// at once naming the holder's pid, and the first run loses no metrics row; a lock left by a
// killed run does not block the next one.
//
// What it is not: signals (test_signals.cpp) nor resume checks (test_resume.cpp).
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <string>

#include "normlab/core/error.h"
#include "normlab/train/run_lock.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::TempDir;

namespace {
const std::string kTiny = std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json";
}

TEST_CASE("RunLock: one holder at a time, the holder's pid is named, released on destruction", "[lock]") {
  TempDir t("lock_unit");
  const std::string dir = t.dir.string();
  CHECK(nl::RunLock::holder(dir) == 0);
  {
    nl::RunLock first(dir);
    CHECK(nl::RunLock::holder(dir) == (long)getpid());
    try {
      nl::RunLock second(dir);  // another open file description: flock refuses it
      FAIL("a second lock on the same folder was granted");
    } catch (const nl::UserError& e) {
      CHECK(e.code == 2);
      CHECK(std::string(e.what()) == dir + " is in use by another normlab process (pid " + std::to_string(getpid()) +
                                         "); wait for it to finish or use another --out");
    }
  }
  CHECK(nl::RunLock::holder(dir) == 0);
  nl::RunLock again(dir);  // free again
}

TEST_CASE("two trains on one folder: the second exits 2 at once naming the first's pid, no row is lost", "[lock]") {
  TempDir t("lock_two");
  const fs::path run = t / "run";
  const std::vector<std::string> args = {"train", kTiny, "--quiet", "--out", run.string(), "--set", "train.steps=600",
                                         "--set", "train.log_every=30", "--set", "train.eval_every=0"};
  testutil::Child first(args, t / "first");
  testutil::wait_until([&] { return testutil::data_rows(run / "metrics.csv") >= 1 || !first.running(); });
  // Freeze the first run so it certainly holds the folder while the second one starts.
  REQUIRE(first.stop());
  testutil::Run second = testutil::normlab("train " + kTiny + " --quiet --out " + run.string() +
                                           " --set train.steps=600 --set train.log_every=30 --set train.eval_every=0");
  first.resume();
  INFO(second.err);
  CHECK(second.code == 2);
  CHECK(second.err == "normlab: error: " + run.string() + " is in use by another normlab process (pid " +
                          std::to_string(first.pid) + "); wait for it to finish or use another --out\n");
  REQUIRE(first.wait() == 0);
  // Every row of the first run is there, once, in order (before: the second run rewrote
  // metrics.csv under the first, and the first's later rows went to the replaced file).
  std::ifstream in(run / "metrics.csv");
  std::string line;
  std::getline(in, line);
  CHECK(line.rfind("step,loss,", 0) == 0);
  int expect = 30;
  while (std::getline(in, line)) {
    CHECK(line.rfind(std::to_string(expect) + ",", 0) == 0);
    expect += 30;
  }
  CHECK(expect == 630);
  CHECK(fs::exists(run / "result.json"));

  // The same for `--resume` of a folder in use (it would otherwise truncate metrics.csv).
  testutil::Child third({"train", kTiny, "--quiet", "--out", run.string(), "--set", "train.steps=1200", "--set",
                         "train.log_every=30", "--set", "train.eval_every=0", "--resume"},
                        t / "third");
  testutil::wait_until([&] { return testutil::data_rows(run / "metrics.csv") > 20 || !third.running(); });
  REQUIRE(third.stop());
  testutil::Run fourth = testutil::normlab("train " + kTiny + " --quiet --out " + run.string() +
                                           " --set train.steps=1200 --set train.log_every=30 --set train.eval_every=0 --resume");
  third.resume();
  CHECK(fourth.code == 2);
  CHECK(fourth.err.find("(pid " + std::to_string(third.pid) + ")") != std::string::npos);
  REQUIRE(third.wait() == 0);
  CHECK(testutil::data_rows(run / "metrics.csv") == 40);
}

TEST_CASE("a run killed with SIGKILL leaves its lock file, which does not block the next run", "[lock]") {
  TempDir t("lock_killed");
  const fs::path run = t / "run";
  testutil::Child first({"train", kTiny, "--quiet", "--out", run.string(), "--set", "train.steps=300", "--set",
                         "train.checkpoint_every=5", "--set", "train.log_every=5"},
                        t / "first");
  testutil::wait_until([&] { return fs::exists(run / "checkpoint.safetensors") || !first.running(); });
  kill(first.pid, SIGKILL);
  CHECK(first.wait() == 128 + SIGKILL);
  CHECK(fs::exists(run / nl::RunLock::kFileName));
  CHECK(nl::RunLock::holder(run.string()) == 0);
  testutil::Run again = testutil::normlab("train " + kTiny + " --quiet --out " + run.string() +
                                          " --set train.steps=300 --set train.checkpoint_every=5 --set train.log_every=5 --resume");
  INFO(again.err);
  CHECK(again.code == 0);
  CHECK(fs::exists(run / "result.json"));
}
