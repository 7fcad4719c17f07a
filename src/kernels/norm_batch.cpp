// kernels/norm_batch.cpp — BatchNorm over the real tokens of a padded batch, forward and backward.
//
// What it is: per feature d (a column of x [N,D]), statistics over the rows whose keep is
// not 0, normalisation of those rows, and the backward: the same formula as LayerNorm's
// (kernels/norm.cpp) taken down a column instead of along a row. With keep = null every
// row counts, pads included: that is what nn.BatchNorm1d does to a padded batch.
// OpenMP runs over features for the statistics and the backward (one owner per column sum)
// and over rows for the element-wise normalisation.
// Each statistic and each backward sum is its own kernel, so that masked SyncBatchNorm can
// add every rank's sums between two kernels (src/nn/norms/batchnorm.cpp):
//   forward   batchnorm_stats (one batch, two passes)  or, synced over K ranks,
//             masked_column_sums -> sum over ranks -> batchnorm_stats_from_sums
//   backward  batchnorm_backward_sums -> (sum over ranks, synced) -> batchnorm_backward_dx
// What it is not: the running-statistics policy (train/eval) or autograd: src/nn/norms/batchnorm.cpp.
#include <algorithm>
#include <cmath>

#include "normlab/kernels/norm.h"
#include "normlab/core/parallel.h"

namespace nl::kernels {

int batchnorm_stats(float* mean, float* var, float* rstd, const float* x, const float* keep,
                    int N, int D, float eps) {
  int count = 0;
  for (int n = 0; n < N; ++n) count += (!keep || keep[n] != 0.0f) ? 1 : 0;
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int d = 0; d < D; ++d) {
    const Moments m = moments(x + d, N, D, keep);           // column d, real rows only
    mean[d] = (float)m.mean;                                // mean_d = mean x[:,d]
    var[d] = m.count > 0 ? (float)(m.m2 / m.count) : 0.0f; // var_d = mean (x[:,d] - mean_d)^2, biased
    rstd[d] = (float)(1.0 / std::sqrt((double)var[d] + eps));
  }
  return count;
}

int masked_column_sums(double* sum, double* sum_sq, const float* x, const float* keep, int N, int D) {
  int count = 0;
  for (int n = 0; n < N; ++n) count += (!keep || keep[n] != 0.0f) ? 1 : 0;
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int d0 = 0; d0 < D; d0 += kFeatureTile) {
    const int nd = std::min(kFeatureTile, D - d0);
    double s1[kFeatureTile], s2[kFeatureTile];  // one owner per feature: rows added in order
    for (int j = 0; j < nd; ++j) {
      s1[j] = sum ? sum[d0 + j] : 0.0;
      s2[j] = sum_sq[d0 + j];
    }
    for (int n = 0; n < N; ++n) {
      if (keep && keep[n] == 0.0f) continue;
      const float* x_n = x + (long)n * D + d0;
      for (int j = 0; j < nd; ++j) {
        s1[j] += x_n[j];                       // sum x
        s2[j] += (double)x_n[j] * x_n[j];      // sum x^2
      }
    }
    for (int j = 0; j < nd; ++j) {
      if (sum) sum[d0 + j] = s1[j];
      sum_sq[d0 + j] = s2[j];
    }
  }
  return count;
}

void batchnorm_stats_from_sums(float* mean, float* var, float* rstd, const double* sum,
                               const double* sum_sq, long count, int D, float eps) {
  for (int d = 0; d < D; ++d) {
    const double mu = count > 0 ? sum[d] / count : 0.0;                     // mean_d = S1 / n
    const double v = count > 0 ? std::max(0.0, sum_sq[d] / count - mu * mu) : 0.0;  // S2/n - mean^2
    mean[d] = (float)mu;
    var[d] = (float)v;
    rstd[d] = (float)(1.0 / std::sqrt((double)var[d] + eps));
  }
}

void batchnorm_rstd(float* rstd, const float* var, int D, float eps) {
  for (int d = 0; d < D; ++d) rstd[d] = (float)(1.0 / std::sqrt((double)var[d] + eps));
}

