// run_folder.cpp — a run folder's paths, lock and life (see train/run_folder.h).
//
// What it is: create + lock, remove-if-never-used, begin (the point after which the folder
// is the run's), and the finished-run check.
// What it is not: the lock itself (run_lock.cpp) nor atomic file writes (core/files.cpp).
#include "normlab/train/run_folder.h"

#include <filesystem>

#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/io.h"
#include "normlab/core/json_io.h"
#include "normlab/train/run_lock.h"

namespace fs = std::filesystem;

namespace nl {

RunFolder::RunFolder(std::string dir, bool writer) : dir_(std::move(dir)), writer_(writer) {}

std::string RunFolder::file(const char* name) const { return (fs::path(dir_) / name).string(); }

RunFolder::~RunFolder() {
  lock_.reset();  // released first: the lock file may then go with the folder
  if (!made_ || kept_) return;
  std::error_code ec;
  fs::remove(fs::path(dir_) / RunLock::kFileName, ec);
  fs::remove(dir_, ec);  // only if empty
}

void RunFolder::open() {
  if (!writer_) return;
  made_ = fs::create_directories(dir_);
  lock_ = std::make_unique<RunLock>(dir_);
}

void RunFolder::begin(const std::string& config_json) {
  kept_ = true;
  if (!writer_) return;
  std::error_code ec;
  fs::remove(result(), ec);
  write_file_atomic(config(), config_json + "\n");
}

void RunFolder::write_result(const std::string& json) const {
  if (writer_) write_file_atomic(result(), json + "\n");
}

bool RunFolder::finished(int steps) const {
  nlohmann::json j;
  try {  // a regular file of well-formed JSON, else not finished (files.h, json_io.h)
    j = parse_json(read_regular_file(result(), result(), "result file", kMaxConfigBytes, 1), result());
  } catch (const UserError&) {
    return false;
  }
  return j.is_object() && j.contains("steps") && j["steps"] == steps;
}

}  // namespace nl
