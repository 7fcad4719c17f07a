// nn/norms/rmsnorm.cpp — RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467).
//
// What it is: per token, y = g * x / sqrt(mean_D x^2 + eps): LayerNorm without the centring
// and without a bias. eps defaults to 1e-6. Ignores `keep` like every per-token norm.
// `fused` calls the kernels; `composed`, its plain twin from ops.h, runs when the kernel
// set is `reference` (tests/unit/nn/test_norms_twins.cpp checks they agree).
// What it is not: the math, which is kernels::rmsnorm_forward / rmsnorm_backward.
#include "common.h"
#include "normlab/core/autograd.h"
#include "normlab/kernels/norm.h"
#include "normlab/ops/ops.h"

namespace nl {

namespace {

class RMSNorm final : public Norm {
 public:
  RMSNorm(int D, float eps) : D_(D), eps_(eps), g_(norms::make_param("weight", D, 1.0f)) {}

  Tensor forward(const Tensor& x, const Tensor& keep) override {
    const int N = norms::check_input("rmsnorm", x, keep, D_);
    return kernels() == KernelSet::reference ? composed(x) : fused(x, N);
  }

  std::string type() const override { return "rmsnorm"; }
  float eps() const override { return eps_; }
  bool reads_pad_rows() const override { return false; }  // per token (or masked)
  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override {
    norms::push_affine(prefix, out, g_, Tensor());
  }

 private:
  Tensor fused(const Tensor& x, int N) const {
    Tensor out = Tensor::empty(x.shape());
    Tensor rstd = Tensor::empty({N});
    kernels::rmsnorm_forward(out.data(), rstd.data(), x.data(), g_.data(), N, D_, eps_);
    const Tensor g = g_;
    const int D = D_;
    record(out, "rmsnorm", {x, g}, [x, g, rstd, N, D](TensorImpl& o) {
      // forward: out = g * x * rstd, rstd = 1/sqrt(mean_D x^2 + eps)  (kernels::rmsnorm_forward)
      // backward: dxhat = dout * g with xhat = x * rstd;  dg += sum_n dout * xhat;
      //   dx = rstd * (dxhat - xhat * mean_D(dxhat * xhat))   (no mean path: nothing is centred)
      kernels::rmsnorm_backward(norms::grad_or_null(x), norms::grad_or_null(g), o.grad->ptr,
                                x.data(), rstd.data(), g.data(), N, D);
    });
    return out;
  }

  // The plain twin from ops: y = g * x / sqrt(mean_D x^2 + eps).
  Tensor composed(const Tensor& x) const {
    return x / sqrt(mean(x * x, {-1}, true) + eps_) * g_;
  }

  int D_;
  float eps_;
  Tensor g_;
};

}  // namespace

std::unique_ptr<Norm> make_rmsnorm(const NormConfig& cfg, int D) {
  return std::make_unique<RMSNorm>(D, norms::eps_or(cfg, 1e-6f));
}

static const norms::NormGradchecks gradchecks("rmsnorm");

}  // namespace nl