void batchnorm_forward(float* out, const float* x, const float* keep, const float* mean,
                       const float* rstd, const float* g, const float* b, int N, int D) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int n = 0; n < N; ++n) {
    const float* x_n = x + (long)n * D;
    float* out_n = out + (long)n * D;
    if (keep && keep[n] == 0.0f) {   // a pad row: output 0, a constant, so no gradient
      for (int d = 0; d < D; ++d) out_n[d] = 0.0f;
      continue;
    }
    for (int d = 0; d < D; ++d) {
      const float xhat = (x_n[d] - mean[d]) * rstd[d];          // xhat = (x - mean_d) * rstd_d
      out_n[d] = g ? g[d] * xhat + (b ? b[d] : 0.0f) : xhat;    // out = g * xhat + b
    }
  }
}

int batchnorm_backward_sums(double* sum_dout, double* sum_dout_xhat, const float* dout,
                            const float* x, const float* keep, const float* mean,
                            const float* rstd, int N, int D) {
  int count = 0;
  for (int n = 0; n < N; ++n) count += (!keep || keep[n] != 0.0f) ? 1 : 0;
  // One tile of features per iteration (see affine_backward): every column sum has one owner
  // and adds rows in order, and each row's tile is read contiguously.
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int d0 = 0; d0 < D; d0 += kFeatureTile) {
    const int nd = std::min(kFeatureTile, D - d0);
    double s1[kFeatureTile] = {}, s2[kFeatureTile] = {};
    for (int n = 0; n < N; ++n) {
      if (keep && keep[n] == 0.0f) continue;
      const long i = (long)n * D + d0;
      for (int j = 0; j < nd; ++j) {
        s1[j] += dout[i + j];                                                // sum dout
        s2[j] += dout[i + j] * ((x[i + j] - mean[d0 + j]) * rstd[d0 + j]);   // sum dout * xhat
      }
    }
    for (int j = 0; j < nd; ++j) {
      sum_dout[d0 + j] = s1[j];
      sum_dout_xhat[d0 + j] = s2[j];
    }
  }
  return count;
}

void batchnorm_backward_dx(float* dx, const float* dout, const float* x, const float* keep,
                           const float* mean, const float* rstd, const float* g,
                           const double* sum_dout, const double* sum_dout_xhat, long count,
                           int N, int D, bool through_stats) {
  if (count == 0) return;
  // forward: xhat = (x - mean_d) * rstd_d, mean_d and var_d over the real rows
  //   =>  dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (LayerNorm's formula
  //       down the column); in eval mode the stats are constants and both means drop out.
  // mean(dxhat) = g * sum_dout / count, mean(dxhat * xhat) = g * sum_dout_xhat / count: the
  // sums and count of every rank for SyncBatchNorm, of this batch alone otherwise.
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int d0 = 0; d0 < D; d0 += kFeatureTile) {
    const int nd = std::min(kFeatureTile, D - d0);
    float mean_dxhat[kFeatureTile], mean_dxhat_xhat[kFeatureTile];
    for (int j = 0; j < nd; ++j) {
      const float gd = g ? g[d0 + j] : 1.0f;
      mean_dxhat[j] = through_stats ? (float)(gd * sum_dout[d0 + j] / count) : 0.0f;
      mean_dxhat_xhat[j] = through_stats ? (float)(gd * sum_dout_xhat[d0 + j] / count) : 0.0f;
    }
    for (int n = 0; n < N; ++n) {
      if (keep && keep[n] == 0.0f) continue;   // pads: dx stays 0
      const long i = (long)n * D + d0;
      for (int j = 0; j < nd; ++j) {
        const int d = d0 + j;
        const float xhat = (x[i + j] - mean[d]) * rstd[d];
        dx[i + j] += rstd[d] * ((g ? g[d] : 1.0f) * dout[i + j] - mean_dxhat[j] - xhat * mean_dxhat_xhat[j]);
      }
    }
  }
}

void batchnorm_update_running(float* running_mean, float* running_var, const float* mean,
                              const float* var, int count, int D, float momentum) {
  // rv tracks the UNBIASED variance (PyTorch): the batch's biased var times count/(count-1).
  const double bessel = (double)count / (count - 1);
  for (int d = 0; d < D; ++d) {
    running_mean[d] = (1.0f - momentum) * running_mean[d] + momentum * mean[d];
    running_var[d] = (float)((1.0 - momentum) * running_var[d] + momentum * var[d] * bessel);
  }
}

}  // namespace nl::kernels
