// test_nothing_lost.cpp — a run is never lost by accident, and every input is checked the
// same way: one case per finding of issue 22 ("Why"), each run as a user would.
//
// What it checks: init/train refuse a folder that holds a run (--resume or --overwrite to go
// on); a second compare on one output folder exits 2 naming the first's pid, and compare
// removes a run's old files only under the run's lock (a hook at that moment, another
// process trying to take the lock); a sweep over the run cap is refused before it is
// built; nan/inf and out-of-range integers on the command line are usage errors (exit 2,
// one line, short numbers); predict --input takes
// only a regular file (or stdin) and escapes control characters in what it echoes;
// invalid UTF-8 in data is one line naming the file, line and offset, before a run folder
// exists. Cases that could hang run the binary under coreutils `timeout`.
// What it is not: the checkpoint checksum (test_checkpoint.cpp) nor the Python reader
// (test_python_reader.cpp).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "normlab/compare/compare.h"
#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/train/run_lock.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kSrc = NORMLAB_SOURCE_DIR;
const std::string kTiny = kSrc + "/configs/tiny.json";
const std::string kShort = " --set train.steps=3 --set optim.warmup_steps=0 --set train.log_every=1";

struct Run {
  int code;  // exit code; 124 = killed by the watchdog (a hang); -1 = died of a signal
  std::string out, err;
};

// normlab as a child process under a 60 s watchdog, stdin from `in` (default /dev/null).
Run normlab(const std::string& args, const testutil::TempDir& t, const std::string& in = "/dev/null") {
  static int n = 0;
  const std::string tag = std::to_string(n++);
  const std::string out = (t / ("stdout_" + tag)).string(), err = (t / ("stderr_" + tag)).string();
  const std::string cmd = "timeout -k 5 60 " + std::string(NORMLAB_BINARY) + " --threads 1 " + args + " >" + out +
                          " 2>" + err + " <" + in;
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, testutil::slurp(out), testutil::slurp(err)};
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Every file of a folder and its bytes (the lock file aside: its content is a pid).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != nl::RunLock::kFileName) files[e.path().filename().string()] = testutil::slurp(e.path());
  return files;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A tiny text_classify run on tests/fixtures/data/small.tsv: a checkpoint predict can read.
std::string text_classify_run(const testutil::TempDir& t) {
  const std::string run = (t / "tc_run").string();
  Run r = normlab("train " + kSrc + "/configs/tasks/text_classify.json --quiet --out " + run + kShort +
                      " --set task.path=" + kSrc + "/tests/fixtures/data/small.tsv --set task.eval_path=" + kSrc +
                      "/tests/fixtures/data/eval.tsv --set task.train_lengths='{\"min\":1,\"max\":4}'" +
                      " --set task.eval_lengths='[{\"min\":1,\"max\":4}]' --set train.batch_size=4",
                  t);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return run;
}

}  // namespace

// ---- 1. a run folder is never overwritten by accident ---------------------------------

TEST_CASE("init and train refuse a folder that holds a run; --resume or --overwrite go on", "[nothing_lost]") {
  testutil::TempDir t("refuse_run");
  const fs::path run = t / "run";
  REQUIRE(normlab("train " + kTiny + " --quiet --out " + run.string() + kShort, t).code == 0);
  REQUIRE(fs::exists(run / "result.json"));
  const auto before = snapshot(run);
  const std::string what = run.string() + " holds a run (checkpoint.safetensors, result.json, metrics.csv); " +
                           "continue it with --resume, or start it again with --overwrite\n";

  // init on a finished run used to put its checkpoint back to step 0, delete result.json and
  // cut metrics.csv to its header, exit 0; train without --resume did the same.
  for (const std::string cmd : {"init", "train"}) {
    Run r = normlab(cmd + " " + kTiny + " --out " + run.string() + kShort, t);
    INFO(cmd << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err == "normlab: error: " + what);
    CHECK(snapshot(run) == before);
  }

  // A folder with only a checkpoint (an interrupted run) is a run too.
  const fs::path half = t / "half";
  fs::create_directories(half);
  fs::copy_file(run / "checkpoint.safetensors", half / "checkpoint.safetensors");
  Run r = normlab("train " + kTiny + " --out " + half.string() + kShort, t);
  CHECK(r.code == 2);
  CHECK(r.err == "normlab: error: " + half.string() +
                     " holds a run (checkpoint.safetensors); continue it with --resume, or start it again with "
                     "--overwrite\n");

  // --resume of the finished run: nothing to do, nothing changed.
  r = normlab("train " + kTiny + " --quiet --out " + run.string() + kShort + " --resume", t);
  CHECK(r.code == 0);
  CHECK(snapshot(run) == before);
  // --resume and --overwrite together make no sense.
  r = normlab("train " + kTiny + " --out " + run.string() + kShort + " --resume --overwrite", t);
  CHECK(r.code == 2);
  CHECK(testutil::count_lines(r.err) == 1);
  CHECK(snapshot(run) == before);

  // --overwrite starts again: init writes step 0, train runs the whole run again.
  r = normlab("init " + kTiny + " --out " + run.string() + kShort + " --overwrite", t);
  CHECK(r.code == 0);
  CHECK_FALSE(fs::exists(run / "result.json"));
  r = normlab("train " + kTiny + " --quiet --out " + run.string() + kShort + " --overwrite", t);
  CHECK(r.code == 0);
  CHECK(fs::exists(run / "result.json"));
  // An empty folder, or one with other files only, is not a run.
  const fs::path other = t / "other";
  fs::create_directories(other);
  write_file(other / "notes.txt", "mine\n");
  CHECK(normlab("init " + kTiny + " --out " + other.string() + kShort, t).code == 0);
  CHECK(testutil::slurp(other / "notes.txt") == "mine\n");
}

