// nn/norms/adanorm.cpp — AdaNorm (Xu, Sun, Zhang, Zhao & Lin 2019, https://arxiv.org/abs/1911.07013).
//
// What it is: per token, with the UNBIASED std s and eps added to the std (as the official
// AdaNorm code does):
//   y = (x - mean_D x) / (s + eps),   z = C * (1 - k * sg(y)) * y
// The factor (1 - k*y) replaces LayerNorm's learnable gain with one computed from the input
// itself; it is detached, so the gradient flows through mean and s inside y only.
// C [1.0], k [0.1] come from model.norm.adanorm_C / adanorm_k; eps [1e-5]. Needs D >= 2.
// `fused` calls the kernels; `composed`, its plain twin from ops.h, runs when the kernel
// set is `reference` (tests/unit/nn/test_norms_twins.cpp checks they agree). The twin's sqrt
// has no derivative at s = 0 (a constant row): there it gives NaN where the kernel gives 0.
// What it is not: the math, which is kernels::adanorm_forward / adanorm_backward.
#include <stdexcept>
#include <vector>

#include "common.h"
#include "normlab/core/autograd.h"
#include "normlab/kernels/norm.h"
#include "normlab/ops/ops.h"

namespace nl {

namespace {

class AdaNorm final : public Norm {
 public:
  AdaNorm(int D, float eps, float C, float k) : D_(D), eps_(eps), C_(C), k_(k) {
    if (D < 2)
      throw std::invalid_argument("adanorm: the unbiased std needs D >= 2, got D=" + std::to_string(D));
  }

  Tensor forward(const Tensor& x, const Tensor& keep) override {
    const int N = norms::check_input("adanorm", x, keep, D_);
    return kernels() == KernelSet::reference ? composed(x) : fused(x, N);
  }

  std::string type() const override { return "adanorm"; }
  float eps() const override { return eps_; }
  bool exact_gradient() const override { return k_ == 0.0f; }  // sg(y) matters only when k > 0
  bool reads_pad_rows() const override { return false; }  // per token (or masked)

 private:
  Tensor fused(const Tensor& x, int N) const {
    Tensor out = Tensor::empty(x.shape());
    Tensor mean = Tensor::empty({N}), std = Tensor::empty({N});
    kernels::adanorm_forward(out.data(), mean.data(), std.data(), x.data(), N, D_, eps_, C_, k_);
    const int D = D_;
    const float eps = eps_, C = C_, k = k_;
    record(out, "adanorm", {x}, [x, mean, std, N, D, eps, C, k](TensorImpl& o) {
      // forward: out = C * (1 - k*sg(y)) * y, y = (x - mean) / (s + eps)  (kernels::adanorm_forward)
      // backward: dy = dout * C * (1 - k*y)   (the factor is a constant);
      //   dx = (dy - mean_D(dy)) / (s + eps) - y * sum_D(dy * y) / ((D-1) * s)
      kernels::adanorm_backward(norms::grad_or_null(x), o.grad->ptr, x.data(), mean.data(),
                                std.data(), N, D, eps, C, k);
    });
    return out;
  }

  // The plain twin from ops; detach() is the sg() of docs/math.md (Norms, adanorm).
  Tensor composed(const Tensor& x) const {
    Tensor xc = x - mean(x, {-1}, true);                            // x - mean
    Tensor s = sqrt(sum(xc * xc, {-1}, true) * (1.0f / (D_ - 1)));  // unbiased std
    Tensor y = xc / (s + eps_);                                     // eps added to the std
    return y * (y.detach() * (-k_) + 1.0f) * C_;                    // C * (1 - k*sg(y)) * y
  }

  int D_;
  float eps_, C_, k_;
};

// The defaults, also used by the gradient check's reference below.
constexpr float kDefaultEps = 1e-5f;

}  // namespace

// AdaNorm's own keys, model.norm.adanorm_C and model.norm.adanorm_k (its registry line names
// them). With k = 0 the stop-gradient factor is the constant C, so the backward is exact.
NormKeys adanorm_keys() {
  NormKeys k;
  k.keys = {float_norm_key("adanorm_C", 1.0f, "> 0", [](float v) { return v > 0; }, "AdaNorm scale C"),
            float_norm_key("adanorm_k", 0.1f, "0..1", [](float v) { return v >= 0 && v <= 1; },
                           "AdaNorm k in C*(1 - k*y)*y")};
  k.exact_gradient = {{"adanorm_k", 0.0}};
  return k;
}

std::unique_ptr<Norm> make_adanorm(const NormConfig& cfg, int D) {
  return std::make_unique<AdaNorm>(D, norms::eps_or(cfg, kDefaultEps), (float)cfg.setting("adanorm_C"),
                                   (float)cfg.setting("adanorm_k"));
}

// The gradient check compares the backward with the derivative of C * (1 - k*y0) * y(x),
// the factor frozen at its value at the checked point x0: exactly what sg() means.
static const norms::NormGradchecks gradchecks(
    "adanorm", false, [](const std::vector<Tensor>& in, const Tensor& x0, const Tensor&) {
      const Tensor& x = in[0];
      const NormConfig cfg;  // the check runs with the defaults
      const float C = (float)cfg.setting("adanorm_C"), k = (float)cfg.setting("adanorm_k");
      const int D = x.dim(-1), N = (int)(x.numel() / D);
      std::vector<float> y((size_t)x.numel()), y0((size_t)x.numel()), mean((size_t)N), s((size_t)N);
      // C = 1, k = 0 makes the kernel return y itself.
      kernels::adanorm_forward(y.data(), mean.data(), s.data(), x.data(), N, D, kDefaultEps, 1.0f, 0.0f);
      kernels::adanorm_forward(y0.data(), mean.data(), s.data(), x0.data(), N, D, kDefaultEps, 1.0f, 0.0f);
      Tensor out = Tensor::empty(x.shape());
      for (size_t i = 0; i < y.size(); ++i)
        out.data()[i] = C * (1.0f - k * y0[i]) * y[i];
      return out;
    });

}  // namespace nl
