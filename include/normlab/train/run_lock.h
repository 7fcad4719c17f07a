// train/run_lock.h — one writer per run folder: an advisory lock held while a run writes.
//
// What it is: flock(LOCK_EX | LOCK_NB) on "<dir>/normlab.lock", whose content is the pid of
// the holder. A second `normlab train` on the same folder fails at once (exit 2) naming that
// pid, instead of both appending to metrics.csv and overwriting each other's checkpoint.
// The kernel drops the lock when the holder exits, however it exits (kill -9 included), so
// a stale lock file never blocks the next run. The file itself stays in the folder.
// What it is not: protection against writers that do not take it (an editor, `rm`), nor a
// lock across machines (flock on NFS is not reliable).
#pragma once
#include <string>

namespace nl {

class RunLock {
 public:
  static constexpr const char* kFileName = "normlab.lock";

  // Takes the lock on `dir` (which must exist) or throws UserError(code 2):
  //   "runs/x is in use by another normlab process (pid 1234); wait for it to finish or use another --out"
  explicit RunLock(const std::string& dir);
  ~RunLock();  // releases it
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Who holds dir's lock now: its pid, -1 if held but the pid is not written yet, 0 if free.
  // (For callers that must not touch a folder in use, e.g. compare before it cleans a run.)
  static long holder(const std::string& dir);

 private:
  int fd_ = -1;
};

// What a run leaves in its folder (checkpoint.safetensors, result.json, metrics.csv): those of
// them that `dir` holds, joined by ", "; "" when it holds none (or does not exist).
std::string run_files_in(const std::string& dir);

// `train` without --resume and `init` start a run from step 0, which would overwrite the
// checkpoint, delete result.json and cut metrics.csv to its header. A folder another
// process holds is refused as RunLock refuses it (in use, its pid); then, unless
// `overwrite` (the --overwrite flag), a folder that holds a run, with UserError(code 2):
//   "runs/x holds a run (checkpoint.safetensors, result.json); continue it with --resume,
//    or start it again with --overwrite"
void refuse_to_overwrite_run(const std::string& dir, bool overwrite);

}  // namespace nl
