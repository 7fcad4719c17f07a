// ops/softmax.cpp — softmax and log-softmax over any axis, max-subtracted (stable).
//
// What it is: softmax(x, axis) and log_softmax(x, axis): the axis check, a view of x as
// [outer, C, inner] around the axis, and one kernel call each way. Both backwards read
// the saved output y rather than x.
// What it is not: the loops (kernels/softmax.cpp), nor the loss: cross_entropy
// (ops/loss.cpp) is its own fused op and does not call log_softmax.
// softmax(x)_c = exp(x_c - lse),  log_softmax(x)_c = x_c - lse,
// lse = m + log(sum_c exp(x_c - m)), m = max_c x_c, so exp never overflows.
// A row that is entirely -inf (every key masked) gives softmax 0, not NaN.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/softmax.h"
#include "normlab/ops/ops.h"

namespace nl {

namespace {

// x viewed as [outer, C, inner] around the softmax axis.
struct Rows {
  int64_t outer = 1, inner = 1;
  int C = 1;
};

Rows rows_of(const char* name, const Tensor& x, int axis) {
  const int R = x.ndim();
  const int a = axis < 0 ? axis + R : axis;
  if (a < 0 || a >= R)
    throw std::invalid_argument(std::string(name) + ": axis " + std::to_string(axis) +
                                " out of range for " + x.shape_str());
  Rows r;
  for (int d = 0; d < a; ++d) r.outer *= x.shape()[d];
  r.C = x.shape()[a];
  for (int d = a + 1; d < R; ++d) r.inner *= x.shape()[d];
  return r;
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) {
  const Rows r = rows_of("softmax", x, axis);
  Tensor out = Tensor::empty(x.shape());
  kernels::softmax_forward(out.data(), x.data(), r.outer, r.C, r.inner);  // y = exp(x - lse)
  record(out, "softmax", {x}, [x, r](TensorImpl& o) mutable {
    // forward: y = exp(x - lse)  =>  dx += y * (dy - sum_c dy * y)
    kernels::softmax_backward(x.grad(), o.grad->ptr, o.data->ptr + o.offset, r.outer, r.C, r.inner);
  });
  return out;
}

Tensor log_softmax(const Tensor& x, int axis) {
  const Rows r = rows_of("log_softmax", x, axis);
  Tensor out = Tensor::empty(x.shape());
  kernels::log_softmax_forward(out.data(), x.data(), r.outer, r.C, r.inner);  // y = x - lse
  record(out, "log_softmax", {x}, [x, r](TensorImpl& o) mutable {
    // forward: y = x - lse  =>  dx += dy - exp(y) * sum_c dy
    kernels::log_softmax_backward(x.grad(), o.grad->ptr, o.data->ptr + o.offset, r.outer, r.C, r.inner);
  });
  return out;
}

// ---- gradient checks -------------------------------------------------------------------
NL_GRADCHECK_CASE("softmax/last_axis", [] {
  return gradcheck("softmax/last_axis", [](const std::vector<Tensor>& in) { return softmax(in[0]); },
                   {randn({3, 5}, 101)});
});
NL_GRADCHECK_CASE("softmax/middle_axis", [] {
  return gradcheck("softmax/middle_axis", [](const std::vector<Tensor>& in) { return softmax(in[0], 1); },
                   {randn({2, 4, 3}, 102)});
});
NL_GRADCHECK_CASE("softmax/size1_axis", [] {
  return gradcheck("softmax/size1_axis", [](const std::vector<Tensor>& in) { return softmax(in[0], -1); },
                   {randn({3, 1}, 103)});
});
NL_GRADCHECK_CASE("softmax/large_logits", [] {
  return gradcheck("softmax/large_logits",
                   [](const std::vector<Tensor>& in) { return softmax(add_scalar(in[0], 1000.0f)); },
                   {randn({2, 4}, 104)}, {1e-2f, 5e-2f, 5e-2f});
});
NL_GRADCHECK_CASE("log_softmax/last_axis", [] {
  return gradcheck("log_softmax/last_axis", [](const std::vector<Tensor>& in) { return log_softmax(in[0]); },
                   {randn({3, 5}, 105)});
});
NL_GRADCHECK_CASE("log_softmax/first_axis", [] {
  return gradcheck("log_softmax/first_axis", [](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); },
                   {randn({4, 3}, 106)});
});

}  // namespace nl
