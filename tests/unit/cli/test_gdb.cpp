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

namespace {

// The line (from 1) of a source file that contains `text`.
int line_of(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f);
  char buf[1024];
  int n = 0, found = 0;
  while (!found && std::fgets(buf, sizeof buf, f)) {
    ++n;
    if (std::string(buf).find(text) != std::string::npos) found = n;
  }
  std::fclose(f);
  REQUIRE(found > 0);
  return found;
}

// gdb in batch mode on the probe, started at main, then `cmds`.
std::string gdb_from_main(const std::vector<std::string>& cmds) {
  std::string cmd = "gdb -batch -nx -ex 'set debuginfod enabled off' -ex 'set confirm off'"
                    " -ex 'skip -rfu ^std::' -ex 'source " NORMLAB_SOURCE_DIR "/scripts/gdb/normlab_printers.py'"
                    " -ex start";
  for (const std::string& c : cmds) cmd += " -ex '" + c + "'";
  cmd += " -ex kill --args '" NORMLAB_GDB_PROBE "'";
  return run(cmd).second;
}

}  // namespace

TEST_CASE("gdb: nlnext-op and step go from the tape walk into an op's backward closure", "[gdb]") {
  if (!have_gdb()) {
    WARN("gdb not found on PATH: skipping the nlnext-op test (apt-get install gdb)");
    return;
  }
  const std::string probe = NORMLAB_SOURCE_DIR "/tests/gdb/probe.cpp";
  const int first = line_of(probe, "float* dx = x.grad();  // the closure's first line");
  SECTION("nlnext-op OP: the walk's number, op and shape, then the closure's first line") {
    const std::string out = gdb_from_main({"nlnext-op probe_triple", "nlprint o", "nlprint x 0"});
    INFO(out);
    // "#1": its number in the walk; "#?" where the optimised walk does not keep it (the
    // release build this test links; the debug build prints the number)
    CHECK((out.find("nlnext-op: #1 probe_triple -> [2,3,4]") != std::string::npos ||
           out.find("nlnext-op: #? probe_triple -> [2,3,4]") != std::string::npos));
    CHECK(out.find("probe.cpp:" + std::to_string(first) + "\n" + std::to_string(first) + "\t") != std::string::npos);
    // o = 3 w, w = -3 + 0.5 i; its gradient is the seed dy = (i % 5) - 2, norm sqrt(46)
    CHECK(out.find("o: Tensor[2,3,4] op=probe_triple, 24 values\n  {-9, -7.5, -6, -4.5, -3, -1.5, 0, 1.5, ...}\n"
                   "  min -9  max 25.5  mean 8.25\n  grad: norm 6.782\n  {-2, -1, 0, 1, 2, -2, -1, 0, ...}") !=
          std::string::npos);
    // N = 0: every value; x (= w) has a zeroed gradient buffer, nothing added yet
    CHECK(out.find("x: Tensor[2,3,4] op=leaf, 24 values\n  {-3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, "
                   "3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5}\n  min -3  max 8.5  mean 2.75\n  grad: none yet") !=
          std::string::npos);
  }
  SECTION("a stop in nl::run_closure (the walk's call of a closure) goes on into the closure") {
    const int call = line_of(probe, "w3.backward(dy);");
    const std::string out = gdb_from_main({"tbreak probe.cpp:" + std::to_string(call), "continue",
                                           "break nl::run_closure", "continue", "bt 3", "nlprint dx 0",
                                           "nlprint x.data() 3"});
    INFO(out);
    CHECK(out.find("probe.cpp:" + std::to_string(first) + "\n" + std::to_string(first) + "\t") != std::string::npos);
    // the one-line frame the hook stepped through is below the closure (nl::run_closure too,
    // unless the optimiser made its call of it a jump)
    CHECK(out.find("#1  0x") != std::string::npos);
    CHECK(out.find("in nl::OpNode<probe_triple(") != std::string::npos);
    CHECK(out.find("nlprint: dx is a float pointer; say how many values") != std::string::npos);
    CHECK(out.find("x.data(): 3 floats {-3, -2.5, -2}\n  min -3  max -2  mean -2.5") != std::string::npos);
  }
}
