// train/train_state.h — what a training run is, besides its tensors, and its form in a
// checkpoint's metadata.
//
// What it is: the values every step depends on that are not weights, buffers or optimizer
// moments (those are tensors in the checkpoint): the step count, where the batcher stands,
// the dropout RNG, the loss window since the last metrics row, the last logged loss and the
// batch-statistics jitter. to_metadata() writes them into a checkpoint's __metadata__ and
// from_metadata() reads them back strictly, in this one file, so `--resume` continues
// bit-identically.
// What it is not: the config check of a resume (resume.h), nor the file format (checkpoint.h).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "normlab/data/task.h"
#include "normlab/train/jitter.h"

namespace nl {

// The training loss between two metrics rows.
struct LossWindow {
  double loss_sum = 0;
  int steps = 0;
  long long real_tokens = 0;
};

struct TrainState {
  int step = 0;                       // steps done
  Batcher::State data;                // where the batcher stands
  std::array<uint64_t, 4> rng{};      // the model's dropout RNG
  LossWindow window;
  double last_logged_loss = NAN;      // the last metrics row's loss (NaN: none yet / older checkpoint)
  BatchStatsJitter jitter;            // every logged step's batch statistics (result.json's bn_jitter)
  bool jitter_complete = true;        // false: resumed from a checkpoint written without it

  // The metadata entries: step, rng, data_epoch, data_cursor, window_loss_sum, window_steps,
  // window_tokens, last_logged_loss, bn_jitter (every double with 17 digits: every bit).
  std::map<std::string, std::string> to_metadata() const;
  // Those entries parsed strictly (UserError naming `path` and the key); `trained_for` is the
  // train.steps the checkpoint was trained with (the step must lie in 0..trained_for).
  static TrainState from_metadata(const std::map<std::string, std::string>& meta, long long trained_for,
                                  const std::string& path);
};

}  // namespace nl
