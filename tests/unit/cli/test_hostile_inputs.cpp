// test_hostile_inputs.cpp — inputs a hostile user would try: JSON nested 1e5 deep, numbers
// out of range, bytes that are not UTF-8, a FIFO, a device or a directory where a file
// belongs, files over the size cap. Each must end in one line naming the file (and the
// key), a non-zero exit, nothing written — never a crash or a hang.
//
// Cases that could hang (a FIFO opened for reading waits for a writer) run the binary as a
// child under coreutils `timeout`, so a regression fails the case instead of hanging the
// suite. What it is not: the corpus of ordinary config mistakes (test_config.cpp) or of
// corrupt checkpoints (test_checkpoint.cpp).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/config/config.h"
#include "normlab/data/export.h"
#include "normlab/data/task.h"
#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"
#include "normlab/config/memory_check.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::slurp;
using nlohmann::json;

namespace {

const std::string kSrc = NORMLAB_SOURCE_DIR;
const std::string kTiny = kSrc + "/configs/tiny.json";

struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / ("normlab_test_hostile_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

struct Run {
  int code;  // exit code; 124 = killed by the watchdog (a hang); -1 = died of a signal
  std::string out, err;
};

// normlab as a child process under a 60 s watchdog (a hang is a failure, not a stuck suite).
Run normlab(const std::string& args, const TempDir& t) {
  static int n = 0;
  const std::string tag = std::to_string(n++);
  const std::string out = t.file("stdout_" + tag), err = t.file("stderr_" + tag);
  const std::string cmd = "timeout -k 5 60 " + std::string(NORMLAB_BINARY) + " --threads 1 " + args + " >" + out +
                          " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// The one-line error a call throws, with its code.
struct Caught {
  std::string what = "no error";
  int code = 0;
};
template <class F>
Caught error_of(F f) {
  Caught c;
  try {
    f();
  } catch (const nl::UserError& e) {
    c.what = e.what();
    c.code = e.code;
  }
  return c;
}

std::string deep_array(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A FIFO nobody writes to: reading it the ordinary way blocks forever.
std::string make_fifo(const TempDir& t, const std::string& name) {
  const std::string p = t.file(name);
  REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
  return p;
}

}  // namespace

// ---- JSON nested deeper than the stack allows ---------------------------------------

TEST_CASE("a config with an array nested 1e5 deep is one line, not a stack overflow", "[hostile]") {
  TempDir t("deep_config");
  const std::string path = t.file("deep.json");
  write_file(path, R"({"model": {"d_model": )" + deep_array(100000) + "}}");
  Caught c = error_of([&] { nl::load_config(path); });
  CHECK(c.code == 2);
  // The key path it is under, cut after ~80 characters.
  std::string indexes;
  for (int i = 0; i < 23; ++i) indexes += "[0]";
  CHECK(c.what == path + ": model.d_model" + indexes + "...: JSON nested deeper than 64 levels at line 1, column 85");

  // The binary: exit 2, one line, the run folder not created.
  Run r = normlab("train " + path + " --out " + t.file("run"), t);
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("nested deeper than 64 levels") != std::string::npos);
  CHECK_FALSE(fs::exists(t.file("run")));
}

TEST_CASE("a deep value that reached the validator is described in ~40 characters", "[hostile]") {
  // nlohmann parses and destroys iteratively, so a caller that skips the depth check can
  // still hold such a value; the error message must not dump it recursively.
  json j = json::parse(R"({"model": {"d_model": )" + deep_array(100000) + "}}");
  Caught c = error_of([&] { nl::config_from_json(j, "x.json"); });
  CHECK(c.code == 2);
  CHECK(c.what == "x.json: model.d_model: expected an integer in 1..65536, got array " + std::string(37, '[') + "...");
  CHECK(nl::json_describe(j["model"]).size() < 60);
}

TEST_CASE("a --set value nested 1e5 deep is one line, nothing written", "[hostile]") {
  TempDir t("deep_set");
  // 60000 levels: 120 KB, under Linux's 128 KB limit for one argument.
  Run r = normlab("train " + kTiny + " --quiet --out " + t.file("run") + " --set 'model.norm.eps=" +
                      deep_array(60000) + "'",
                  t);
  INFO(r.err.substr(0, 300));
  CHECK(r.code == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("--set model.norm.eps: JSON nested deeper than 64 levels") != std::string::npos);
  CHECK_FALSE(fs::exists(t.file("run")));
}

TEST_CASE("the depth scan skips strings and counts only nesting", "[hostile]") {
  CHECK_NOTHROW(nl::check_json_depth(R"({"a": "[[[[[[[[[[\"[[[[[[[[["})", "s", 2));
  CHECK_NOTHROW(nl::check_json_depth("[[]] [[]] [[]]", "s", 2));
  CHECK(error_of([] { nl::check_json_depth("[[[]]]", "s", 2); }).what ==
        "s: JSON nested deeper than 2 levels at line 1, column 3");
  CHECK(error_of([] { nl::check_json_depth("{\n \"a\": {\"b\": [1]}}", "s", 2, 1); }).code == 1);
  // 64 levels are allowed; 65 are not.
  CHECK_NOTHROW(nl::parse_json(deep_array(64), "s"));
  CHECK(error_of([] { nl::parse_json(deep_array(65), "s"); }).what.find("deeper than 64") != std::string::npos);
}

// ---- every parser exception is one line naming file and key -------------------------

TEST_CASE("1e999 names the file and the key, exit 2", "[hostile]") {
  TempDir t("overflow");
  const std::string path = t.file("c.json");
  write_file(path, R"({"model": {"dropout": 1e999}, "task": {"eval_lengths": [{"min": 1, "max": -1e400}]}})");
  Caught c = error_of([&] { nl::load_config(path); });
  CHECK(c.code == 2);
  CHECK(c.what == path + ": model.dropout: number out of range: 1e999");
  write_file(path, R"({"task": {"eval_lengths": [{"min": 1}, {"min": 1, "max": -1e400}]}})");
  CHECK(error_of([&] { nl::load_config(path); }).what == path + ": task.eval_lengths[1].max: number out of range: -1e400");
  write_file(path, "[1, 2, 3e500]");
  CHECK(error_of([&] { nl::load_config(path); }).what == path + ": [2]: number out of range: 3e500");
  write_file(path, "1e999");
  CHECK(error_of([&] { nl::load_config(path); }).what == path + ": (top level): number out of range: 1e999");

  Run r = normlab("train " + path + " --out " + t.file("run"), t);
  CHECK(r.code == 2);
  CHECK(r.err == "normlab: error: " + path + ": (top level): number out of range: 1e999\n");
}

TEST_CASE("a parse error quoting unprintable bytes stays one printable line", "[hostile]") {
  Caught c = error_of([] { nl::parse_json("{\"a\": tru\x01\xff\n}", "f.json"); });
  CHECK(c.code == 2);
  CHECK(c.what.rfind("f.json: malformed JSON: parse error at line 1", 0) == 0);
  CHECK(c.what.find('\n') == std::string::npos);
  CHECK(nl::is_valid_utf8(c.what));
}

// ---- --set: UTF-8 only --------------------------------------------------------------

TEST_CASE("a --set value or key that is not UTF-8 fails before anything is written", "[hostile]") {
  TempDir t("utf8_set");
  // task.eval_path takes any string, so the value passes validation and used to fail only
  // when the resolved config was written, after the run folder was made.
  Run r = normlab("train " + kTiny + " --quiet --out " + t.file("run") + " --set 'task.eval_path=a\xff'", t);
  CHECK(r.code == 2);
  CHECK(r.err == "normlab: error: --set task.eval_path: the value 'a\\xFF' is not valid UTF-8\n");
  CHECK_FALSE(fs::exists(t.file("run")));

  json j = json::object();
  CHECK(error_of([&] { nl::apply_overrides(j, {"model.\xc0\xaf=1"}); }).what ==
        "--set 'model.\\xC0\\xAF': the key is not valid UTF-8");
  CHECK(error_of([&] { nl::apply_overrides(j, {"task.path=\xed\xa0\x80"}); }).code == 2);  // a surrogate
  CHECK_NOTHROW(nl::apply_overrides(j, {"task.path=d\xc3\xa9j\xc3\xa0-\xf0\x9f\x98\x80.tsv"}));
  CHECK(j["task"]["path"] == "d\xc3\xa9j\xc3\xa0-\xf0\x9f\x98\x80.tsv");
}

TEST_CASE("is_valid_utf8 and printable", "[hostile]") {
  CHECK(nl::is_valid_utf8(""));
  CHECK(nl::is_valid_utf8("abc \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(nl::is_valid_utf8("\xff"));
  CHECK_FALSE(nl::is_valid_utf8("\xc3"));                  // truncated
  CHECK_FALSE(nl::is_valid_utf8("\xc0\x80"));              // overlong NUL
  CHECK_FALSE(nl::is_valid_utf8("\xe0\x80\xaf"));          // overlong '/'
  CHECK_FALSE(nl::is_valid_utf8("\xed\xb0\x80"));          // a surrogate
  CHECK_FALSE(nl::is_valid_utf8("\xf4\x90\x80\x80"));      // above U+10FFFF
  CHECK(nl::printable("a\nb\tc\x01\xff") == "a\\nb\\tc\\x01\\xFF");
  CHECK(nl::printable(std::string(50, 'x'), 40) == std::string(40, 'x') + "...");
  CHECK(nl::printable("\xc3\xa9\xc3\xa9\xc3\xa9", 2) == "\xc3\xa9\xc3\xa9...");
}

// ---- only regular files -------------------------------------------------------------

TEST_CASE("a FIFO given as any input file is one line naming it, never a hang", "[hostile]") {
  TempDir t("fifo");
  const std::string fifo = make_fifo(t, "pipe.tsv");  // the extension text_classify asks for
  const std::string says = fifo + ": is a FIFO (named pipe), not a ";
  const std::string quoted = fifo + "': is a FIFO (named pipe), not a ";
  struct Case {
    const char* what;
    std::string args;
    std::string expect;
    int code;
  };
  std::vector<Case> cases = {
      {"config", "train " + fifo + " --out " + t.file("run"), says + "config", 2},
      {"task.path", "data export " + kTiny + " --out " + t.file("run") + " --set task.name=text_classify --set task.path=" + fifo,
       "task.path: '" + quoted + "data file", 1},
      {"char_lm task.path", "data export " + kTiny + " --out " + t.file("run") + " --set task.name=char_lm --set task.path=" + fifo,
       "task.path: '" + quoted + "data file", 1},
      {"wordlang task.path", "data export " + kTiny + " --out " + t.file("run") + " --set task.name=wordlang --set task.path=" + fifo,
       "task.path: '" + quoted + "data file", 1},
      {"task.eval_path", "data export " + kTiny + " --out " + t.file("run") + " --set task.name=text_classify --set task.path=" +
           kSrc + "/tests/fixtures/data/small.tsv --set task.eval_path=" + fifo,
       "task.eval_path: '" + quoted + "data file", 1},
      {"--checkpoint", "eval " + kTiny + " --checkpoint " + fifo, "checkpoint " + says + "checkpoint", 1},
      {"compare config", "compare " + fifo + " --out " + t.file("cmp"), says + "compare config", 2},
  };
  for (const Case& c : cases) {
    Run r = normlab(c.args, t);
    INFO(c.what << ": " << r.err);
    CHECK(r.code == c.code);  // 124 would be the watchdog: a hang
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK_FALSE(fs::exists(t.file("run")));
    CHECK_FALSE(fs::exists(t.file("cmp")));
  }

  // --data needs a real checkpoint first.
  REQUIRE(normlab("train " + kTiny + " --quiet --out " + t.file("trained") + " --set train.steps=2 --set optim.warmup_steps=0", t).code == 0);
  Run r = normlab("eval " + kTiny + " --checkpoint " + t.file("trained/checkpoint.safetensors") + " --data " + fifo, t);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err == "normlab: error: --data " + says + "data file (a regular file)\n");
}

TEST_CASE("a directory as the config says so, not 'malformed JSON'", "[hostile]") {
  TempDir t("dir");
  Caught c = error_of([&] { nl::load_config(t.dir.string()); });
  CHECK(c.code == 2);
  CHECK(c.what == t.dir.string() + ": is a directory, not a config (a regular file)");
  Run r = normlab("train " + t.dir.string() + " --out " + t.file("run"), t);
  CHECK(r.code == 2);
  CHECK(r.err.find("malformed") == std::string::npos);
  CHECK(r.err.find("is a directory") != std::string::npos);
}

TEST_CASE("/dev/zero as a char_lm or text file fails at once", "[hostile]") {
  nl::TaskConfig c;
  c.name = "char_lm";
  c.path = "/dev/zero";
  Caught e = error_of([&] { nl::make_task(c, 1); });
  CHECK(e.code == 1);
  CHECK(e.what == "task.path: '/dev/zero': is a character device, not a data file (a regular file)");
  c.path = kSrc + "/tests/fixtures/data/text.txt";
  c.eval_path = "/dev/urandom";
  CHECK(error_of([&] { nl::make_task(c, 1); }).what ==
        "task.eval_path: '/dev/urandom': is a character device, not a data file (a regular file)");
}

TEST_CASE("files over the size cap are refused before they are read, naming the cap", "[hostile]") {
  TempDir t("cap");
  // Sparse files: the size is there, the disk blocks are not.
  const std::string big_text = t.file("big.txt"), big_cfg = t.file("big.json");
  std::ofstream(big_text).close();
  std::ofstream(big_cfg).close();
  fs::resize_file(big_text, nl::kMaxDataFileBytes + 1);
  fs::resize_file(big_cfg, nl::kMaxConfigBytes + 1);
  nl::TaskConfig c;
  c.name = "char_lm";
  c.path = big_text;
  CHECK(error_of([&] { nl::make_task(c, 1); }).what ==
        "task.path: '" + big_text + "': 268435457 bytes is larger than the 256 MiB limit for a data file");
  CHECK(error_of([&] { nl::load_config(big_cfg); }).what ==
        big_cfg + ": 16777217 bytes is larger than the 16 MiB limit for a config");
  fs::resize_file(big_cfg, 3ull << 30);
  CHECK(error_of([&] { nl::load_config(big_cfg); }).what == big_cfg + ": 3.0 GiB is larger than the 16 MiB limit for a config");
  CHECK(nl::bytes_str(1536) == "1.5 KiB");
  CHECK(nl::bytes_str(17) == "17 bytes");
  CHECK(nl::bytes_str(3.5 * (1ull << 30)) == "3.5 GiB");
}

TEST_CASE("a JSONL line nested 1e5 deep names the file and line", "[hostile]") {
  TempDir t("jsonl");
  const std::string path = t.file("d.jsonl");
  write_file(path, "{\"text\": \"ab\", \"label\": \"x\"}\n{\"text\": " + deep_array(100000) + ", \"label\": \"y\"}\n");
  nl::TaskConfig c;
  c.name = "text_classify";
  c.path = path;
  c.train_lengths = {1, 4};
  c.eval_lengths = {{1, 4}};
  Caught e = error_of([&] { nl::make_task(c, 1); });
  CHECK(e.code == 1);
  CHECK(e.what.rfind(path + ":2: text[0][0]", 0) == 0);
  CHECK(e.what.find("...: JSON nested deeper than 64 levels at line 1, column 73") != std::string::npos);
  write_file(path, "{\"text\": \"ab\", \"label\": 1e999}\n");
  CHECK(error_of([&] { nl::make_task(c, 1); }).what == path + ":1: label: number out of range: 1e999");
}

// ---- memory estimated before anything is allocated ----------------------------------

TEST_CASE("a config that cannot fit in memory is exit 2 naming the key, nothing written", "[hostile]") {
  TempDir t("memory");
  struct Case {
    std::string set, expect;
  };
  // Before: std::bad_alloc (exit 1) after the run folder and config.json were written.
  for (const Case& c : {Case{"model.d_model=65536", "model.d_model: 65536 needs ~"},
                        Case{"task.train_size=1073741824", "task.train_size: 1073741824 needs ~"}}) {
    Run r = normlab("train " + kTiny + " --quiet --out " + t.file("run") + " --set " + c.set, t);
    INFO(c.set << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("normlab: error: " + kTiny + ": " + c.expect, 0) == 0);
    CHECK(r.err.find(" available\n") != std::string::npos);
    CHECK_FALSE(fs::exists(t.file("run")));
  }
}

TEST_CASE("the memory estimate grows with each size and is checked against what is available", "[hostile]") {
  nl::Config c = nl::load_config(kTiny);
  const nl::MemoryEstimate e = nl::estimate_memory(c);
  CHECK(e.params > 0);
  CHECK(e.activations > 0);
  CHECK(e.data > 0);
  CHECK(e.total() < 64.0 * (1 << 20));  // tiny: a few MiB
  auto grows = [&](auto change, double nl::MemoryEstimate::*part) {
    nl::Config d = c;
    change(d);
    return nl::estimate_memory(d).*part > e.*part;
  };
  CHECK(grows([](nl::Config& d) { d.model.d_model *= 2; }, &nl::MemoryEstimate::params));
  CHECK(grows([](nl::Config& d) { d.model.layers *= 2; }, &nl::MemoryEstimate::params));
  CHECK(grows([](nl::Config& d) { d.optim.type = nl::OptimizerType::adam; d.model.d_ff *= 2; }, &nl::MemoryEstimate::params));
  CHECK(grows([](nl::Config& d) { d.train.batch_size *= 2; }, &nl::MemoryEstimate::activations));
  CHECK(grows([](nl::Config& d) { d.task.train_lengths.max *= 2; }, &nl::MemoryEstimate::activations));
  CHECK(grows([](nl::Config& d) { d.task.train_size *= 2; }, &nl::MemoryEstimate::data));
  CHECK(grows([](nl::Config& d) { d.task.eval_size *= 2; }, &nl::MemoryEstimate::data));

  // Exactly at the estimate fits; one byte less does not, and names the driving key.
  const uint64_t need = (uint64_t)e.total() + 1;
  CHECK_NOTHROW(nl::check_memory(c, "t.json", need));
  nl::Config big = c;
  big.train.batch_size = 4096;
  Caught err = error_of([&] { nl::check_memory(big, "t.json", need); });
  CHECK(err.code == 2);
  CHECK(err.what.rfind("t.json: train.batch_size: 4096 needs ~", 0) == 0);
  CHECK(err.what.find("available") != std::string::npos);
  CHECK_NOTHROW(nl::check_memory(big, "t.json", 0));  // 0: unknown, no memory check
  CHECK(nl::available_memory_bytes() > 0);            // /proc/meminfo is readable here
}

TEST_CASE("no tensor may outgrow int sizes, whatever the memory", "[hostile]") {
  nl::Config c = nl::load_config(kTiny);
  c.train.batch_size = 100000;
  c.task.train_lengths = {1, 1000};
  c.model.max_len = 2000;
  Caught err = error_of([&] { nl::check_memory(c, "t.json", 0); });
  CHECK(err.code == 2);
  CHECK(err.what.rfind("t.json: train.batch_size: one tensor would hold 2e+11 elements (attention weights", 0) == 0);
}

// ---- data sanity ----------------------------------------------------------------------

TEST_CASE("a UTF-8 byte-order mark is not part of the first text (TSV, --data)", "[hostile]") {
  nl::TaskConfig c;
  c.name = "text_classify";
  c.train_lengths = {1, 4};
  c.eval_lengths = {{1, 4}};
  c.path = kSrc + "/tests/fixtures/data/small.tsv";
  const nl::TaskData plain = nl::make_task(c, 1);
  c.path = kSrc + "/tests/fixtures/data/bom.tsv";  // the same lines after EF BB BF
  const nl::TaskData bom = nl::make_task(c, 1);
  CHECK(bom.token_names == plain.token_names);  // no "\xEF\xBB\xBF" character in the vocabulary
  REQUIRE(bom.train.examples.size() == plain.train.examples.size());
  CHECK(bom.train.examples[0].tokens == plain.train.examples[0].tokens);

  // --data: "abc" after a BOM is a, b, c (no <unk> in front).
  nl::EvalSplit s = nl::import_split(plain, kSrc + "/tests/fixtures/data/bom_eval.tsv", c.train_lengths);
  REQUIRE(s.data.examples.size() == 1);
  std::string text;
  for (int id : s.data.examples[0].tokens) text += plain.token_names[id];
  CHECK(text == "abc");
}

TEST_CASE("a classification file with one class is an error naming the file", "[hostile]") {
  nl::TaskConfig c;
  c.name = "text_classify";
  c.train_lengths = {1, 4};
  c.eval_lengths = {{1, 4}};
  c.path = kSrc + "/tests/fixtures/data/one_class.tsv";
  Caught e = error_of([&] { nl::make_task(c, 1); });
  CHECK(e.code == 1);
  CHECK(e.what == "task.path: '" + c.path + "' has only one class ('pos'); a classifier needs at least 2 labels");
}

TEST_CASE("an evaluation text longer than model.max_len names the file and line", "[hostile]") {
  TempDir t("long_eval");
  const std::string run = t.file("run");
  REQUIRE(normlab("train " + kTiny + " --quiet --out " + run +
                      " --set train.steps=2 --set optim.warmup_steps=0 --set model.positions=learned",
                  t)
              .code == 0);
  std::string long_line;
  for (int i = 0; i < 70; ++i) long_line += (i ? " " : "") + std::string("1");
  const std::string data = t.file("long.tsv");
  write_file(data, "1 2 1\t1\n" + long_line + "\t1\n");
  Run r = normlab("eval " + kTiny + " --set model.positions=learned --checkpoint " + run +
                      "/checkpoint.safetensors --data " + data,
                  t);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err == "normlab: error: --data " + data + ":2: text of 70 tokens is longer than model.max_len = 64\n");
}
