// parallel/ops.cpp — sum_over_ranks: an all-reduce as an autograd op (see parallel/ops.h).
//
// What it is: forward y = sum_r x_r, backward dx_r += sum_r' dy_r', both with Comm::sum
// (rank order, deterministic). Every rank must run the op, and its backward, in the same
// order: data-parallel ranks run the same model, so their tapes have the same shape.
// What it is not: MPI (parallel/comm.cpp is).
#include "normlab/parallel/ops.h"

#include <vector>

#include "normlab/core/autograd.h"

namespace nl {

Tensor sum_over_ranks(const Tensor& x, Comm& comm) {
  Tensor out = x.clone();
  comm.sum(out.data(), out.numel());                 // y = sum_r x_r
  Comm* c = &comm;
  record(out, "sum_over_ranks", {x}, [x, c](TensorImpl& o) {
    // forward: y = sum_r x_r  =>  dx_r += sum_r' dy_r'
    const int64_t n = x.numel();
    std::vector<float> dy(o.grad->ptr, o.grad->ptr + n);
    c->sum(dy.data(), n);
    if (!x.requires_grad()) return;
    float* dx = x.grad();
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i];
  });
  return out;
}

}  // namespace nl
