// fuzz_predict_input.cpp — libFuzzer target: `normlab predict --input FILE`'s reader.
//
// What it is: the input is the file's bytes. They go the way predict takes them: written to a
// scratch file and read back with read_input_file (regular file, size cap, no blocking),
// cut into lines with text_lines (UTF-8 checked, an error naming file, line and offset),
// each line encoded by a characters tokenizer (file tasks: <unk> for the unknown) and by a
// symbols tokenizer (built-in tasks: an unknown symbol is an error), and echoed the way the
// text output prints it (printable: one line, control characters escaped). A UserError is the
// expected way to refuse; any other exception, a crash or a sanitizer report is a bug; so is
// an echo that is not one line of valid UTF-8.
// What it is not: the model's forward pass. Built by scripts/fuzz.sh (clang, libFuzzer) and,
// with tests/fuzz/driver.cpp, as a short CTest smoke in every build.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "normlab/data/tokenizer.h"
#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"

namespace fs = std::filesystem;

namespace {

// A scratch file of this process, removed at exit.
struct Scratch {
  std::string path;
  Scratch() {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    path = (base / ("normlab_fuzz_predict_" + std::to_string(::getpid()) + ".txt")).string();
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

nl::Tokenizer tokenizer(bool characters) {
  nl::Tokenizer t;
  t.characters = characters;
  t.vocab = characters ? std::vector<std::string>{"<pad>", "<unk>", "a", "b", "\xC3\xA9", " "}
                       : std::vector<std::string>{"<pad>", "1", "2", "3", "(", ")"};
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Scratch scratch;
  static const nl::Tokenizer chars = tokenizer(true), symbols = tokenizer(false);
  {
    std::ofstream out(scratch.path, std::ios::binary | std::ios::trunc);
    out.write((const char*)data, (std::streamsize)size);
  }
  try {
    const std::string text = nl::read_input_file(scratch.path, "predict: --input f", "text file", nl::kMaxDataFileBytes, 1);
    const std::vector<nl::TextLine> lines = nl::text_lines(text, "predict: --input f", 2);
    for (const nl::TextLine& line : lines) {
      const std::string echo = nl::printable(line.text, line.text.size() + 1);
      if (echo.find('\n') != std::string::npos || echo.find('\0') != std::string::npos ||
          echo.find('\t') != std::string::npos || !nl::is_valid_utf8(echo))
        std::abort();
      std::vector<std::string> unknown;
      chars.encode(line.text, "f:" + std::to_string(line.number), &unknown);
    }
    // A built-in task's predict stops at the first line with an unknown symbol, and so does
    // this loop: one exception per input, not one per line (thrown C++ exceptions are what
    // an ASan build spends its time on, ~60 ms each with this target's stack).
    try {
      std::vector<std::string> unknown;
      for (const nl::TextLine& line : lines) symbols.encode(line.text, "f:" + std::to_string(line.number), &unknown);
    } catch (const nl::UserError& e) {
      if (e.code != 2) std::abort();
    }
  } catch (const nl::UserError&) {
  }
  return 0;
}
