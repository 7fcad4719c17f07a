// parallel/ops.h — the one autograd op that crosses ranks.
//
// What it is: sum_over_ranks(x, comm): y = sum over the K ranks of x_r (every rank gets the
// same y). Backward: every rank's loss depends on y, so the gradient of the total loss
// (the sum of the ranks' losses) with respect to x_r is the sum of all ranks' dy:
//   dx_r += sum over ranks of dy_r'
// — an all-reduce in forward and another in backward. It is how the plain (`--kernels
// reference`) twin of SyncBatchNorm shares its statistics (src/nn/norms/batchnorm.cpp).
// What it is not: the gradient all-reduce of data-parallel training, which the trainer
// does on the parameters' gradients after backward (src/train/data_parallel.cpp).
#pragma once
#include "normlab/parallel/comm.h"
#include "normlab/core/tensor.h"

namespace nl {

Tensor sum_over_ranks(const Tensor& x, Comm& comm);

}  // namespace nl
