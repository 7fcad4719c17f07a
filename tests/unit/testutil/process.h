// testutil/process.h — helpers for tests that run the `normlab` binary as a user would:
// run it and capture its output, start it in the background and signal it, wait for a
// file to show a line, and mount a tiny tmpfs to fill a disk for real.
//
// What it is not: a test. The cases live in test_io.cpp, test_resume.cpp, test_signals.cpp.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testutil {

namespace fs = std::filesystem;

// The sanitizer options of every rank mpirun starts (ignored by a build without sanitizers):
// under the asan preset LeakSanitizer would report Open MPI's own unfreed allocations at each
// rank's exit and turn exit 0 into 1; tests/mpi/lsan.supp suppresses those, and only those
// (see the file for why the slow unwinder is needed). kMpiEnv prefixes a shell command.
inline const std::string kRankAsan = "fast_unwind_on_malloc=0";
inline const std::string kRankLsan = "suppressions=" + std::string(NORMLAB_TEST_DIR) + "/mpi/lsan.supp:print_suppressions=0";
inline const std::string kMpiEnv = "ASAN_OPTIONS=" + kRankAsan + " LSAN_OPTIONS=" + kRankLsan + " ";

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A path under the temp folder that is this process's own: "normlab_test_<tag>_<pid>"
// (the pid before the extension, if the tag has one), so two suites running at once (two
// worktrees, two CI jobs on one host) never share a run folder or a file.
inline fs::path unique_temp(const std::string& tag) {
  const size_t dot = tag.rfind('.');
  const std::string stem = tag.substr(0, dot), ext = dot == std::string::npos ? "" : tag.substr(dot);
  return fs::temp_directory_path() / ("normlab_test_" + stem + "_" + std::to_string(::getpid()) + ext);
}

// A fresh empty directory per test, removed at the end.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = unique_temp(tag);
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path operator/(const std::string& name) const { return dir / name; }
};

struct Run {
  int code;  // exit code, or 128 + signal
  std::string out, err;
};

// Run `normlab --threads 1 ARGS` through the shell, capturing stdout and stderr.
inline Run normlab(const std::string& args, const std::string& redirect_stdout = "") {
  static int n = 0;
  const fs::path dir = fs::temp_directory_path() / "normlab_test_proc";
  fs::create_directories(dir);
  const std::string tag = std::to_string(getpid()) + "_" + std::to_string(n++);
  const fs::path out = dir / ("out_" + tag), err = dir / ("err_" + tag);
  const std::string to = redirect_stdout.empty() ? out.string() : redirect_stdout;
  const std::string cmd = std::string(NORMLAB_BINARY) + " --threads 1 " + args + " >" + to + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out), slurp(err)};
  fs::remove(out);
  fs::remove(err);
  return r;
}

// `normlab --threads 1 ARGS...` in the background; stdout and stderr to files.
struct Child {
  pid_t pid = -1;
  fs::path out, err;
  Child(const std::vector<std::string>& args, const fs::path& log_prefix) {
    out = log_prefix.string() + ".out";
    err = log_prefix.string() + ".err";
    std::vector<std::string> argv = {NORMLAB_BINARY, "--threads", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    pid = fork();
    if (pid == 0) {
      int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fo, 1);
      dup2(fe, 2);
      execv(a[0], a.data());
      _exit(127);
    }
  }
  // Exit code, or 128 + the signal that killed it.
  int wait() {
    if (pid < 0) return exited_code;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // SIGSTOP, and wait until it has stopped: true if it is stopped (alive), false if it had
  // exited already (then wait() returns its exit code).
  int exited_code = -1;
  bool stop() {
    kill(pid, SIGSTOP);
    int status = 0;
    while (waitpid(pid, &status, WUNTRACED) < 0 && errno == EINTR) {}
    if (WIFSTOPPED(status)) return true;
    exited_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid = -1;
    return false;
  }
  void resume() { kill(pid, SIGCONT); }
  // Still running (or stopped)? Does not reap it: wait() still gets the exit code.
  bool running() const {
    if (pid <= 0) return false;
    siginfo_t info{};
    waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
    return info.si_pid == 0;
  }
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Poll until `pred` holds (no time limit here: ctest's per-test timeout is the backstop,
// so a slow machine never fails a test by timing).
template <class Pred>
void wait_until(Pred pred) {
  while (!pred()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// The state letter of a process in /proc (R, S, T stopped, Z zombie, ...), or 0 if gone.
inline char proc_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? 0 : stat[paren + 2];
}

// SIGSTOP a process that is not our child; true once it is stopped, false if it is gone.
inline bool freeze(pid_t pid) {
  if (kill(pid, SIGSTOP) != 0) return false;
  char st;
  wait_until([&] { st = proc_state(pid); return st == 'T' || st == 't' || st == 'Z' || st == 0; });
  return st == 'T' || st == 't';
}

// Lines in a file that start with a digit (metrics rows).
inline int data_rows(const fs::path& csv) {
  std::ifstream in(csv);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += !line.empty() && line[0] >= '0' && line[0] <= '9';
  return n;
}

// A small tmpfs, to run out of disk space for real. `ok` is false where mounting is not
// permitted (no CAP_SYS_ADMIN); tests then say so and check what they can without it.
struct Tmpfs {
  fs::path dir;
  bool ok = false;
  Tmpfs(const std::string& tag, int kilobytes) {
    dir = fs::temp_directory_path() / ("normlab_test_tmpfs_" + tag + "_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string opts = "size=" + std::to_string(kilobytes) + "k";
    ok = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~Tmpfs() {
    if (ok) ::umount2(dir.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // Write a filler file until the disk is full.
  void fill() const {
    int fd = ::open((dir / "filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char> block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {}
    ::close(fd);
  }
};

}  // namespace testutil