// ---- 2. one compare per output folder -------------------------------------------------

TEST_CASE("a second compare on one output folder exits 2 at once naming the first's pid", "[nothing_lost][compare]") {
  testutil::TempDir t("compare_lock");
  const fs::path out = t / "cmp";
  fs::create_directories(out);
  // This process holds the folder as a running compare does.
  nl::RunLock first(out.string());
  Run r = normlab("compare " + kSrc + "/tests/configs/tiny_compare.json --out " + out.string(), t);
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK(r.err == "normlab: error: " + out.string() + " is in use by another normlab process (pid " +
                     std::to_string(getpid()) + "); wait for it to finish or use another --out\n");
  // Before: it ran every run, marking none of the first one's as failed only by luck, and
  // wrote its own summary over the first one's.
  CHECK_FALSE(fs::exists(out / "summary.json"));
  CHECK(fs::directory_iterator(out) != fs::directory_iterator());  // the lock file only
  for (const auto& e : fs::directory_iterator(out)) CHECK(e.path().filename() == nl::RunLock::kFileName);
}

// Another process that tries to take a run's lock (as a run of another compare would) and,
// if it gets it, writes the files of its own run and holds the lock until `release`.
struct OtherRun {
  pid_t pid = -1;
  int release = -1;
  bool got_lock = false;
  explicit OtherRun(const fs::path& dir) {
    int said[2], hold[2];
    REQUIRE(::pipe(said) == 0);
    REQUIRE(::pipe(hold) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the child: system calls only
      ::close(said[0]);
      ::close(hold[1]);
      const int lock = ::open((dir / nl::RunLock::kFileName).c_str(), O_RDWR | O_CREAT, 0644);
      const bool mine = lock >= 0 && ::flock(lock, LOCK_EX | LOCK_NB) == 0;
      if (mine)
        for (const char* f : {"config.json", "checkpoint.safetensors"}) {
          const int fd = ::open((dir / f).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
          if (fd >= 0 && ::write(fd, "other\n", 6) == 6) ::close(fd);
        }
      const char c = mine ? 'L' : 'B';
      if (::write(said[1], &c, 1) != 1) ::_exit(1);
      char x;
      while (mine && ::read(hold[0], &x, 1) > 0) {
      }
      ::_exit(0);
    }
    ::close(said[1]);
    ::close(hold[0]);
    release = hold[1];
    char c = 0;
    REQUIRE(::read(said[0], &c, 1) == 1);
    ::close(said[0]);
    got_lock = c == 'L';
  }
  ~OtherRun() {
    ::close(release);  // the child's read ends: it exits, dropping the lock
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
};

TEST_CASE("compare removes a run's old files only while it holds the run's lock", "[nothing_lost][compare]") {
  // Before: the runner asked whether the run's lock was held, then removed the run's files
  // without taking it; another compare's run that took the lock in between lost its
  // config.json and checkpoint (a run once ended with result.json but no config.json).
  // The hook stands at that moment: another process tries to take the lock and, if it
  // gets it, writes its run's files; none of them may be removed.
  testutil::TempDir t("compare_delete_window");
  const fs::path exe = t / "fake_normlab.sh";
  write_file(exe, "#!/bin/sh\necho 'step,loss' > \"$6/metrics.csv\"; echo '1,0.5' >> \"$6/metrics.csv\"\n"
                  "echo '{\"steps\": 1}' > \"$6/result.json\"\n");
  fs::permissions(exe, fs::perms::owner_all);
  nlohmann::ordered_json j;
  j["base"] = nlohmann::ordered_json::parse(R"({"train": {"steps": 1}})");
  j["variants"] = nlohmann::ordered_json::parse(R"({"a": {}})");
  j["seeds"] = {1};
  j["target_loss"] = 0.5;
  j["out_dir"] = (t / "cmp").string();
  const nl::CompareConfig cc = nl::compare_config_from_json(j, "window.json", "");
  nl::CompareOptions opt;
  opt.exe = exe.string();
  opt.plot_script = (t / "no_plot_script.py").string();
  opt.cores = 1;
  opt.quiet = true;
  std::unique_ptr<OtherRun> other;
  int calls = 0;
  opt.before_removing_run_files = [&](const std::string& dir) {
    ++calls;
    other = std::make_unique<OtherRun>(dir);
  };
  const nl::CompareResult r = nl::run_compare(cc, opt);
  REQUIRE(calls == 1);
  const fs::path run = nl::run_dir_for((t / "cmp").string(), "a", 1);
  CHECK_FALSE(other->got_lock);  // the runner held the run's lock while it removed files
  if (other->got_lock)
    for (const char* f : {"config.json", "checkpoint.safetensors"}) {
      INFO(f);
      CHECK(fs::exists(run / f));  // the other run's file survives
    }
  CHECK(r.runs.at(0).status == "ok");
  other.reset();
}

// ---- 3. limits up front ----------------------------------------------------------------

TEST_CASE("a sweep over the run cap is refused before it is built, naming the count", "[nothing_lost][compare]") {
  testutil::TempDir t("sweep_cap");
  json sizes = json::array(), lrs = json::array();
  for (int i = 1; i <= 101; ++i) sizes.push_back(i);
  for (int i = 1; i <= 100; ++i) lrs.push_back(i * 1e-4);
  // (nlohmann::json writes keys sorted: the axes are optim.lr, then train.batch_size)
  json cc = {{"base", kTiny},
             {"variants", {{"ln", {{"model.norm.type", "layernorm"}}}, {"bn", {{"model.norm.type", "batchnorm"}}}}},
             {"seeds", {1}},
             {"target_loss", 0.5},
             {"sweep", {{"train.batch_size", sizes}, {"optim.lr", lrs}}}};
  const fs::path path = t / "big.json";
  write_file(path, cc.dump());
  const std::string what = path.string() +
                           ": 20200 runs (2 variants x 100 optim.lr x 101 train.batch_size x 1 seeds) is more than "
                           "the limit of 10000 runs in one comparison";
  try {
    nl::load_compare_config(path.string());
    FAIL("a 20200-run comparison was accepted");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()) == what);
  }
  Run r = normlab("compare " + path.string() + " --dry-run --out " + (t / "cmp").string(), t);
  CHECK(r.code == 2);
  CHECK(r.err == "normlab: error: " + what + "\n");
  CHECK(r.out.empty());
  CHECK_FALSE(fs::exists(t / "cmp"));
}

