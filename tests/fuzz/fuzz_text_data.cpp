// fuzz_text_data.cpp — libFuzzer target: the TSV / JSONL / plain-text readers of the file
// tasks and the `eval --data` TSV reader.
//
// What it is: the input's first byte picks a reader, the rest is the file:
//   0 text_classify from TSV, 1 text_classify from JSONL, 2 char_lm from plain text,
//   3 eval --data into a text task, 4 eval --data into a generated task (sort: tag head).
// The file is written to a scratch folder (/dev/shm when there is one) and read through the
// real path: read_regular_file, BOM, lines, UTF-8, vocabulary, classes, length ranges. A
// UserError is the expected way to refuse; anything else is a bug.
// What it is not: a test of training on the data. Built by scripts/fuzz.sh (clang,
// libFuzzer) and, with tests/fuzz/driver.cpp, as a CTest smoke.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "normlab/data/export.h"
#include "normlab/data/task.h"
#include "normlab/core/error.h"

namespace fs = std::filesystem;

namespace {

// A scratch folder of this process, removed at exit.
struct Scratch {
  std::string dir;
  Scratch() {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    dir = (base / ("normlab_fuzz_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
const std::string& scratch() {
  static const Scratch s;
  return s.dir;
}

void write(const std::string& path, const char* p, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(p, (std::streamsize)n);
}

nl::TaskConfig text_config(const std::string& name, const std::string& path) {
  nl::TaskConfig c;
  c.name = name;
  c.path = path;
  c.train_lengths = {1, 64};
  c.eval_lengths = {{1, 8}, {9, 64}};
  c.train_size = 1000;
  c.eval_size = 100;
  return c;
}

// The tasks `eval --data` imports into, built once.
const nl::TaskData& text_task() {
  static const nl::TaskData td = [] {
    const std::string p = scratch() + "/seed.tsv";
    const std::string seed = "hello\ten\nhallo\tde\nbonjour\tfr\nhola\tes\nciao\tit\nworld\ten\nwelt\tde\n";
    write(p, seed.data(), seed.size());
    nl::TaskConfig c = text_config("text_classify", p);
    c.eval_lengths = {{1, 64}};
    return nl::make_task(c, 1);
  }();
  return td;
}
const nl::TaskData& sort_task() {
  static const nl::TaskData td = [] {
    nl::TaskConfig c;
    c.name = "sort";
    c.train_size = 10;
    c.eval_size = 10;
    return nl::make_task(c, 1);
  }();
  return td;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 5;
  static const char* names[5] = {"f.tsv", "f.jsonl", "f.txt", "data.tsv", "data.tsv"};
  const std::string path = scratch() + "/" + names[mode];
  write(path, (const char*)data + 1, size - 1);
  try {
    switch (mode) {
      case 0: nl::make_task(text_config("text_classify", path), 1); break;
      case 1: nl::make_task(text_config("text_classify", path), 1); break;
      case 2: nl::make_task(text_config("char_lm", path), 1); break;
      case 3: nl::import_split(text_task(), path, {1, 64}, 64); break;
      case 4: nl::import_split(sort_task(), path, {4, 16}, 64); break;
    }
  } catch (const nl::UserError&) {
  }
  return 0;
}
