// train/data_parallel.h — what the training loop does differently on K ranks.
//
// What it is: the two exchanges of data-parallel training, on top of parallel/comm.h:
//   sum_gradients      after backward, every parameter's gradient becomes the sum of the
//                      ranks' gradients (each rank's loss is already scaled so that the sum
//                      is the gradient of the single-process loss of the global batch);
//   broadcast_tensors  rank 0's values on every rank (unsynced BatchNorm's running
//                      statistics after each step, as PyTorch DDP's broadcast_buffers).
// The shards themselves come from shard_batch (data/task.h).
// What it is not: the loop (trainer.cpp) nor MPI (src/parallel/).
#pragma once
#include <vector>

#include "normlab/parallel/comm.h"
#include "normlab/nn/module.h"

namespace nl {

// One flat float buffer [every gradient, in parameter order | one has-gradient flag per
// parameter], summed over ranks with Comm::sum (rank order: deterministic), written back.
// A parameter no rank has a gradient for stays without one (as in a single process);
// `flat` is the caller's buffer, reused from step to step.
void sum_gradients(const std::vector<NamedTensor>& params, Comm& comm, std::vector<float>& flat);

// Every rank's `tensors` (same names and shapes everywhere) become rank `root`'s.
void broadcast_tensors(const std::vector<NamedTensor>& tensors, Comm& comm, int root = 0);

}  // namespace nl
