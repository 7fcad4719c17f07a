// train/step_tape.h — the tape of ONE training step, for `normlab graph` and its tests.
//
// What it is: the first step of train() up to the loss — same task, same model, same
// seeds, same first batch, training mode — so the graph a learner draws is the graph the
// trainer differentiates. Nothing is differentiated here: the loss's tape is left for
// autograd_dot (graph.h) to walk.
// What it is not: a training loop (trainer.h): no backward, no optimizer, no files.
#pragma once
#include <memory>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/nn/encoder.h"

namespace nl {

struct StepTape {
  TaskData task;
  std::unique_ptr<Encoder> model;
  Batch batch;     // the first training batch
  Tensor logits;
  Tensor loss;     // its tape reaches every parameter the step uses
};

// Builds the run as train() does (Trainer, train/train_step.h: threads, task, model, batcher)
// and runs step_forward() on the first batch: with the reference kernel set, each norm shows
// up as the ops it is composed of.
StepTape first_training_step(const Config& cfg);

}  // namespace nl
