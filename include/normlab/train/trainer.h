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
//   metrics.csv              one row per logged step (columns: train/metrics.h)
//   checkpoint.safetensors   weights, BatchNorm buffers, optimizer state, RNG, data position
//   result.json              written last: the run finished (compare skips such runs):
//                            {steps, final_train_loss, seconds, eval: eval_to_json(),
//                             bn_jitter: BatchStatsJitter::to_json()}
//   normlab.lock             flock'ed while a process writes the folder; names its pid
// metrics.csv's columns: train/metrics.h. The pieces of the loop: run_folder.h (the folder
// and its lock), train_step.h (Trainer, train_step), train_state.h (what a checkpoint's
// metadata carries), evaluator.h (evaluate), jitter.h. Units: README, "The run folder".
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/parallel/comm.h"
#include "normlab/nn/encoder.h"
#include "normlab/core/profile.h"
#include "normlab/train/evaluator.h"  // evaluate(), EvalResult, eval_to_json()
#include "normlab/train/jitter.h"     // BatchStatsJitter

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
  // `--profile`: every training step is timed into this (profile.h); evaluation is not.
  Profile* profile = nullptr;
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

}  // namespace nl
