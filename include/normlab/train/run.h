// train/run.h — a run built from a config: its task (data) and its model, the one way.
//
// What it is: the setup every command that starts from a config shares — train, eval,
// graph (step_tape.h), data export and the tests that rebuild a run's model:
//   data seed  task.data_seed, or train.seed when it is 0
//   task       make_task(cfg.task, data seed)
//   model      Encoder(cfg.model, the task's head / vocabulary / classes, train.seed, exec)
// with the thread count of train.threads applied first. Two calls with the same config
// give the same data and the same initial weights.
// What it is not: the training loop (trainer.h), nor a model read back from a checkpoint
// (saved_model.h builds that one, and copies the weights in).
#pragma once
#include <cstdint>
#include <memory>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/core/exec.h"
#include "normlab/nn/encoder.h"

namespace nl {

// The seed the task's examples and the training batch order are drawn with.
uint64_t data_seed_of(const Config& cfg);

struct Run {
  uint64_t data_seed = 0;          // data_seed_of(cfg): Batcher takes it too
  TaskData task;
  std::unique_ptr<Encoder> model;  // initial weights (train.seed), training mode
};

// set_num_threads(cfg.train.threads), the task, then the model built with `exec` (the
// trainer adds its ranks: exec.comm).
Run make_run(const Config& cfg, const ExecOptions& exec);
// The same with exec_options(cfg.train).
Run make_run(const Config& cfg);

}  // namespace nl
