// files.cpp — read a user's input file whole: regular files only, size capped (files.h).
//
// What it is: open(O_RDONLY | O_NONBLOCK), fstat, refuse anything but a regular file or
// anything over the cap, then read(2) to the end. O_NONBLOCK matters for a FIFO: a plain
// open() of a FIFO waits for a writer forever; with O_NONBLOCK it returns at once and
// fstat says what it is. The cap is checked again while reading, since a file can grow
// (or lie about its size, as files in /proc do). Standard input ("-") is read to its end
// under the same cap. Text is checked as UTF-8 and cut into lines here, so every reader
// names a bad byte the same way. Also where the files normlab ships with
// (scripts, the wordlang data) are found: installed beside the binary, or in the source tree.
// What it is not: a parser or a writer.
#include "normlab/core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "normlab/core/error.h"
#include "normlab/core/json_io.h"

namespace nl {

std::string file_type_name(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

std::string bytes_str(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) bytes /= 1024, ++u;
  char buf[64];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f bytes", bytes);
  else std::snprintf(buf, sizeof buf, bytes < 10 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

void strip_utf8_bom(std::string& text) {
  if (text.size() >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
      (unsigned char)text[2] == 0xBF)
    text.erase(0, 3);
}

namespace {

[[noreturn]] void fail(const std::string& label, const std::string& what, int code) {
  throw UserError(label + ": " + what, code);
}

std::string too_big(uint64_t size, const std::string& kind, uint64_t max_bytes) {
  std::string have = bytes_str((double)size), cap = bytes_str((double)max_bytes);
  if (have == cap) have = std::to_string(size) + " bytes";  // not "256 MiB is larger than 256 MiB"
  return have + " is larger than the " + cap + " limit for a " + kind;
}

// Open and check; returns the descriptor and the size fstat gave.
int open_regular(const std::string& path, const std::string& label, const std::string& kind,
                 uint64_t max_bytes, int code, uint64_t& size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    struct stat st;
    // open() of a socket fails (ENXIO); say what it is rather than "no such device".
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      fail(label, "is " + file_type_name(st.st_mode) + ", not a " + kind + " (a regular file)", code);
    fail(label, "cannot open " + kind + ": " + std::strerror(err), code);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(label, "cannot stat " + kind + ": " + std::strerror(err), code);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(label, "is " + file_type_name(st.st_mode) + ", not a " + kind + " (a regular file)", code);
  }
  size = (uint64_t)st.st_size;
  if (size > max_bytes) {
    ::close(fd);
    fail(label, too_big(size, kind, max_bytes), code);
  }
  return fd;
}

}  // namespace

uint64_t regular_file_size(const std::string& path, const std::string& label, const std::string& kind,
                           uint64_t max_bytes, int code) {
  uint64_t size = 0;
  ::close(open_regular(path, label, kind, max_bytes, code, size));
  return size;
}

std::string read_regular_file(const std::string& path, const std::string& label, const std::string& kind,
                              uint64_t max_bytes, int code) {
  uint64_t size = 0;
  int fd = open_regular(path, label, kind, max_bytes, code, size);
  std::string out;
  try {
    out.resize((size_t)size);
    size_t have = 0;
    for (;;) {
      if (have == out.size()) {
        // fstat's size is a hint: read on until end of file, within the cap.
        if (out.size() > max_bytes) fail(label, too_big(out.size(), kind, max_bytes), code);
        out.resize(out.size() + 65536);
      }
      ssize_t r = ::read(fd, &out[have], out.size() - have);
      if (r < 0) {
        if (errno == EINTR) continue;
        fail(label, "cannot read " + kind + ": " + std::strerror(errno), code);
      }
      if (r == 0) break;
      have += (size_t)r;
    }
    out.resize(have);
    if (have > max_bytes) fail(label, too_big(have, kind, max_bytes), code);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return out;
}

std::string read_input_file(const std::string& path, const std::string& label, const std::string& kind,
                            uint64_t max_bytes, int code) {
  if (path != "-") return read_regular_file(path, label, kind, max_bytes, code);
  // Standard input: whatever it is (a pipe, a file, a terminal), read to its end, capped.
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::read(0, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(label, "cannot read " + kind + ": " + std::strerror(errno), code);
    }
    if (r == 0) break;
    if (out.size() + (size_t)r > max_bytes) fail(label, "more than the " + bytes_str((double)max_bytes) + " limit for a " + kind, code);
    out.append(buf, (size_t)r);
  }
  return out;
}

void require_utf8_text(std::string_view text, const std::string& name, int code) {
  const size_t bad = first_invalid_utf8(text);
  if (bad == std::string_view::npos) return;
  size_t line = 1;
  for (size_t i = 0; i < bad; ++i) line += text[i] == '\n';
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", (unsigned)(unsigned char)text[bad]);
  throw UserError(name + ":" + std::to_string(line) + ": invalid UTF-8: byte " + byte + " at offset " +
                      std::to_string(bad) + " (save the file as UTF-8)",
                  code);
}

std::vector<TextLine> text_lines(std::string_view text, const std::string& name, int code) {
  require_utf8_text(text, name, code);
  std::vector<TextLine> lines;
  size_t begin = 0;
  for (int number = 1; begin < text.size(); ++number) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({number, std::string(line)});
    begin = end + 1;
  }
  return lines;
}

std::string shipped_file(const std::string& rel) {
  std::vector<std::string> places;
  // The folder of the running binary (/proc/self/exe: wherever it was installed or copied).
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    const std::filesystem::path dir = std::filesystem::path(exe).parent_path();
    places.push_back((dir / NORMLAB_SHARE_FROM_BIN / rel).lexically_normal().string());
  }
  places.push_back(std::string(NORMLAB_SOURCE_DIR) + "/" + rel);
  for (const std::string& p : places) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0) return p;
  }
  return "";
}

}  // namespace nl
