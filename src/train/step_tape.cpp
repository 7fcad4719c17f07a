// train/step_tape.cpp — one training forward, kept for drawing (see step_tape.h).
//
// What it is: the first step of train() stopped at the loss, built from the same pieces:
// the Trainer (train_step.h: make_run, optimizer, batcher) and step_forward(), the first
// half of train_step(). Nothing is differentiated.
// What it is not: a second trainer (tests/unit/cli/test_graph.cpp compares the loss with a run's).
#include "normlab/train/step_tape.h"

#include "normlab/train/train_step.h"

namespace nl {

StepTape first_training_step(const Config& cfg) {
  Trainer t(cfg, local_comm());  // threads, task, model, batcher: as train() builds them
  StepTape s;
  s.batch = t.batcher.next();
  t.model().set_training(true);
  StepForward f = step_forward(t.model(), s.batch, s.batch, 1);
  s.logits = f.logits;
  s.loss = f.loss;
  s.task = std::move(t.run.task);
  s.model = std::move(t.run.model);
  return s;
}

}  // namespace nl
