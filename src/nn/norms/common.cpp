// nn/norms/common.cpp — input checks, parameter helpers and the shared gradient-check harness.
//
// What it is: the definitions behind common.h: check_input, make_param, push_affine, and
// NormGradchecks, which registers each norm's finite-difference checks (training and
// eval, dense and padded), optionally against a frozen reference for norms with sg().
// No paper: this is shared plumbing; each norm's file links its own.
// What it is not: any norm's math (kernels/norm.cpp, kernels/norm_batch.cpp) or layer
// (the <name>.cpp files), nor the gradcheck engine (core/gradcheck.cpp).
#include "common.h"

#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"

namespace nl::norms {

int check_input(const char* type, const Tensor& x, const Tensor& keep, int D) {
  if (!x.defined() || x.ndim() < 2 || x.dim(-1) != D)
    throw std::invalid_argument(std::string(type) + ": x is " +
                                (x.defined() ? x.shape_str() : std::string("undefined")) +
                                " but the layer expects [B,T," + std::to_string(D) + "]");
  const Shape lead(x.shape().begin(), x.shape().end() - 1);
  if (keep.defined() && keep.shape() != lead)
    throw std::invalid_argument(std::string(type) + ": keep is " + keep.shape_str() + " but x is " +
                                x.shape_str() + " (keep must be " + shape_str(lead) + ")");
  return (int)numel_of(lead);
}

Tensor make_param(const std::string& name, int D, float value) {
  Tensor p = Tensor::full({D}, value);
  p.set_requires_grad(true);
  p.set_name(name);
  return p;
}

void push_affine(const std::string& prefix, std::vector<NamedTensor>& out, const Tensor& g,
                 const Tensor& b) {
  if (g.defined()) out.push_back({join_name(prefix, "weight"), g, true});
  if (b.defined()) out.push_back({join_name(prefix, "bias"), b, true});
}

// ---- gradient checks ---------------------------------------------------------------------

namespace {

// out has the values of `value` and hands its gradient to `grad_to` unchanged:
// out = grad_to + sg(value - grad_to). Lets gradcheck compare a layer's backward with the
// finite differences of a reference function.
Tensor straight_through(const Tensor& value, const Tensor& grad_to) {
  Tensor out = value.clone();
  record(out, "straight_through", {grad_to}, [grad_to](TensorImpl& o) mutable {
    // forward: out = value.clone(), read as out = grad_to + sg(value - grad_to)
    //   =>  dgrad_to += dout (value gets nothing)
    const float* dout = o.grad->ptr;
    float* dg = grad_to.grad();
    for (int64_t i = 0, n = grad_to.numel(); i < n; ++i) dg[i] += dout[i];
  });
  return out;
}

GradcheckResult check_norm(const std::string& name, const NormConfig& cfg, bool padded,
                           bool training, const FrozenReference& frozen, KernelSet ks) {
  const int B = 2, T = 4, D = 6;
  std::unique_ptr<Norm> norm = make_norm(cfg, D, ks);
  Tensor x = randn({B, T, D}, 11);
  Tensor keep = Tensor::full({B, T}, 1.0f);
  if (padded) keep.data()[1 * T + 2] = keep.data()[1 * T + 3] = 0.0f;  // second sequence: length 2
  std::vector<Tensor> inputs{x};
  uint64_t seed = 100;
  for (const NamedTensor& p : norm->named_parameters()) {
    // Move g, b away from 1, 0 so that no gradient term vanishes by accident.
    Tensor r = randn(p.tensor.shape(), seed++, 0.5f, false);
    for (int64_t i = 0; i < p.tensor.numel(); ++i) p.tensor.data()[i] += r.data()[i];
    inputs.push_back(p.tensor);
  }
  if (!training) {
    // One training step on other data, so the running statistics are not the initial 0 / 1.
    NoGrad ng;
    norm->forward(randn({B, T, D}, 12, 2.0f, false), keep);
    norm->set_training(false);
  }
  const Tensor x0 = x.clone();
  GradFn f = [&](const std::vector<Tensor>& in) {
    Tensor y = norm->forward(in[0], keep);
    // (the frozen reference is the training forward's; eval checks the layer's own forward)
    return frozen && training ? straight_through(frozen(in, x0, keep), y) : y;
  };
  return gradcheck(name, f, inputs);
}

}  // namespace

NormGradchecks::NormGradchecks(const std::string& type, bool eval_too, FrozenReference frozen,
                               NormConfig cfg) {
  cfg.type = type;
  for (bool training : {true, false}) {
    if (!training && !eval_too) continue;
    for (bool padded : {false, true}) {
      const std::string name = "norm/" + type + "/" + (training ? "" : "eval_") +
                               (padded ? "padded" : "dense");
      gradcheck_registry().push_back(
          {name, [=](KernelSet ks) { return check_norm(name, cfg, padded, training, frozen, ks); }});
    }
  }
}

}  // namespace nl::norms
