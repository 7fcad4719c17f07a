// kernels/norm_power.h — PowerNorm's kernels (src/kernels/norm_power.cpp): the masked quadratic
// mean, forward, backward (exact or PowerFunction's approximate step) and running update.
//
// What it is: llm.c-style functions over float*, x [N,D], keep [N] (null: every row counts);
// they allocate nothing. The math is at the top of src/nn/norms/powernorm.cpp.
// What it is not: the layer (src/nn/norms/powernorm.cpp) nor the column sums it starts from
// (kernels::masked_column_sums, kernels/norm.h).
#pragma once
#include <cstdint>

namespace nl::kernels {

// psi2[d] = sum_sq[d] / count: the quadratic mean mean_n x[n,d]^2 (0 without rows).
void powernorm_quadratic_mean(float* psi2, const double* sum_sq, long count, int D);
// rstd[d] = 1/sqrt(psi2[d] + eps)
void powernorm_rstd(float* rstd, const float* psi2, int D, float eps);
// out = g * z + b with z = x * s[d], at counted rows; 0 at pad rows.
void powernorm_forward(float* out, const float* x, const float* keep, const float* s,
                       const float* g, const float* b, int N, int D);
// The backward of powernorm_forward: with ema_gz null the exact one (dx = g * dy * s), else
// PowerFunction's approximate one (xt = g*dy - (1-a)*ema_gz*z, dx = xt * rstd_batch,
// ema_gz += mean_n xt*z); with sum_xt_z_out (SyncPowerNorm) ema_gz is left alone and the
// rank's sums sum_n xt*z are written there instead. Gradients accumulate (+=).
void powernorm_backward(float* dx, float* dg, float* db, float* ema_gz, const float* dy,
                        const float* x, const float* keep, const float* s,
                        const float* rstd_batch, const float* g, float alpha_bkw, int N, int D,
                        double* sum_xt_z_out = nullptr);
// The running quadratic mean's update of training forward number `it` (from 1): a cumulative
// mean while it < warmup, then phi = (1-m) phi + m psi2 (always, after that line).
void powernorm_update_running(float* phi, const float* psi2, int64_t it, int warmup, float momentum,
                              int D);

}  // namespace nl::kernels
