// io.h — the two ways normlab writes files: whole and atomically, or appended row by row.
//
// What it is: every file normlab writes whole (checkpoint, config.json, result.json,
// summary.json, report.md, eval --json, data export, graph) goes through AtomicFile /
// write_file_atomic: "<path>.tmp" in the same folder, every write checked, fsync, close,
// rename over <path>, fsync the folder. A reader (or a process killed at any moment) sees
// the old file or the new one whole, never a part. metrics.csv, which grows during a run,
// goes through AppendFile: each row is one write(2), checked, so a full disk stops the run.
// Every failure, a full disk included, is a UserError (exit 1) that names the file:
//     "runs/x/result.json: write failed: No space left on device"
// and leaves the old file as it was.
// What it is not: a reader, nor a lock (see train/run_lock.h for one writer per run folder).
#pragma once
#include <cstddef>
#include <string>

namespace nl {

// A file written whole, atomically. Write the pieces, then commit(); destroyed without
// commit() (an exception on the way), the temporary file is removed and <path> untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // creates "<path>.tmp" (replacing a stale one)
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // all n bytes, or throws
  void write(const std::string& s) { write(s.data(), s.size()); }
  void commit();                           // fsync, close, rename over path, fsync the folder

  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// The whole of `bytes` as <path>, atomically (AtomicFile in one call).
void write_file_atomic(const std::string& path, const std::string& bytes);

// A file that grows one record at a time (metrics.csv). Each append() is a single write(2)
// on an O_APPEND descriptor: when it returns, the row is in the file; when the disk is
// full, it throws instead.
class AppendFile {
 public:
  AppendFile() = default;
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void open(const std::string& path);      // creates the file if missing; appends otherwise
  void append(const std::string& record);  // all of it, or throws
  void close();                            // checked close; the destructor closes unchecked

 private:
  std::string path_;
  int fd_ = -1;
};

// Flush stdout and report a failed write (e.g. `normlab eval --json - > /dev/full`).
void flush_stdout_or_throw();

}  // namespace nl
