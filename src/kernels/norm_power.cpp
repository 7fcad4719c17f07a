// kernels/norm_power.cpp — PowerNorm's kernels (Shen et al. 2020, https://arxiv.org/abs/2003.07845)
// over the real tokens of a padded batch, beside BatchNorm's (kernels/norm_batch.cpp).
//
// What it is: plain functions over float*, x [N,D], keep [N] (null: every row counts): the
// quadratic mean from masked column sums (kernels::masked_column_sums, the one kernel behind
// every masked one-pass statistic), the forward y = g * x * s + b, the backward (exact, or the
// authors' approximate PowerFunction step), and the running quadratic mean's update. The
// formulas, and where they differ from the authors' code, are at the top of
// src/nn/norms/powernorm.cpp and in docs/math.md (Norms, PowerNorm).
// What it is not: the layer (warmup policy, group scaling, buffers, ranks, autograd):
// src/nn/norms/powernorm.cpp.
#include "normlab/kernels/norm_power.h"

#include <algorithm>
#include <cmath>

#include "normlab/kernels/norm.h"
#include "normlab/core/parallel.h"

namespace nl::kernels {


// psi2[d] = sum_sq[d] / count: the quadratic mean mean_n x[n,d]^2 (0 without rows).
void powernorm_quadratic_mean(float* psi2, const double* sum_sq, long count, int D) {
  for (int d = 0; d < D; ++d) psi2[d] = count > 0 ? (float)(sum_sq[d] / count) : 0.0f;
}

// rstd[d] = 1/sqrt(psi2[d] + eps)
void powernorm_rstd(float* rstd, const float* psi2, int D, float eps) {
  for (int d = 0; d < D; ++d) rstd[d] = (float)(1.0 / std::sqrt((double)psi2[d] + eps));
}

// out = g * z + b with z = x * s[d], at counted rows; 0 at pad rows.
void powernorm_forward(float* out, const float* x, const float* keep, const float* s,
                       const float* g, const float* b, int N, int D) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int n = 0; n < N; ++n) {
    const float* x_n = x + (long)n * D;
    float* out_n = out + (long)n * D;
    const bool pad = keep && keep[n] == 0.0f;
    for (int d = 0; d < D; ++d) out_n[d] = pad ? 0.0f : g[d] * (x_n[d] * s[d]) + b[d];
  }
}

// The backward of powernorm_forward. With ema_gz null, the exact one (eval: s is a constant):
//   dx = g * dy * s. With ema_gz, PowerFunction's approximate one (training):
//   xt = g * dy - (1-a) * ema_gz * z,  dx = xt * rstd_batch,  ema_gz += mean_n (xt * z).
// Sums over the counted rows only; pads get dx = 0. One tile of features per iteration: each
// sum has one owner and adds rows in order (as kernels::batchnorm_backward_sums).
// With sum_xt_z (SyncPowerNorm), ema_gz is left alone and sum_xt_z[d] = sum_n xt z over this
// batch's rows instead: the caller adds every rank's and divides by the global count.
void powernorm_backward(float* dx, float* dg, float* db, float* ema_gz, const float* dy,
                        const float* x, const float* keep, const float* s,
                        const float* rstd_batch, const float* g, float alpha_bkw, int N, int D,
                        double* sum_xt_z_out) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int d0 = 0; d0 < D; d0 += kFeatureTile) {
    const int nd = std::min(kFeatureTile, D - d0);
    double sum_dy_z[kFeatureTile] = {}, sum_dy[kFeatureTile] = {}, sum_xt_z[kFeatureTile] = {};
    int count = 0;
    for (int n = 0; n < N; ++n) {
      if (keep && keep[n] == 0.0f) continue;   // pads: dx stays 0, no share in any sum
      const long i = (long)n * D + d0;
      for (int j = 0; j < nd; ++j) {
        const int d = d0 + j;
        const float z = x[i + j] * s[d];                       // forward: z = x * s
        // forward: y = g * z + b  =>  dg += dy * z, db += dy, gz = dy * g
        sum_dy_z[j] += dy[i + j] * z;
        sum_dy[j] += dy[i + j];
        const float gz = dy[i + j] * g[d];
        if (!ema_gz) {
          if (dx) dx[i + j] += gz * s[d];                      // forward: z = x * s, s constant
          continue;
        }
        // PowerFunction: xt = gz - (1 - a) * ema_gz * z;  dx = xt / sqrt(psiB2 + eps)
        const float xt = gz - (1.0f - alpha_bkw) * ema_gz[d] * z;
        if (dx) dx[i + j] += xt * rstd_batch[d];
        sum_xt_z[j] += xt * z;
      }
      ++count;
    }
    for (int j = 0; j < nd; ++j) {
      if (dg) dg[d0 + j] += (float)sum_dy_z[j];
      if (db) db[d0 + j] += (float)sum_dy[j];
      // ema_gz += mean_n (xt * z), after every row used the old value
      if (ema_gz && sum_xt_z_out) sum_xt_z_out[d0 + j] = sum_xt_z[j];
      else if (ema_gz && count > 0) ema_gz[d0 + j] += (float)(sum_xt_z[j] / count);
    }
  }
}

// The running quadratic mean's update of one training forward (number `it`, from 1).
void powernorm_update_running(float* phi, const float* psi2, int64_t it, int warmup, float momentum,
                              int D) {
  for (int d = 0; d < D; ++d) {
    if (it < warmup) phi[d] = (float)(phi[d] * (double)(it - 1) / it + psi2[d] / (double)it);
    phi[d] = (1.0f - momentum) * phi[d] + momentum * psi2[d];   // alpha_fwd = 1 - momentum
  }
}

}  // namespace nl::kernels
