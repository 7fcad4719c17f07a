// nn/norms/layernorm.cpp — LayerNorm (Ba, Kiros & Hinton 2016, https://arxiv.org/abs/1607.06450).
//
// What it is: per token, y = g * (x - mean_D x) / sqrt(var_D x + eps) + b, var biased, the
// same in training and eval (matches torch.nn.LayerNorm). This file holds the layer for the
// whole family, because the forward is the same:
//   layernorm         with g, b                            (this file's make_layernorm)
//   layernorm_simple  without g, b                         (layernorm_simple.cpp)
//   detachnorm        without g, b, mean and std detached  (detachnorm.cpp)
// Per-token norms ignore `keep`: a pad row is normalised like any other and changes nothing
// for the real rows.
// Two paths (every fast path has a plain twin): `fused` calls the kernels, `composed`
// builds the same function from autograd primitives (ops.h) and runs when make_norm was
// given the `reference` kernel set; tests/unit/nn/test_norms_twins.cpp checks that the two agree.
// What it is not: the math, which is kernels::layernorm_forward / layernorm_backward.
#include "common.h"
#include "normlab/core/autograd.h"
#include "normlab/kernels/norm.h"
#include "normlab/ops/ops.h"

namespace nl {

namespace {

class LayerNorm final : public Norm {
 public:
  LayerNorm(const char* type, int D, float eps, bool affine, bool detach_stats)
      : type_(type), D_(D), eps_(eps), detach_stats_(detach_stats) {
    if (affine) {
      g_ = norms::make_param("weight", D, 1.0f);
      b_ = norms::make_param("bias", D, 0.0f);
    }
  }

  Tensor forward(const Tensor& x, const Tensor& keep) override {
    const int N = norms::check_input(type_, x, keep, D_);
    return kernels() == KernelSet::reference ? composed(x) : fused(x, N);
  }

  std::string type() const override { return type_; }
  float eps() const override { return eps_; }
  bool reads_pad_rows() const override { return false; }  // per token (or masked)
  bool exact_gradient() const override { return !detach_stats_; }  // DetachNorm: sg(mu), sg(sigma)
  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override {
    norms::push_affine(prefix, out, g_, b_);
  }

 private:
  // The fused op: one kernel forward, one kernel backward.
  Tensor fused(const Tensor& x, int N) const {
    Tensor out = Tensor::empty(x.shape());
    Tensor mean = Tensor::empty({N}), rstd = Tensor::empty({N});
    kernels::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(),
                               norms::data_or_null(g_), norms::data_or_null(b_), N, D_, eps_);
    const Tensor g = g_, b = b_;
    const int D = D_;
    const bool through_stats = !detach_stats_;
    record(out, type_, {x, g, b}, [x, g, b, mean, rstd, N, D, through_stats](TensorImpl& o) {
      // forward: out = g * xhat + b, xhat = (x - mean) * rstd  (kernels::layernorm_forward)
      // backward: dxhat = dout * g;  dg += sum_n dout * xhat,  db += sum_n dout;
      //   dx = rstd * (dxhat - mean_D(dxhat) - xhat * mean_D(dxhat * xhat)),
      //   or dx = rstd * dxhat when the statistics are detached (DetachNorm)
      kernels::layernorm_backward(norms::grad_or_null(x), norms::grad_or_null(g),
                                  norms::grad_or_null(b), o.grad->ptr, x.data(), mean.data(),
                                  rstd.data(), norms::data_or_null(g), N, D, through_stats);
    });
    return out;
  }

  // The plain twin: the same function from ops, each with its own backward.
  Tensor composed(const Tensor& x) const {
    Tensor mu = mean(x, {-1}, true);                  // mean_D x, [..., 1]
    Tensor var = mean((x - mu) * (x - mu), {-1}, true);  // biased variance
    Tensor sigma = sqrt(var + eps_);                  // sqrt(var + eps)
    if (detach_stats_) {                              // DetachNorm: sg(mu), sg(sigma)
      mu = mu.detach();
      sigma = sigma.detach();
    }
    Tensor y = (x - mu) / sigma;
    return g_.defined() ? y * g_ + b_ : y;
  }

  const char* type_;
  int D_;
  float eps_;
  bool detach_stats_;
  Tensor g_, b_;  // undefined without affine
};

}  // namespace

std::unique_ptr<Norm> norms::make_layernorm_family(const char* type, int D, float eps, bool affine,
                                                   bool detach_stats) {
  return std::make_unique<LayerNorm>(type, D, eps, affine, detach_stats);
}

std::unique_ptr<Norm> make_layernorm(const NormConfig& cfg, int D) {
  return norms::make_layernorm_family("layernorm", D, norms::eps_or(cfg, 1e-5f), true, false);
}

static const norms::NormGradchecks gradchecks("layernorm");

}  // namespace nl
