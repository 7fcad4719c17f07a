// train/run.cpp — a run's task and model from its config (see train/run.h).
//
// What it is: the data seed rule, make_task and the Encoder constructor, in that order.
// What it is not: anything that reads or writes a run folder (trainer.cpp).
#include "normlab/train/run.h"

#include "normlab/core/runtime.h"

namespace nl {

uint64_t data_seed_of(const Config& cfg) { return cfg.task.data_seed ? cfg.task.data_seed : cfg.train.seed; }

Run make_run(const Config& cfg, const ExecOptions& exec) {
  set_num_threads(cfg.train.threads);
  Run run;
  run.data_seed = data_seed_of(cfg);
  run.task = make_task(cfg.task, run.data_seed);
  run.model = std::make_unique<Encoder>(cfg.model, run.task.head, run.task.vocab, run.task.n_classes,
                                        cfg.train.seed, exec);
  return run;
}

Run make_run(const Config& cfg) { return make_run(cfg, exec_options(cfg.train)); }

}  // namespace nl
