// run_lock.cpp — flock on <dir>/normlab.lock with the holder's pid inside (see run_lock.h).
//
// What it is: open, flock(LOCK_EX | LOCK_NB), write our pid; on EWOULDBLOCK, read theirs.
// Also the refusal to start a new run over a folder that holds one (run_lock.h).
// What it is not: a wait for the lock: normlab never queues behind another run.
#include "normlab/train/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "normlab/core/error.h"

namespace nl {

namespace {

std::string lock_path(const std::string& dir) { return dir + "/" + RunLock::kFileName; }

// The pid written in the lock file (0 if none yet: the holder may be between flock and write).
long read_pid(int fd) {
  char buf[32] = {0};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  return std::strtol(buf, nullptr, 10);
}

std::string in_use(const std::string& dir, long pid) {
  return dir + " is in use by another normlab process (" + (pid > 0 ? "pid " + std::to_string(pid) : "pid unknown") +
         "); wait for it to finish or use another --out";
}

}  // namespace

RunLock::RunLock(const std::string& dir) {
  const std::string path = lock_path(dir);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError(path + ": cannot open the run folder's lock: " + std::strerror(errno), 1);
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    const long pid = err == EWOULDBLOCK ? read_pid(fd_) : 0;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) throw UserError(in_use(dir, pid), 2);
    throw UserError(path + ": cannot lock: " + std::strerror(err), 1);
  }
  // Ours now: say who holds it.
  const std::string pid = std::to_string((long)::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != (ssize_t)pid.size()) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw UserError(path + ": write failed: " + std::strerror(err), 1);
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

long RunLock::holder(const std::string& dir) {
  int fd = ::open(lock_path(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  long pid = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    pid = read_pid(fd);
    if (pid <= 0) pid = -1;  // held, but the holder has not written its pid yet
  }
  ::close(fd);  // drops our shared lock, if we got it
  return pid;
}

std::string run_files_in(const std::string& dir) {
  std::string found;
  for (const char* f : {"checkpoint.safetensors", "result.json", "metrics.csv"}) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(dir) / f, ec)) found += (found.empty() ? "" : ", ") + std::string(f);
  }
  return found;
}

void refuse_to_overwrite_run(const std::string& dir, bool overwrite) {
  // A folder another process writes: that first (its files are not a finished run).
  if (const long pid = RunLock::holder(dir)) throw UserError(in_use(dir, pid), 2);
  if (overwrite) return;
  const std::string found = run_files_in(dir);
  if (!found.empty())
    throw UserError(dir + " holds a run (" + found + "); continue it with --resume, or start it again with --overwrite",
                    2);
}

}  // namespace nl
