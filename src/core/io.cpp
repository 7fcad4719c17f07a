// io.cpp — atomic whole-file writes and checked appends (see io.h).
//
// What it is: POSIX open/write/fsync/rename with every return value checked, and errors
// turned into one-line UserErrors naming the file.
// What it is not: buffered I/O. Each write goes straight to the kernel, so nothing is
// left in a user-space buffer to be lost or to fail silently at exit.
#include "normlab/core/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "normlab/core/error.h"

namespace nl {

namespace {

std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// write(2) until all n bytes are out (it may write fewer), retrying on EINTR.
// Returns 0, or the errno of the failed call.
int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;  // should not happen for regular files; never loop forever
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// AtomicFile: <path>.tmp, write, fsync, close, rename, fsync the folder.

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create " + tmp_, errno);
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::fail(const std::string& what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  committed_ = true;  // nothing left for the destructor to do
  throw UserError(path_ + ": " + what + ": " + std::strerror(err), 1);
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_ || fd_ < 0) throw std::logic_error("AtomicFile::write after commit: " + path_);
  if (int err = write_all(fd_, (const char*)data, n)) fail("write failed", err);
}

void AtomicFile::commit() {
  if (committed_ || fd_ < 0) throw std::logic_error("AtomicFile::commit twice: " + path_);
  // The data must be on disk before the rename makes it the file; else a power cut
  // could leave a renamed but empty file.
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed", errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename " + tmp_ + " over it", errno);
  committed_ = true;
  // Make the rename itself durable. Some file systems cannot fsync a folder (EINVAL):
  // the rename has happened either way, so only a real I/O error is reported.
  int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const bool ok = ::fsync(dfd) == 0 || errno == EINVAL || errno == EROFS;
    const int err = errno;
    ::close(dfd);
    if (!ok) throw UserError(path_ + ": fsync of its folder failed: " + std::strerror(err), 1);
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

// ---------------------------------------------------------------------------------------
// AppendFile: one write(2) per record on an O_APPEND descriptor.

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::open(const std::string& path) {
  if (fd_ >= 0) close();
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError(path_ + ": cannot open for appending: " + std::strerror(errno), 1);
}

void AppendFile::append(const std::string& record) {
  if (fd_ < 0) throw std::logic_error("AppendFile::append before open");
  if (int err = write_all(fd_, record.data(), record.size()))
    throw UserError(path_ + ": write failed: " + std::strerror(err), 1);
}

void AppendFile::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw UserError(path_ + ": close failed: " + std::strerror(errno), 1);
}

void flush_stdout_or_throw() {
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int err = errno;
    std::clearerr(stdout);
    throw UserError(std::string("stdout: write failed: ") + std::strerror(err ? err : EIO), 1);
  }
}

}  // namespace nl
