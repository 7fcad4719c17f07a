// nn/norms/layernorm_simple.cpp — LayerNorm-simple: LayerNorm without the gain g and bias b.
//
// LayerNorm: Ba, Kiros & Hinton 2016, https://arxiv.org/abs/1607.06450. Without g and b:
// Xu, Sun, Zhang, Zhao & Lin 2019, "Understanding and Improving Layer Normalization"
// (NeurIPS), https://arxiv.org/abs/1911.07013: dropping g and b does not hurt, often helps.
// What it is: y = (x - mean_D x) / sqrt(var_D x + eps), per token. A property the tests
// check: the input gradient has zero mean over each token's features (the path through
// the mean removes it).
// What it is not: a layer of its own: it is LayerNorm's (layernorm.cpp) with
// affine = false; the math is kernels::layernorm_forward / layernorm_backward.
#include "common.h"

namespace nl {

std::unique_ptr<Norm> make_layernorm_simple(const NormConfig& cfg, int D) {
  return norms::make_layernorm_family("layernorm_simple", D, norms::eps_or(cfg, 1e-5f),
                                      /*affine=*/false, /*detach_stats=*/false);
}

static const norms::NormGradchecks gradchecks("layernorm_simple");

}  // namespace nl
