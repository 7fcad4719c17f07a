// test_io.cpp — every file normlab writes is written atomically and every write error is
// an exit 1 naming the file: a failing rename, /dev/full, and a full disk for real (a tiny
// tmpfs, where mounting is permitted).
//
// What it is not: the checkpoint format (test_checkpoint.cpp) nor resume (test_resume.cpp).
#include <catch2/catch.hpp>

#include <sys/statvfs.h>

#include <filesystem>
#include <string>

#include "normlab/core/error.h"
#include "normlab/core/io.h"
#include "normlab/train/checkpoint.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using testutil::slurp;
using testutil::TempDir;

namespace {

// The UserError message of f() ("" if none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const nl::UserError& e) {
    CHECK(e.code == 1);
    return e.what();
  }
  return "";
}

const std::string kSrc = NORMLAB_SOURCE_DIR;

}  // namespace

TEST_CASE("write_file_atomic replaces the file whole and leaves no temporary file", "[io]") {
  TempDir t("io_atomic");
  const std::string path = (t / "result.json").string();
  nl::write_file_atomic(path, "first\n");
  CHECK(slurp(path) == "first\n");
  nl::write_file_atomic(path, "second, longer\n");
  CHECK(slurp(path) == "second, longer\n");
  CHECK_FALSE(fs::exists(path + ".tmp"));

  // A stale temporary file from a killed writer is replaced, not appended to.
  std::ofstream(path + ".tmp") << "half of an old wri";
  nl::write_file_atomic(path, "third\n");
  CHECK(slurp(path) == "third\n");
  CHECK_FALSE(fs::exists(path + ".tmp"));

  // An AtomicFile abandoned before commit (an exception on the way) leaves the old file.
  {
    nl::AtomicFile f(path);
    f.write("never committed");
  }
  CHECK(slurp(path) == "third\n");
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("a rename that fails is an error naming the file; nothing is left behind", "[io]") {
  TempDir t("io_rename");
  // The target is a folder that is not empty: rename(2) refuses to replace it.
  const fs::path target = t / "report.md";
  fs::create_directories(target / "inside");
  const std::string err = error_of([&] { nl::write_file_atomic(target.string(), "# report\n"); });
  INFO(err);
  CHECK(err.rfind(target.string() + ": cannot rename", 0) == 0);
  CHECK(err.find('\n') == std::string::npos);
  CHECK(fs::is_directory(target / "inside"));
  CHECK_FALSE(fs::exists(target.string() + ".tmp"));

  // A folder that does not exist: the temporary file cannot even be created.
  const std::string nowhere = (t / "no" / "such" / "summary.json").string();
  CHECK(error_of([&] { nl::write_file_atomic(nowhere, "{}"); }).rfind(nowhere + ": cannot create", 0) == 0);
}

TEST_CASE("appending to a full device is an error naming the file (/dev/full)", "[io]") {
  REQUIRE(fs::exists("/dev/full"));
  nl::AppendFile f;
  f.open("/dev/full");
  CHECK(error_of([&] { f.append("10,0.5,0.001\n"); }) == "/dev/full: write failed: No space left on device");
}

TEST_CASE("stdout on a full device: exit 1 and one line, never exit 0 with nothing written", "[io]") {
  // `eval` prints its table to stdout (with --json -, the JSON; the table then goes to
  // stderr); stdout is /dev/full.
  TempDir t("io_stdout");
  const std::string cfg = kSrc + "/configs/tiny.json";
  const std::string run = (t / "run").string();
  REQUIRE(testutil::normlab("train " + cfg + " --quiet --out " + run + " --set train.steps=5 --set optim.warmup_steps=0").code == 0);
  testutil::Run r = testutil::normlab("eval " + cfg + " --checkpoint " + run + "/checkpoint.safetensors",
                                      "/dev/full");
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(testutil::count_lines(r.err) == 1);
  CHECK(r.err.find("stdout: write failed: No space left on device") != std::string::npos);
}

TEST_CASE("a full disk (tmpfs): the writer fails naming the file, the old file stays whole", "[io]") {
  testutil::Tmpfs disk("io_full", 64);
  if (!disk.ok) {
    WARN("mount(tmpfs) is not permitted here; the full-disk cases are checked via /dev/full and rename only");
    return;
  }
  const std::string result = (disk.dir / "result.json").string();
  nl::write_file_atomic(result, "{\"steps\": 400}\n");
  const std::string ckpt = (disk.dir / "checkpoint.safetensors").string();
  nl::save_safetensors(ckpt, {{"w", nl::Tensor::from({1, 2, 3}, {3})}}, {{"step", "100"}});
  disk.fill();

  CHECK(error_of([&] { nl::write_file_atomic(result, "{\"steps\": 800}\n"); }) ==
        result + ": write failed: No space left on device");
  CHECK(slurp(result) == "{\"steps\": 400}\n");
  CHECK_FALSE(fs::exists(result + ".tmp"));

  // The checkpoint too: the previous one stays loadable.
  std::vector<float> big(100000, 1.0f);
  const std::string err = error_of([&] {
    nl::save_safetensors(ckpt, {{"w", nl::Tensor::from(big, {100000})}}, {{"step", "200"}});
  });
  CHECK(err == ckpt + ": write failed: No space left on device");
  CHECK(nl::load_safetensors(ckpt).metadata.at("step") == "100");
  CHECK_FALSE(fs::exists(ckpt + ".tmp"));
}

TEST_CASE("train on a full disk (tmpfs): exit 1 naming the file, no empty or partial file", "[io]") {
  testutil::Tmpfs disk("io_train", 64);
  if (!disk.ok) {
    WARN("mount(tmpfs) is not permitted here; skipped");
    return;
  }
  disk.fill();
  const fs::path run = disk.dir / "run";
  testutil::Run r = testutil::normlab("train " + kSrc + "/configs/tiny.json --quiet --out " + run.string() +
                                      " --set train.steps=5 --set optim.warmup_steps=0");
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(testutil::count_lines(r.err) == 1);
  CHECK(r.err.find(run.string() + "/") != std::string::npos);  // names the file in the run folder
  CHECK(r.err.find("No space left on device") != std::string::npos);
  // Before: config.json was left as a 0-byte file. Now every file is whole or absent.
  if (fs::exists(run))
    for (const auto& e : fs::directory_iterator(run)) {
      INFO(e.path());
      CHECK(fs::file_size(e.path()) > 0);
    }
  CHECK_FALSE(fs::exists(run / "result.json"));
}

TEST_CASE("train whose disk fills up just before result.json: exit 1, never exit 0 with an empty result", "[io]") {
  // A reference run on a normal disk gives the size of every file the run writes; the tmpfs
  // then has room for exactly those, except result.json. Before, this run exited 0 with a
  // 0-byte result.json (the write error went unchecked).
  TempDir t("io_result");
  const std::string args = " --quiet --set train.steps=5 --set optim.warmup_steps=0 --set train.log_every=1";
  const std::string cfg = kSrc + "/configs/tiny.json";
  REQUIRE(testutil::normlab("train " + cfg + " --out " + (t / "ref").string() + args).code == 0);
  const long page = sysconf(_SC_PAGESIZE);
  long pages_needed = 0;
  for (const auto& e : fs::directory_iterator(t / "ref"))
    if (e.path().filename() != "result.json" && e.path().filename().string().rfind(".", 0) != 0)
      pages_needed += ((long)fs::file_size(e.path()) + page - 1) / page;

  testutil::Tmpfs disk("io_result", 1024);
  if (!disk.ok) {
    WARN("mount(tmpfs) is not permitted here; skipped");
    return;
  }
  {
    struct statvfs st;
    REQUIRE(statvfs(disk.dir.c_str(), &st) == 0);
    const long free_pages = (long)(st.f_bfree * st.f_frsize / page);
    REQUIRE(free_pages > pages_needed);
    std::ofstream filler(disk.dir / "filler", std::ios::binary);
    filler << std::string((size_t)(free_pages - pages_needed) * page, 'x');
    REQUIRE(filler.good());
  }
  const fs::path run = disk.dir / "run";
  testutil::Run r = testutil::normlab("train " + cfg + " --out " + run.string() + args);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err == "normlab: error: " + (run / "result.json").string() + ": write failed: No space left on device\n");
  CHECK_FALSE(fs::exists(run / "result.json"));
  CHECK(nl::load_safetensors((run / "checkpoint.safetensors").string()).metadata.at("step") == "5");
}
