// test_readme_commands.cpp — the README's example commands run, in order, as written.
//
// What it is: reads the ```sh blocks of the README sections a newcomer follows (`Using it`,
// the data-parallel and compare-over-ranks examples, `Evaluating and using a trained
// model`, `See the tape`), takes each command line (its first word is normlab, mpirun, echo
// or printf) and runs them in order with bash, in a scratch folder that holds the source's
// configs/, data/ and scripts/ (symlinks) with the build's normlab first on PATH. A command
// that exits non-zero fails the test, quoting the README line and its output. So that the
// whole list takes seconds, the normlab part of a line gets a little work appended:
//   train, init  --set train.steps=30 --set optim.warmup_steps=0
//   compare      --dry-run (the plan and every run's config are checked; nothing trains)
//   bench        --steps 1 --warmup 1
//   gradcheck    --filter exp/    (the pass rule and a few cases, not all of them)
// What it is not: a check of what the commands print (other tests do that), nor of the
// gdb walk (test_readme_gdb.cpp), the portable build or the several-hosts example.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testutil/process.h"

namespace fs = std::filesystem;

namespace {

const std::string kSrc = NORMLAB_SOURCE_DIR;

struct ReadmeCommand {
  int line;          // in README.md, from 1
  std::string text;  // as written, trailing comment removed
};

// The line up to a shell comment: a '#' that starts a word outside quotes.
std::string without_comment(const std::string& line) {
  char quote = 0;
  size_t end = line.size();
  for (size_t i = 0; i < line.size() && end == line.size(); ++i) {
    const char c = line[i];
    if (quote) quote = c == quote ? 0 : quote;
    else if (c == '\'' || c == '"') quote = c;
    else if (c == '#' && (i == 0 || line[i - 1] == ' ')) end = i;
  }
  std::string cmd = line.substr(0, end);
  while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
  return cmd;
}

// The ```sh blocks between each heading in `sections` and the next heading of any level.
std::vector<ReadmeCommand> readme_commands(const std::vector<std::string>& sections) {
  std::ifstream f(kSrc + "/README.md");
  REQUIRE(f.good());
  std::vector<ReadmeCommand> out;
  std::string line;
  bool in_section = false, in_block = false;
  for (int n = 1; std::getline(f, line); ++n) {
    if (!in_block && line.rfind("#", 0) == 0) {
      in_section = false;
      for (const std::string& s : sections) in_section = in_section || line.find(s) != std::string::npos;
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      in_block = !in_block && line == "```sh";
      continue;
    }
    if (!in_section || !in_block) continue;
    const std::string first = line.substr(0, line.find(' '));
    if (first != "normlab" && first != "mpirun" && first != "echo" && first != "printf") continue;
    out.push_back({n, without_comment(line)});
  }
  return out;
}

// The command with the test's little work added to its normlab part (before a pipe).
std::string with_little_work(const std::string& cmd) {
  const size_t at = cmd.find("normlab ");
  if (at == std::string::npos) return cmd;
  const size_t bar = cmd.find(" | ", at);
  const std::string head = cmd.substr(0, bar), tail = bar == std::string::npos ? "" : cmd.substr(bar);
  auto has = [&](const std::string& w) { return (" " + head + " ").find(" " + w + " ") != std::string::npos; };
  std::string extra;
  if (has("train") || has("init")) extra = " --set train.steps=30 --set optim.warmup_steps=0";
  else if (has("compare") && !has("--dry-run")) extra = " --dry-run";
  else if (has("bench")) extra = " --steps 1 --warmup 1";
  else if (has("gradcheck")) extra = " --filter exp/";
  return head + extra + tail;
}

}  // namespace

TEST_CASE("README: the example commands run in order, each exits 0", "[readme][cli]") {
  const std::vector<ReadmeCommand> cmds =
      readme_commands({"## Using it", "### Data parallel", "### Comparisons over ranks",
                       "### Evaluating and using a trained model", "# See the tape"});
  REQUIRE(cmds.size() >= 15);

  testutil::TempDir scratch("readme_commands");
  for (const char* d : {"configs", "data", "scripts"}) fs::create_directory_symlink(kSrc + "/" + d, scratch / d);
  const std::string bin_dir = fs::path(NORMLAB_BINARY).parent_path().string();
  for (const ReadmeCommand& c : cmds) {
    const std::string cmd = with_little_work(c.text);
    const fs::path log = scratch / "log", script = scratch / "command.sh";
    std::ofstream(script) << cmd << "\n";
    // testutil::kMpiEnv: under the asan preset the README's mpirun commands would fail on Open
    // MPI's own unfreed allocations otherwise (a build without sanitizers ignores it).
    const std::string shell = "cd '" + scratch.dir.string() + "' && PATH='" + bin_dir + "':\"$PATH\" OMP_NUM_THREADS=1 " +
                              testutil::kMpiEnv + "bash -o pipefail command.sh >log 2>&1 </dev/null";
    const int status = std::system(shell.c_str());
    INFO("README.md:" << c.line << ": " << c.text << "\nran: " << cmd << "\n" << testutil::slurp(log));
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  // The run folders the commands name are in the scratch folder.
  CHECK(fs::exists(scratch / "runs" / "tiny" / "result.json"));
  CHECK(fs::exists(scratch / "runs" / "graph" / "backward.dot"));
}
