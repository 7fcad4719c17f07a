// train/step_tape.cpp — one training forward, kept for drawing (see step_tape.h).
//
// What it is: the first lines of train() (trainer.cpp), stopped at the loss.
// What it is not: a second trainer; if train() changes how it builds the model or the
// first batch, this must follow (tests/unit/test_graph.cpp compares the two losses).
#include "normlab/train/step_tape.h"

#include "normlab/runtime.h"

namespace nl {

StepTape first_training_step(const Config& cfg) {
  const TrainConfig& tc = cfg.train;
  set_num_threads(tc.threads);
  StepTape s;
  const uint64_t data_seed = cfg.task.data_seed ? cfg.task.data_seed : tc.seed;
  s.task = make_task(cfg.task, data_seed);
  s.model = std::make_unique<Encoder>(cfg.model, s.task.head, s.task.vocab, s.task.n_classes, tc.seed,
                                      exec_options(tc));
  {
    Batcher batcher(s.task.train, s.task.head, tc.batch_size, tc.bucket_by_length, data_seed);
    s.batch = batcher.next();
  }
  s.model->set_training(true);
  s.logits = s.model->forward(s.batch);
  s.loss = s.model->loss(s.logits, s.batch);
  return s;
}

}  // namespace nl
