// ops/elementwise.cpp — add, sub, mul, div with NumPy broadcasting, and the scalar ops.
//
// What it is: the autograd ops: the broadcast shape check (broadcast_shape, errors name
// the op and both shapes), one kernel call forward, and the closure that brings each
// input's gradient back to that input's shape. add_scalar, mul_scalar and neg are one
// op, x * mul + add.
// What it is not: the per-element math (kernels/elementwise.cpp) or the summing loop
// (kernels/reduce.cpp).
// Broadcasting (https://numpy.org/doc/stable/user/basics.broadcasting.html): align the
// shapes at their last axis; an axis of size 1 (or a missing one) stretches. In
// backward, an input that was stretched along an axis receives the sum of the
// gradient over that axis — kernels::sum_axes_fast with the stretched axes reduced.
#include <cmath>
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/elementwise.h"
#include "normlab/kernels/reduce.h"
#include "normlab/ops/ops.h"

namespace nl {

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  const size_t R = a.size() > b.size() ? a.size() : b.size();
  Shape out(R);
  for (size_t i = 0; i < R; ++i) {
    const int da = i < R - a.size() ? 1 : a[i - (R - a.size())];
    const int db = i < R - b.size() ? 1 : b[i - (R - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": cannot broadcast a " + shape_str(a) +
                                  " with b " + shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// The axes of out_shape along which `in` (left-padded with 1s) was stretched.
std::vector<bool> stretched_axes(const Shape& out_shape, const Shape& in) {
  const size_t R = out_shape.size(), pad = R - in.size();
  std::vector<bool> red(R);
  for (size_t i = 0; i < R; ++i) red[i] = (i < pad ? 1 : in[i - pad]) != out_shape[i];
  return red;
}

// dx += sum over the stretched axes of g (g has out's shape).
void reduce_into(const Tensor& x, const float* g, const Shape& out_shape) {
  kernels::sum_axes_fast(x.grad(), g, out_shape, stretched_axes(out_shape, x.shape()), 1.0f, true);
}

const char* op_name(kernels::BinaryOp op) {
  switch (op) {
    case kernels::BinaryOp::add: return "add";
    case kernels::BinaryOp::sub: return "sub";
    case kernels::BinaryOp::mul: return "mul";
    case kernels::BinaryOp::div: return "div";
  }
  return "?";
}

Tensor binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  const Shape out_shape = broadcast_shape(a.shape(), b.shape(), name);
  const kernels::Broadcast bc = kernels::make_broadcast(out_shape, a.shape(), b.shape());
  Tensor out = Tensor::empty(out_shape);
  kernels::binary_forward_fast(op, out.data(), a.data(), b.data(), bc);  // out = a op b

  record(out, name, {a, b}, [a, b, op, bc, out_shape](TensorImpl& o) mutable {
    // forward: out = a op b (broadcast)  =>  da += reduce(dout * d(a op b)/da), db likewise:
    //   (da, db) before reduce: add (dout, dout)  sub (dout, -dout)  mul (dout * b, dout * a)
    //   div (dout / b, -dout * a / b^2); reduce sums over the axes that input was stretched along.
    const float* dout = o.grad->ptr;
    const bool additive = op == kernels::BinaryOp::add || op == kernels::BinaryOp::sub;
    Tensor g;  // the local gradient in out's shape, made only when it is needed
    for (int which = 0; which < 2; ++which) {
      const Tensor& x = which == 0 ? a : b;
      if (!x.requires_grad()) continue;
      if (additive && x.shape() == out_shape) {  // same shape: dx += (+-1) * dout
        const float sign = (op == kernels::BinaryOp::sub && which == 1) ? -1.0f : 1.0f;
        kernels::axpy(x.grad(), dout, sign, bc.n);
        continue;
      }
      if (!g.defined()) g = Tensor::empty(out_shape);
      kernels::binary_backward_fast(op, which, g.data(), dout, a.data(), b.data(), bc);
      reduce_into(x, g.data(), out_shape);
    }
  });
  return out;
}

Tensor affine(const char* name, const Tensor& x, float mul, float add) {
  Tensor out = Tensor::empty(x.shape());
  kernels::affine_scalar(out.data(), x.data(), mul, add, x.numel());  // out = x * mul + add
  record(out, name, {x}, [x, mul](TensorImpl& o) mutable {
    // forward: out = x * mul + add  =>  dx += dout * mul
    kernels::axpy(x.grad(), o.grad->ptr, mul, x.numel());
  });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(kernels::BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(kernels::BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(kernels::BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(kernels::BinaryOp::div, a, b); }
Tensor add_scalar(const Tensor& a, float s) { return affine("add_scalar", a, 1.0f, s); }
Tensor mul_scalar(const Tensor& a, float s) { return affine("mul_scalar", a, s, 0.0f); }
Tensor neg(const Tensor& a) { return affine("neg", a, -1.0f, 0.0f); }

// ---- gradient checks -------------------------------------------------------------------
namespace {

GradcheckResult check_binary(const std::string& name, Tensor (*op)(const Tensor&, const Tensor&),
                             Tensor a, Tensor b, GradcheckOptions opt = {}) {
  return gradcheck(name, [op](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                   {a, b}, opt);
}

// Divisors kept away from 0: |b| in [0.5, 1.5] with a random sign.
Tensor away_from_zero(const Shape& s, uint64_t seed) {
  Tensor t = randn(s, seed);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = (d[i] >= 0 ? 1.0f : -1.0f) * (0.5f + std::fabs(d[i]) / 4.0f);
  return t;
}

}  // namespace

NL_GRADCHECK_CASE("add/same_shape", [] { return check_binary("add/same_shape", add, randn({3, 4}, 21), randn({3, 4}, 22)); });
NL_GRADCHECK_CASE("add/bcast_row", [] { return check_binary("add/bcast_row", add, randn({2, 3, 4}, 23), randn({4}, 24)); });
NL_GRADCHECK_CASE("add/bcast_both_ways", [] { return check_binary("add/bcast_both_ways", add, randn({3, 1}, 25), randn({1, 4}, 26)); });
NL_GRADCHECK_CASE("sub/bcast_middle_axis", [] { return check_binary("sub/bcast_middle_axis", sub, randn({2, 3, 4}, 27), randn({2, 1, 4}, 28)); });
NL_GRADCHECK_CASE("sub/bcast_first_operand", [] { return check_binary("sub/bcast_first_operand", sub, randn({1, 4}, 29), randn({3, 2, 4}, 30)); });
NL_GRADCHECK_CASE("mul/same_shape", [] { return check_binary("mul/same_shape", mul, randn({5, 3}, 31), randn({5, 3}, 32)); });
NL_GRADCHECK_CASE("mul/bcast_both_ways", [] { return check_binary("mul/bcast_both_ways", mul, randn({2, 1, 4}, 33), randn({3, 1}, 34)); });
NL_GRADCHECK_CASE("mul/scalar_tensor", [] { return check_binary("mul/scalar_tensor", mul, randn({1}, 35), randn({2, 3}, 36)); });
NL_GRADCHECK_CASE("mul/size1_axes", [] { return check_binary("mul/size1_axes", mul, randn({1, 1, 3}, 37), randn({1, 1, 3}, 38)); });
NL_GRADCHECK_CASE("mul/same_input_twice", [] {
  return gradcheck("mul/same_input_twice", [](const std::vector<Tensor>& in) { return mul(in[0], in[0]); },
                   {randn({2, 3}, 39)});
});
NL_GRADCHECK_CASE("div/same_shape", [] {
  return check_binary("div/same_shape", div, randn({3, 4}, 40), away_from_zero({3, 4}, 41), {1e-3f, 5e-3f, 2e-2f});
});
NL_GRADCHECK_CASE("div/bcast_both_ways", [] {
  return check_binary("div/bcast_both_ways", div, randn({4, 1}, 42), away_from_zero({1, 3}, 43), {1e-3f, 5e-3f, 2e-2f});
});
NL_GRADCHECK_CASE("add_scalar", [] {
  return gradcheck("add_scalar", [](const std::vector<Tensor>& in) { return add_scalar(in[0], 2.5f); }, {randn({3, 2}, 44)});
});
NL_GRADCHECK_CASE("mul_scalar", [] {
  return gradcheck("mul_scalar", [](const std::vector<Tensor>& in) { return mul_scalar(in[0], -1.5f); }, {randn({3, 2}, 45)});
});
NL_GRADCHECK_CASE("neg", [] {
  return gradcheck("neg", [](const std::vector<Tensor>& in) { return neg(in[0]); }, {randn({4}, 46)});
});

}  // namespace nl
