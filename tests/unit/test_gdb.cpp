// test_gdb.cpp — the gdb pretty-printers (scripts/gdb/normlab_printers.py) on a real process:
// gdb stops in a norm kernel, goes up to main of tests/gdb/probe.cpp and prints tensors
// through them.
// Skipped (with a warning) when gdb is not installed.
//
// What it is not: a test of the kernels' values; it checks only what gdb prints.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

// stdout+stderr of a shell command, and its exit status.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, out};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// gdb says "Thread 1 "x" hit Breakpoint 1, ..." once the inferior has threads, and plain
// "Breakpoint 1, ..." (or "Breakpoint 1.2, ..." for one of several locations) before.
bool stopped_at_breakpoint_1(const std::string& out) {
  return out.find("hit Breakpoint 1") != std::string::npos ||
         out.find("\nBreakpoint 1, ") != std::string::npos ||
         out.find("\nBreakpoint 1.") != std::string::npos;
}

bool have_gdb() { return run("gdb --version").first == 0; }

// gdb in batch mode on the probe: break on `kernel`, run, go up to main, run `cmds`.
std::string gdb_run(const std::string& kernel, const std::vector<std::string>& cmds) {
  std::string cmd = "gdb -batch -nx -ex 'set debuginfod enabled off' -ex 'set confirm off'"
                    " -ex 'source " NORMLAB_SOURCE_DIR "/scripts/gdb/normlab_printers.py'"
                    " -ex 'break " + kernel + "' -ex run -ex 'frame function main'";
  for (const std::string& c : cmds) cmd += " -ex '" + c + "'";
  cmd += " -ex kill --args '" NORMLAB_GDB_PROBE "'";
  return run(cmd).second;
}

}  // namespace

TEST_CASE("gdb: a tensor prints as shape, requires_grad and first values", "[gdb]") {
  if (!have_gdb()) {
    WARN("gdb not found on PATH: skipping the pretty-printer test (apt-get install gdb)");
    return;
  }
  SECTION("stopped in layernorm_forward, x is a leaf that requires grad") {
    const std::string out = gdb_run("nl::kernels::layernorm_forward", {"print x", "print dy"});
    INFO(out);
    CHECK(out.find("normlab pretty-printers loaded") != std::string::npos);
    CHECK(stopped_at_breakpoint_1(out));  // it stopped in the kernel
    CHECK(out.find("layernorm_forward") != std::string::npos);
    // x = -3 + 0.5 i, 24 values: the first 8 then "..."
    CHECK(out.find("$1 = Tensor[2,3,4] requires_grad=1 grad=no op=leaf "
                   "{-3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, ...}") != std::string::npos);
    // dy = (i % 5) - 2 and no grad
    CHECK(out.find("$2 = Tensor[2,3,4] requires_grad=0 grad=no op=leaf {-2, -1, 0, 1, 2, -2, -1, 0, ...}") !=
          std::string::npos);
  }
  SECTION("stopped in layernorm_backward, y carries its op and a gradient buffer") {
    const std::string out = gdb_run("nl::kernels::layernorm_backward",
                                     {"print y", "print x", "print keep", "nlgrad y", "nlgrad dy"});
    INFO(out);
    CHECK(out.find("layernorm_backward") != std::string::npos);
    // y = LayerNorm(x): each row of 4 evenly spaced values normalises to the same 4 values.
    CHECK(out.find("$1 = Tensor[2,3,4] requires_grad=1 grad=yes op=layernorm {-1.342, -0.4472, 0.4472, 1.342, "
                   "-1.342, -0.4472, 0.4472, 1.342, ...}") != std::string::npos);
    // the backward walk has allocated x's gradient by now (zeros until the kernel adds)
    CHECK(out.find("$2 = Tensor[2,3,4] requires_grad=1 grad=yes op=leaf") != std::string::npos);
    CHECK(out.find("$3 = Tensor[2,3] requires_grad=0 grad=no op=leaf {1, 1, 1, 1, 1, 1}") != std::string::npos);
    // nlgrad: y's gradient is the seed dy; dy itself has none
    CHECK(out.find("d(y) [2,3,4] {-2, -1, 0, 1, 2, -2, -1, 0, ...}") != std::string::npos);
    CHECK(out.find("d(dy) [2,3,4]: no gradient buffer yet") != std::string::npos);
  }
}
