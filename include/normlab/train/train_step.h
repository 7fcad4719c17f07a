// train/train_step.h — one training step, the piece a learner steps through.
//
// What it is: a Trainer, built once from a config (the run's data and model as make_run
// builds them, its parameters, the optimizer, the batcher), and train_step(), the step
//     batch -> model.forward -> loss -> backward -> (sum over ranks) -> clip -> optimizer.step(lr)
// that `normlab train` repeats. step_forward() is its first half, to the loss: `normlab graph`
// draws the tape of the first step from it (step_tape.h), and the README's gdb walk stops
// inside its backward. On K ranks (data parallel) each rank trains on its shard of the
// global batch, with its loss scaled so that the ranks' losses and gradients add up to the
// single-process ones (trainer.cpp explains).
// What it is not: the loop around it (trainer.h: folder, state, metrics, evaluation,
// checkpoints).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/parallel/comm.h"
#include "normlab/optim/optimizer.h"
#include "normlab/train/run.h"

namespace nl {

struct Trainer {
  // make_run(cfg) on these ranks (exec.comm), the optimizer over the model's parameters and
  // the batcher of train.batch_size examples (the global batch on K ranks). UserError(2)
  // when the global batch does not split into K equal shards.
  Trainer(const Config& cfg, Comm& comm);
  const Config& cfg;
  Comm& comm;
  Run run;                                  // data seed, task, model
  std::vector<NamedTensor> params, buffers;
  std::unique_ptr<Optimizer> optimizer;
  Batcher batcher;
  std::vector<float> grad_buffer;           // sum_gradients' flat buffer, reused
  Encoder& model() { return *run.model; }
  // What a checkpoint holds: weights, buffers, optimizer state (by name).
  std::vector<NamedTensor> checkpointed() const;
};

// The first half of a step, training mode: the logits of this rank's shard and its loss, the
// mean cross-entropy times n_shard / n_global on K > 1 ranks (the global batch's share;
// n = examples for classify, counted target tokens for tag and lm), so the ranks' losses add
// up to the global batch's. The loss's tape reaches every parameter the step uses.
struct StepForward {
  Tensor logits, loss;
};
StepForward step_forward(Encoder& model, const Batch& shard, const Batch& global, int ranks);

struct StepResult {
  float loss = 0;            // the global batch's loss (summed over ranks)
  float grad_norm = 0;       // the global gradient norm before clipping
  float lr = 0;
  int n_real = 0;            // real tokens of the global batch
  int stop_signal = 0;       // K > 1: a SIGINT/SIGTERM any rank had seen at the loss sum
  std::string not_finite;    // "loss is nan", "a gradient is nan or inf": no update was made
  std::map<std::string, double> group_norms;  // with_group_norms: per layer group, before clipping
};

// Step number `step` (0-based) of train.steps: the next batch, step_forward, backward, the
// gradients summed over ranks, clip, optimizer step, and (unsynced BatchNorm on K > 1)
// rank 0's running statistics to every rank.
StepResult train_step(Trainer& t, int step, bool with_group_norms);

}  // namespace nl