// ---- 4 and 8. the command line ---------------------------------------------------------

TEST_CASE("nan and inf are usage errors for every float option and config float", "[nothing_lost][cli]") {
  testutil::TempDir t("finite");
  // Checked while parsing, before the checkpoint is opened (it does not exist).
  for (const std::string v : {"nan", "NaN", "inf", "-inf", "1e999"}) {
    Run r = normlab("generate --checkpoint " + (t / "none.safetensors").string() + " --prompt a --temperature " + v, t);
    INFO(v << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err == "normlab: error: --temperature: '" + v +
                       "' is not a finite number (normlab generate --help lists the options)\n");
  }
  for (const std::string v : {"nan", "inf", "1e999", "-1e999"}) {
    Run r = normlab("train " + kTiny + " --out " + (t / "run").string() + " --set optim.lr=" + v, t);
    INFO(v << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(testutil::count_lines(r.err) == 1);
    CHECK(contains(r.err, "optim.lr"));
    CHECK_FALSE(fs::exists(t / "run"));
  }
}

TEST_CASE("command-line errors are one line and exit 2, with short numbers", "[nothing_lost][cli]") {
  testutil::TempDir t("usage");
  struct Case {
    std::string args, err;
  };
  const std::string none = (t / "none.safetensors").string();
  const std::vector<Case> cases = {
      {"train", "config is required (normlab train --help lists the options)"},
      {"train " + kTiny + " --nosuch", "The following argument was not expected: --nosuch (normlab train --help lists the options)"},
      {"nosuch", "A subcommand is required (normlab --help lists the options)"},
      // CLI::NonNegativeNumber printed DBL_MAX with 309 digits
      {"generate --checkpoint " + none + " --prompt a --temperature -1",
       "--temperature: '-1' is negative (allowed: >= 0) (normlab generate --help lists the options)"},
      // strtoull wrapped -1 to 2^64-1 and clamped 2^64 to it
      {"generate --checkpoint " + none + " --prompt a --seed -1",
       "--seed: '-1' is not a non-negative whole number (digits 0-9 only) (normlab generate --help lists the options)"},
      {"generate --checkpoint " + none + " --prompt a --seed 18446744073709551616",
       "--seed: '18446744073709551616' is out of range (at most 18446744073709551615) (normlab generate --help lists "
       "the options)"},
      {"bench --seed 0x10", "--seed: '0x10' is not a non-negative whole number (digits 0-9 only) (normlab bench --help "
                            "lists the options)"},
      {"generate --checkpoint " + none + " --prompt a --tokens 1.5",
       "--tokens: '1.5' is not a whole number (normlab generate --help lists the options)"},
  };
  for (const Case& c : cases) {
    Run r = normlab(c.args, t);
    INFO(c.args);
    CHECK(r.code == 2);
    CHECK(r.err == "normlab: error: " + c.err + "\n");
  }
  // The largest seed is a seed: parsing passes, the missing checkpoint is the error.
  Run r = normlab("generate --checkpoint " + none + " --prompt a --seed 18446744073709551615", t);
  CHECK(r.code == 1);
  CHECK(contains(r.err, "cannot open checkpoint"));
  // Help is not an error.
  CHECK(normlab("train --help", t).code == 0);
}

TEST_CASE("compare --only that matches nothing is an error, under --dry-run too", "[nothing_lost][compare]") {
  testutil::TempDir t("only_nothing");
  Run r = normlab("compare " + kSrc + "/tests/configs/tiny_compare.json --dry-run --only nosuch --out " +
                      (t / "cmp").string(),
                  t);
  CHECK(r.code == 2);
  CHECK(testutil::count_lines(r.err) == 1);
  CHECK(contains(r.err, "--only: 'nosuch' names no run"));
  CHECK(r.out.empty());
}

TEST_CASE("a config nested too deep names the key path it is under", "[nothing_lost][hostile]") {
  testutil::TempDir t("deep_key");
  const fs::path path = t / "deep.json";
  write_file(path, R"({"model": {"norm": {"type": "layernorm", "eps": )" + std::string(100000, '[') +
                       std::string(100000, ']') + "}}}");
  Run r = normlab("train " + path.string() + " --out " + (t / "run").string(), t);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "normlab: error: " + path.string() + ": model.norm.eps[0][0][0]"));
  CHECK(contains(r.err, "JSON nested deeper than 64 levels at line 1, column "));
  CHECK(testutil::count_lines(r.err) == 1);
  CHECK_FALSE(fs::exists(t / "run"));
}

