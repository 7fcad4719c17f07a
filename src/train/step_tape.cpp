// train/step_tape.cpp — one training forward, kept for drawing (see step_tape.h).
//
// What it is: the first lines of train() (trainer.cpp), stopped at the loss: the same
// make_run (train/run.h) and the same first batch.
// What it is not: a second trainer; if train() changes how it draws the first batch, this
// must follow (tests/unit/test_graph.cpp compares the two losses).
#include "normlab/train/step_tape.h"

#include "normlab/train/run.h"

namespace nl {

StepTape first_training_step(const Config& cfg) {
  const TrainConfig& tc = cfg.train;
  StepTape s;
  Run run = make_run(cfg);  // threads, task, model: as train() builds them (train/run.h)
  s.task = std::move(run.task);
  s.model = std::move(run.model);
  {
    Batcher batcher(s.task.train, s.task.head, tc.batch_size, tc.bucket_by_length, run.data_seed);
    s.batch = batcher.next();
  }
  s.model->set_training(true);
  s.logits = s.model->forward(s.batch);
  s.loss = s.model->loss(s.logits, s.batch);
  return s;
}

}  // namespace nl
