// nn/norms/detachnorm.cpp — DetachNorm: LayerNorm-simple whose mean and std are constants in backward.
//
// Xu, Sun, Zhang, Zhao & Lin 2019, "Understanding and Improving Layer Normalization"
// (NeurIPS), https://arxiv.org/abs/1911.07013, Sec. 4.
// What it is: forward as LayerNorm-simple,
//   y = (x - sg(mu)) / sg(sqrt(var + eps)),   so   dx = dy / sqrt(var + eps).
// Training with it is worse than with LayerNorm-simple: the gradients through mean and
// variance, not the forward normalisation, are what stabilise training.
// What it is not: a layer of its own: it is LayerNorm's (layernorm.cpp) with
// detach_stats = true, which makes kernels::layernorm_backward skip both statistics paths.
#include <vector>

#include "common.h"
#include "normlab/kernels/norm.h"

namespace nl {

namespace {
constexpr float kDefaultEps = 1e-5f;
}

std::unique_ptr<Norm> make_detachnorm(const NormConfig& cfg, int D) {
  return norms::make_layernorm_family("detachnorm", D, norms::eps_or(cfg, kDefaultEps),
                                      /*affine=*/false, /*detach_stats=*/true);
}

// The gradient check compares the backward with the derivative of (x - mu0) * rstd0, the
// statistics frozen at the checked point x0: exactly what sg() means.
static const norms::NormGradchecks gradchecks(
    "detachnorm", false, [](const std::vector<Tensor>& in, const Tensor& x0, const Tensor&) {
      const Tensor& x = in[0];
      const int D = x.dim(-1), N = (int)(x.numel() / D);
      std::vector<float> y0((size_t)x.numel()), mean0((size_t)N), rstd0((size_t)N);
      kernels::layernorm_forward(y0.data(), mean0.data(), rstd0.data(), x0.data(), nullptr,
                                 nullptr, N, D, kDefaultEps);
      Tensor out = Tensor::empty(x.shape());
      for (int n = 0; n < N; ++n)
        for (int i = 0; i < D; ++i)
          out.data()[n * D + i] = (x.data()[n * D + i] - mean0[n]) * rstd0[n];
      return out;
    });

}  // namespace nl