// ---- 6 and 8. predict's input ---------------------------------------------------------

TEST_CASE("predict --input takes a regular file or stdin, never blocks, and echoes one line per input", "[nothing_lost][predict]") {
  testutil::TempDir t("predict_input");
  const std::string run = text_classify_run(t);
  const std::string predict = "predict --checkpoint " + run + "/checkpoint.safetensors";

  // /dev/zero grew memory until "read error"; a FIFO without a writer blocked forever.
  Run r = normlab(predict + " --input /dev/zero", t);
  CHECK(r.code == 1);
  CHECK(r.err == "normlab: error: predict: --input /dev/zero: is a character device, not a text file (a regular file)\n");
  const fs::path fifo = t / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  r = normlab(predict + " --input " + fifo.string(), t);
  CHECK(r.code == 1);  // not 124: the watchdog did not have to stop it
  CHECK(r.err == "normlab: error: predict: --input " + fifo.string() +
                     ": is a FIFO (named pipe), not a text file (a regular file)\n");

  // A NUL byte cut the echoed input; a tab split its columns. Escaped now, one line each.
  const fs::path in = t / "in.txt";
  write_file(in, std::string("ab\0c\n", 5) + "a\tb\n");
  r = normlab(predict + " --input " + in.string(), t);
  INFO(r.err);
  REQUIRE(r.code == 0);
  REQUIRE(testutil::count_lines(r.out) == 2);
  std::istringstream lines(r.out);
  std::string line;
  std::getline(lines, line);
  CHECK(line.substr(line.rfind('\t') + 1) == "ab\\x00c");
  std::getline(lines, line);
  CHECK(line.substr(line.rfind('\t') + 1) == "a\\tb");
  // A newline inside a TEXT argument stays on the input's line.
  r = normlab(predict + " \"$(printf 'a\\nb')\"", t);
  REQUIRE(r.code == 0);
  CHECK(testutil::count_lines(r.out) == 1);
  CHECK(contains(r.out, "\ta\\nb\n"));
  // stdin still works.
  write_file(in, "abc\n");
  r = normlab(predict + " --input -", t, in.string());
  CHECK(r.code == 0);
  CHECK(contains(r.out, "\tabc\n"));
  // Invalid UTF-8 names the file, line and offset.
  write_file(in, "abc\nb\x82\n");
  r = normlab(predict + " --input " + in.string(), t);
  CHECK(r.code == 2);
  CHECK(r.err == "normlab: error: predict: --input " + in.string() +
                     ":2: invalid UTF-8: byte 0x82 at offset 5 (save the file as UTF-8)\n");
}

