// train/data_parallel.cpp — the gradient sum and the buffer broadcast of data-parallel
// training (see train/data_parallel.h).
//
// What it is: packing parameters' gradients into one buffer, so one collective carries a
// whole step's gradients (per-tensor all-reduces would pay MPI's latency ~50 times), and
// unpacking the sum. How the sum is done (rank order, double) is parallel/comm.cpp's.
// What it is not: the loss scaling, which the trainer applies before backward.
#include "normlab/train/data_parallel.h"

#include <algorithm>
#include <cstring>

namespace nl {

void sum_gradients(const std::vector<NamedTensor>& params, Comm& comm, std::vector<float>& flat) {
  if (comm.size() == 1) return;
  int64_t total = 0;
  for (const NamedTensor& p : params) total += p.tensor.numel();
  const int64_t P = (int64_t)params.size();
  flat.assign((size_t)(total + P), 0.0f);
  int64_t at = 0;
  for (int64_t i = 0; i < P; ++i) {
    const Tensor& t = params[i].tensor;
    if (t.has_grad()) {
      std::memcpy(&flat[at], t.grad(), t.numel() * sizeof(float));
      flat[total + i] = 1.0f;  // this rank has a gradient for parameter i
    }
    at += t.numel();
  }
  comm.sum(flat.data(), (int64_t)flat.size());
  at = 0;
  for (int64_t i = 0; i < P; ++i) {
    const Tensor& t = params[i].tensor;
    if (flat[total + i] > 0.0f) std::memcpy(t.grad(), &flat[at], t.numel() * sizeof(float));
    at += t.numel();
  }
}

void broadcast_tensors(const std::vector<NamedTensor>& tensors, Comm& comm, int root) {
  if (comm.size() == 1) return;
  int64_t total = 0;
  for (const NamedTensor& t : tensors) total += t.tensor.numel();
  std::vector<float> flat((size_t)total);
  int64_t at = 0;
  for (const NamedTensor& t : tensors) {
    std::memcpy(&flat[at], t.tensor.data(), t.tensor.numel() * sizeof(float));
    at += t.tensor.numel();
  }
  comm.broadcast(flat.data(), total, root);
  at = 0;
  for (const NamedTensor& t : tensors) {
    std::memcpy(t.tensor.data(), &flat[at], t.tensor.numel() * sizeof(float));
    at += t.tensor.numel();
  }
}

}  // namespace nl
