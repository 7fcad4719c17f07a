// ops/unary.cpp — exp, log, sqrt, pow, relu, gelu (exact), tanh.
//
// What it is: per op, out = f(x) through a kernel, and the closure dx += dout * f'(x). Ops
// whose derivative is cheapest from the output (exp, sqrt, tanh) keep `out` — as a
// TensorImpl* borrowed from the closure's argument, never a handle, so no cycle.
// What it is not: the loops and their derivatives (kernels/unary.cpp), nor domain
// checks: log and sqrt of x <= 0 give what <cmath> gives, not an error.
#include <cmath>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/unary.h"
#include "normlab/ops/ops.h"

namespace nl {

Tensor exp(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape());
  kernels::exp_forward(out.data(), x.data(), x.numel());
  record(out, "exp", {x}, [x](TensorImpl& o) mutable {
    // forward: out = exp(x)  =>  dx += dout * out
    kernels::exp_backward(x.grad(), o.grad->ptr, o.data->ptr + o.offset, x.numel());
  });
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape());
  kernels::log_forward(out.data(), x.data(), x.numel());
  record(out, "log", {x}, [x](TensorImpl& o) mutable {
    // forward: out = log(x)  =>  dx += dout / x
    kernels::log_backward(x.grad(), o.grad->ptr, x.data(), x.numel());
  });
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape());
  kernels::sqrt_forward(out.data(), x.data(), x.numel());
  record(out, "sqrt", {x}, [x](TensorImpl& o) mutable {
    // forward: out = sqrt(x)  =>  dx += dout * 0.5 / out
    kernels::sqrt_backward(x.grad(), o.grad->ptr, o.data->ptr + o.offset, x.numel());
  });
  return out;
}

Tensor pow(const Tensor& x, float p) {
  Tensor out = Tensor::empty(x.shape());
  kernels::pow_forward(out.data(), x.data(), p, x.numel());
  record(out, "pow", {x}, [x, p](TensorImpl& o) mutable {
    // forward: out = x^p  =>  dx += dout * p * x^(p-1)
    kernels::pow_backward(x.grad(), o.grad->ptr, x.data(), p, x.numel());
  });
  return out;
}

Tensor relu(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape());
  kernels::relu_forward(out.data(), x.data(), x.numel());
  record(out, "relu", {x}, [x](TensorImpl& o) mutable {
    // forward: out = max(x, 0)  =>  dx += x > 0 ? dout : 0
    kernels::relu_backward(x.grad(), o.grad->ptr, x.data(), x.numel());
  });
  return out;
}

Tensor gelu(const Tensor& x, KernelSet ks) {
  Tensor out = Tensor::empty(x.shape());
  kernels::gelu_forward(ks, out.data(), x.data(), x.numel());
  record(out, "gelu", {x}, [x, ks](TensorImpl& o) mutable {
    // forward: out = x * Phi(x)  =>  dx += dout * (Phi(x) + x * phi(x))
    kernels::gelu_backward(ks, x.grad(), o.grad->ptr, x.data(), x.numel());
  });
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape());
  kernels::tanh_forward(out.data(), x.data(), x.numel());
  record(out, "tanh", {x}, [x](TensorImpl& o) mutable {
    // forward: out = tanh(x)  =>  dx += dout * (1 - out^2)
    kernels::tanh_backward(x.grad(), o.grad->ptr, o.data->ptr + o.offset, x.numel());
  });
  return out;
}

// ---- gradient checks -------------------------------------------------------------------
namespace {

using Unary = Tensor (*)(const Tensor&);

GradcheckResult check_unary(const std::string& name, Unary f, Tensor x, GradcheckOptions opt = {}) {
  return gradcheck(name, [f](const std::vector<Tensor>& in) { return f(in[0]); }, {x}, opt);
}

// Values in [lo, lo + width), for functions defined or smooth only there.
Tensor uniform_in(const Shape& s, uint64_t seed, float lo, float width) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = lo + width * rng.uniform();
  t.set_requires_grad(true);
  return t;
}

// Values whose magnitude is at least `gap`, so x +- h never crosses a kink at 0.
Tensor away_from_zero(const Shape& s, uint64_t seed, float gap) {
  Tensor t = randn(s, seed);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float& v = t.data()[i];
    v = (v >= 0 ? 1.0f : -1.0f) * (gap + std::fabs(v));
  }
  return t;
}

}  // namespace

NL_GRADCHECK_CASE("exp", [] { return check_unary("exp", exp, randn({3, 4}, 51)); });
NL_GRADCHECK_CASE("exp/size1", [] { return check_unary("exp/size1", exp, randn({1, 1}, 52)); });
NL_GRADCHECK_CASE("log/positive", [] { return check_unary("log/positive", log, uniform_in({3, 4}, 53, 0.5f, 2.0f), {1e-3f, 2e-3f, 2e-2f}); });
NL_GRADCHECK_CASE("sqrt/positive", [] { return check_unary("sqrt/positive", sqrt, uniform_in({2, 5}, 54, 0.5f, 2.0f), {1e-3f, 2e-3f, 2e-2f}); });
NL_GRADCHECK_CASE("pow/square", [] {
  return gradcheck("pow/square", [](const std::vector<Tensor>& in) { return pow(in[0], 2.0f); }, {randn({3, 3}, 55)});
});
NL_GRADCHECK_CASE("pow/fractional_positive", [] {
  return gradcheck("pow/fractional_positive", [](const std::vector<Tensor>& in) { return pow(in[0], -1.5f); },
                   {uniform_in({4, 2}, 56, 0.5f, 1.5f)}, {1e-3f, 2e-3f, 2e-2f});
});
NL_GRADCHECK_CASE("relu/away_from_0", [] { return check_unary("relu/away_from_0", relu, away_from_zero({4, 5}, 57, 0.05f)); });
NL_GRADCHECK_CASE("gelu", [](KernelSet ks) {
  return gradcheck("gelu", [ks](const std::vector<Tensor>& in) { return gelu(in[0], ks); },
                   {randn({4, 5}, 58, 2.0f)});
});
NL_GRADCHECK_CASE("tanh", [] { return check_unary("tanh", tanh, randn({3, 4}, 59)); });

}  // namespace nl