TEST_CASE("invalid UTF-8 in a TSV or a text is one line naming file, line and offset, before a run folder exists", "[nothing_lost][hostile]") {
  testutil::TempDir t("bad_utf8");
  const fs::path tsv = t / "bad.tsv";
  write_file(tsv, "abc\tpos\nba\tneg\nc\x82" "a\tpos\n");
  const fs::path run = t / "run";
  Run r = normlab("train " + kSrc + "/configs/tasks/text_classify.json --out " + run.string() + kShort +
                      " --set task.path=" + tsv.string() + " --set task.eval_path=" + tsv.string(),
                  t);
  // Before: "[json.exception.type_error.316] invalid UTF-8 byte at index 0: 0x82", with
  // config.json and normlab.lock left behind.
  CHECK(r.code == 1);
  CHECK(r.err == "normlab: error: " + tsv.string() + ":3: invalid UTF-8: byte 0x82 at offset 16 (save the file as UTF-8)\n");
  CHECK_FALSE(fs::exists(run));

  const fs::path text = t / "bad.txt";
  write_file(text, "the quick brown fox\njumps \xff over\n");
  r = normlab("train " + kSrc + "/configs/tasks/char_lm.json --out " + run.string() + kShort + " --set task.path=" +
                  text.string(),
              t);
  CHECK(r.code == 1);
  CHECK(r.err == "normlab: error: " + text.string() + ":2: invalid UTF-8: byte 0xFF at offset 26 (save the file as UTF-8)\n");
  CHECK_FALSE(fs::exists(run));

  // eval --data accepted the same bytes.
  const std::string good = text_classify_run(t);
  r = normlab("eval --checkpoint " + good + "/checkpoint.safetensors --data " + tsv.string(), t);
  CHECK(r.code == 1);
  CHECK(r.err == "normlab: error: --data " + tsv.string() + ":3: invalid UTF-8: byte 0x82 at offset 16 (save the file as UTF-8)\n");
}

// ---- 8. eval --set compares resolved values ----------------------------------------------

TEST_CASE("eval --set model.norm.eps equal to the type's default matches a stored -1", "[nothing_lost][eval]") {
  testutil::TempDir t("eval_eps");
  const std::string run = (t / "run").string();
  REQUIRE(normlab("train " + kTiny + " --quiet --out " + run + kShort, t).code == 0);  // eps -1: LayerNorm's 1e-5
  const std::string eval = "eval --checkpoint " + run + "/checkpoint.safetensors --set model.norm.eps=";
  // Refused before: "model.norm.eps is 1e-05 in the config but -1 in checkpoint ...".
  Run r = normlab(eval + "1e-5", t);
  INFO(r.err);
  CHECK(r.code == 0);
  // Another value is another model, named with the value the checkpoint's norm used.
  r = normlab(eval + "1e-6", t);
  CHECK(r.code == 2);
  CHECK(r.err == "normlab: error: eval: model.norm.eps is 1e-06 in the config but 1e-05 in checkpoint " + run +
                     "/checkpoint.safetensors (evaluate with the config it was trained with, or leave CONFIG out to "
                     "use the stored one)\n");
  // A different type is still named as the type, not as the eps the two types default to.
  r = normlab(eval.substr(0, eval.find("model.norm.eps=")) + "model.norm.type=rmsnorm", t);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "model.norm.type is \"rmsnorm\" in the config but \"layernorm\" in checkpoint"));
}
