// train/leak.h — causal BatchNorm leakage: does a token's output see the tokens after it?
//
// What it is: two measurements of one effect (docs/math.md, "Causal BatchNorm leakage").
// A causal model's attention lets position t read positions <= t only. A norm whose
// statistics span the batch (BatchNorm) takes them, in a training forward, over every real
// token of the batch, later tokens of the same sequence included: each token's
// normalisation then depends on the future, and the training loss can use it.
//   future_leak: change only the tokens after position t; how far do the outputs at
//     positions <= t move? 0 (to rounding) for LayerNorm and RMSNorm; not 0 for
//     training-mode BatchNorm.
//   leak_gap: the loss of the final model on the same training batches with the training
//     forward's statistics and with the running ones (result.json "leak_gap").
// What it is not: a training step. Both leave the model as they found it: its buffers
// (running statistics), its dropout stream and its mode are restored, no gradient is kept.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "normlab/data/task.h"
#include "normlab/nn/encoder.h"

namespace nl {

// `batch` with every real token at a position > t replaced by another token of 1..vocab-1
// (token v -> v % (vocab-1) + 1; pads and positions <= t unchanged).
Batch with_future_changed(const Batch& batch, int t, int vocab);

// The largest |difference| of the logits at the real positions <= t of every sequence
// between `batch` and with_future_changed(batch, t, vocab), both through a training forward
// (training = true: the statistics training uses) or an evaluation forward (false: running
// statistics). Needs a per-token head (tag or lm); std::invalid_argument for classify.
double future_leak(Encoder& model, const Batch& batch, int t, int vocab, bool training);

struct LeakGap {
  int batches = 0;              // training batches measured
  double loss_train = 0;        // mean loss, training forward (batch statistics)
  double loss_running = 0;      // mean loss, evaluation forward (running statistics)
  double gap() const { return loss_running - loss_train; }
  nlohmann::json to_json() const;  // {"batches", "loss_train_stats", "loss_running_stats", "gap"}
};

// The first `max_batches` batches (fewer if an epoch has fewer) that a fresh Batcher over
// `train` with this seed yields: the batches training began its first epoch with.
LeakGap measure_leak_gap(Encoder& model, const Dataset& train, int batch_size, bool bucket_by_length,
                         uint64_t seed, int max_batches = 16);

}  // namespace nl
