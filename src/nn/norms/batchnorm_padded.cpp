// nn/norms/batchnorm_padded.cpp — BatchNorm whose statistics count the pad positions too.
//
// BatchNorm: Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167.
// What it is: what nn.BatchNorm1d does to a padded batch [B,T,D]: mean and variance per
// feature over all B*T positions, pads included, so the statistics depend on how much
// padding the batch has, and through them every real token's output does. It exists to
// show that damage (Shen et al. 2020, PowerNorm, https://arxiv.org/abs/2003.07845, discuss
// BatchNorm's trouble with NLP batches). Pads are ordinary rows here: normalised, and
// given gradient.
// What it is not: a layer of its own: it is batchnorm.cpp's with count_pads = true (the
// math is kernels/norm_batch.cpp with keep = null).
#include "common.h"

namespace nl {

std::unique_ptr<Norm> make_batchnorm_padded(const NormConfig& cfg, int D, Comm* comm) {
  return norms::make_batchnorm_family("batchnorm_padded", D, norms::eps_or(cfg, 1e-5f),
                                      cfg.momentum, /*count_pads=*/true, cfg.sync ? comm : nullptr);
}

static const norms::NormGradchecks gradchecks("batchnorm_padded", /*eval_too=*/true);

}  // namespace nl
