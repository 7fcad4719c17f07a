// train/trainer.h — `normlab train` and `normlab eval` as functions.
//
// What it is: the training loop (batches -> forward -> loss -> backward -> clip ->
// optimizer step), periodic evaluation per length bucket, metrics.csv, checkpoints
// that resume bit-identically, and the stop on a NaN/Inf loss or gradient. On K ranks
// (mpirun) the same loop runs data parallel (TrainOptions::comm).
// What it is not: the model, the data or the optimizer (nn/, data/, optim/), nor the
// command line (cli/cmd_train.cpp parses the flags and calls train() or evaluate()).
// A run folder holds:
//   config.json              the resolved config
//   metrics.csv              one row per logged step (columns below)
//   checkpoint.safetensors   weights, BatchNorm buffers, optimizer state, RNG, data position
//   result.json              written last: the run finished (compare skips such runs):
//                            {steps, final_train_loss, seconds, eval: eval_to_json(),
//                             bn_jitter: BatchStatsJitter::to_json()}
//   normlab.lock             flock'ed while a process writes the folder; names its pid
// metrics.csv columns, in order: step, loss, lr, grad_norm, tokens_per_s, then for each
// eval split S: eval_loss/S, eval_acc/S (empty on steps without evaluation), then for
// each BatchNorm-like layer L (batch_stats() != nullptr): drift_mean/L, drift_var/L, then
// for each layer group G (embed, layers.0, ..., head): grad_norm/G. Every number is written
// with %.9g (all the bits of a float32). Units: README, "The run folder".
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/config.h"
#include "normlab/data/task.h"
#include "normlab/dist/comm.h"
#include "normlab/nn/encoder.h"
#include "normlab/train/evaluator.h"  // evaluate(), EvalResult, eval_to_json()

namespace nl {

struct TrainOptions {
  std::string out_dir;       // overrides cfg.train.out_dir when not empty
  bool resume = false;       // continue from out_dir/checkpoint.safetensors
  int stop_after = -1;       // stop (with a checkpoint) after this many steps; 0: only the
                             // step-0 checkpoint (initial weights: `normlab init`)
  bool quiet = false;        // no progress output
  // Data parallel: the K ranks training this model (world_comm() under mpirun); nullptr:
  // this process alone. train.batch_size is the global batch: each rank trains on its
  // contiguous shard of every batch, gradients are summed over ranks, and only rank 0
  // writes the run folder.
  Comm* comm = nullptr;
};

struct TrainResult {
  int steps = 0;
  double final_train_loss = 0;   // mean training loss over the last log window
  std::vector<EvalResult> evals; // at the end
  nlohmann::json bn_jitter = nlohmann::json::object();  // BatchStatsJitter::to_json() at the end
  nlohmann::json leak_gap = nullptr;  // LeakGap::to_json() of the final model (train/leak.h); null on K > 1 ranks
  double seconds = 0;
  std::string out_dir;
  bool already_finished = false; // --resume of a finished run: nothing ran, result.json untouched
  int interrupted_by = 0;        // SIGINT/SIGTERM: stopped after step `steps`, with a checkpoint
};

// SIGINT or SIGTERM during train() finish the step in progress, write a checkpoint and return
// with interrupted_by set (no result.json); `--resume` then continues bit-identically.
TrainResult train(const Config& cfg, const TrainOptions& opt);

// The spread of each batch-statistics norm's batch statistics over the logged training
// steps (docs/math.md, Diagnostics, "Jitter"): per feature the std over logged steps of the
// batch mean (and of the batch variance), averaged over the features. Accumulated in
// float64 around the first logged value; its state goes into checkpoints, so a resumed run
// reports exactly what an uninterrupted one does.
class BatchStatsJitter {
 public:
  // Adds one logged step of `layer` (its batch_stats() after the step's last training forward).
  void add(const std::string& layer, const BatchNormStats& st);
  // {layer: {"mean_std", "var_std", "steps"}} in the order layers were first added.
  nlohmann::json to_json() const;
  // One checkpoint __metadata__ value (all of the state, every double with 17 digits), and back.
  std::string to_string() const;
  // Throws UserError naming `what` when `text` is not what to_string() writes.
  void from_string(const std::string& text, const std::string& what);

 private:
  struct Sums {
    std::string layer;
    long long n = 0;                          // logged steps
    std::vector<double> ref_mean, ref_var;    // the first logged values: the shift of the sums
    std::vector<double> s_mean, ss_mean;      // sum (mean - ref), sum (mean - ref)^2 per feature
    std::vector<double> s_var, ss_var;
  };
  std::vector<Sums> layers_;
};

}  // namespace nl
