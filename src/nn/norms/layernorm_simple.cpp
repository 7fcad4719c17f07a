// nn/norms/layernorm_simple.cpp — LayerNorm-simple: LayerNorm without the gain g and bias b.
//
// Xu, Sun, Zhang, Zhao & Lin 2019, "Understanding and Improving Layer Normalization"
// (NeurIPS), https://arxiv.org/abs/1911.07013: dropping g and b does not hurt, often helps.
// y = (x - mean_D x) / sqrt(var_D x + eps), per token. The layer is LayerNorm's
// (layernorm.cpp) with affine = false. A property the tests check: the input gradient has
// zero mean over each token's features (the path through the mean removes it).
#include "common.h"

namespace nl {

std::unique_ptr<Norm> make_layernorm_simple(const NormConfig& cfg, int D) {
  return norms::make_layernorm_family("layernorm_simple", D, norms::eps_or(cfg, 1e-5f),
                                      /*affine=*/false, /*detach_stats=*/false);
}

static const norms::NormGradchecks gradchecks("layernorm_simple");

}  // namespace nl
