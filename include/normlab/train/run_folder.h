// train/run_folder.h — the folder one training run writes: its files, its lock, and whether
// it already holds a finished run.
//
// What it is: the paths of a run folder (README, "The run folder"), the one-writer lock
// (RunLock: a second run on the same folder fails at once), the rule that a folder made for
// a run that fails before writing anything is removed again, and "finished" (result.json,
// written last, with steps == train.steps). On K ranks only rank 0 writes; the others only
// read (config, data, checkpoint).
// What it is not: what goes into the files (trainer.cpp, train_state.h, metrics.h) nor
// their formats (checkpoint.h).
#pragma once
#include <memory>
#include <string>

namespace nl {

class RunLock;

class RunFolder {
 public:
  // The folder `dir`; `writer`: this process writes it (rank 0). Nothing happens on disk yet.
  RunFolder(std::string dir, bool writer);
  ~RunFolder();  // removes a folder open() made if begin() never came (its lock file too)
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  // The writer creates the folder if missing and takes its lock, or throws UserError(2)
  // naming the process that holds it.
  void open();
  // The run changes the folder from here on, and keeps it even if it fails: result.json
  // (no longer true) is removed and config.json written (writer only).
  void begin(const std::string& config_json);
  void write_result(const std::string& json) const;  // result.json, atomically (writer only)

  // Does result.json hold a run that reached `steps`? (A regular file of well-formed JSON
  // whose "steps" is `steps`; anything else: not finished.)
  bool finished(int steps) const;

  const std::string& dir() const { return dir_; }
  bool writer() const { return writer_; }
  std::string checkpoint() const { return file("checkpoint.safetensors"); }
  std::string metrics() const { return file("metrics.csv"); }
  std::string result() const { return file("result.json"); }
  std::string config() const { return file("config.json"); }

 private:
  std::string file(const char* name) const;  // dir / name
  std::string dir_;
  bool writer_;
  bool made_ = false, kept_ = false;
  std::unique_ptr<RunLock> lock_;
};

}  // namespace nl
