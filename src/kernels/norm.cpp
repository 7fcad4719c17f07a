// kernels/norm.cpp — per-token normalization: LayerNorm, RMSNorm, AdaNorm, forward and backward.
//
// What it is: the math of each norm over one row (token) of x [N,D], OpenMP over rows.
// Forward keeps the row statistics; backward recomputes xhat from them rather than storing
// it (as llm.c does), so forward writes only N floats per statistic.
// What it is not: BatchNorm (norm_batch.cpp), nor autograd (src/nn/norms/).
//
// The backward of xhat = (x - mean) * rstd over one row, with dxhat = dL/dxhat:
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
// the first mean is the path through `mean`, the second the path through `var`. BatchNorm
// uses the same formula down a column (norm_batch.cpp).
#include <algorithm>
#include <cmath>

#include "normlab/kernels/norm.h"
#include "normlab/core/parallel.h"

namespace nl::kernels {

void affine_backward(float* dg, float* db, const float* dout, const float* x, const float* mean,
                     const float* rstd, int N, int D) {
  if (!dg && !db) return;
  // forward: out[n,d] = g[d] * xhat[n,d] + b[d]
  //   =>  dg[d] += sum_n dout[n,d] * xhat[n,d],  db[d] += sum_n dout[n,d]
  // One tile of features per iteration, so each sum has a single owner (no atomics) and adds
  // rows in order whatever the thread count; walking rows within a tile reads memory
  // contiguously instead of striding down one column.
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int d0 = 0; d0 < D; d0 += kFeatureTile) {
    const int nd = std::min(kFeatureTile, D - d0);
    double sum_dout_xhat[kFeatureTile] = {}, sum_dout[kFeatureTile] = {};
    for (int n = 0; n < N; ++n) {
      const float* x_n = x + (long)n * D + d0;
      const float* dout_n = dout + (long)n * D + d0;
      const float mu = mean ? mean[n] : 0.0f;
      for (int j = 0; j < nd; ++j) {
        sum_dout_xhat[j] += dout_n[j] * ((x_n[j] - mu) * rstd[n]);
        sum_dout[j] += dout_n[j];
      }
    }
    for (int j = 0; j < nd; ++j) {
      if (dg) dg[d0 + j] += (float)sum_dout_xhat[j];
      if (db) db[d0 + j] += (float)sum_dout[j];
    }
  }
}

// ---- LayerNorm ----------------------------------------------------------------------------

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* g,
                       const float* b, int N, int D, float eps) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int n = 0; n < N; ++n) {
    const float* x_n = x + (long)n * D;
    float* out_n = out + (long)n * D;
    const Moments m = moments(x_n, D, 1, nullptr);
    const float mu = (float)m.mean;                             // mean = mean_D x
    const float s = (float)(1.0 / std::sqrt(m.m2 / D + eps));   // rstd = 1/sqrt(var + eps), var biased
    for (int i = 0; i < D; ++i) {
      const float xhat = (x_n[i] - mu) * s;                     // xhat = (x - mean) * rstd
      out_n[i] = g ? g[i] * xhat + (b ? b[i] : 0.0f) : xhat;    // out = g * xhat + b
    }
    mean[n] = mu;
    rstd[n] = s;
  }
}

void layernorm_backward(float* dx, float* dg, float* db, const float* dout, const float* x,
                        const float* mean, const float* rstd, const float* g, int N, int D,
                        bool through_stats) {
  if (dx) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
    for (int n = 0; n < N; ++n) {
      const float* x_n = x + (long)n * D;
      const float* dout_n = dout + (long)n * D;
      float* dx_n = dx + (long)n * D;
      // forward: out = g * xhat + b  =>  dxhat = dout * g
      // forward: xhat = (x - mean) * rstd  =>  the row sums below (zero if the stats are constants)
      double sum_dxhat = 0, sum_dxhat_xhat = 0;
      if (through_stats) {
        for (int i = 0; i < D; ++i) {
          const float dxhat = g ? dout_n[i] * g[i] : dout_n[i];
          const float xhat = (x_n[i] - mean[n]) * rstd[n];
          sum_dxhat += dxhat;
          sum_dxhat_xhat += dxhat * xhat;
        }
      }
      const float mean_dxhat = (float)(sum_dxhat / D);
      const float mean_dxhat_xhat = (float)(sum_dxhat_xhat / D);
      for (int i = 0; i < D; ++i) {
        const float dxhat = g ? dout_n[i] * g[i] : dout_n[i];
        const float xhat = (x_n[i] - mean[n]) * rstd[n];
        // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
        dx_n[i] += rstd[n] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
      }
    }
  }
  affine_backward(dg, db, dout, x, mean, rstd, N, D);
}

// ---- RMSNorm (Zhang & Sennrich 2019): no centring, so no mean path -------------------------

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* g, int N, int D,
                     float eps) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int n = 0; n < N; ++n) {
    const float* x_n = x + (long)n * D;
    float* out_n = out + (long)n * D;
    double sum_sq = 0;
    for (int i = 0; i < D; ++i) sum_sq += (double)x_n[i] * x_n[i];
    const float s = (float)(1.0 / std::sqrt(sum_sq / D + eps));  // rstd = 1/sqrt(mean_D x^2 + eps)
    for (int i = 0; i < D; ++i) out_n[i] = (g ? g[i] : 1.0f) * x_n[i] * s;  // out = g * x * rstd
    rstd[n] = s;
  }
}

void rmsnorm_backward(float* dx, float* dg, const float* dout, const float* x, const float* rstd,
                      const float* g, int N, int D) {
  if (dx) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
    for (int n = 0; n < N; ++n) {
      const float* x_n = x + (long)n * D;
      const float* dout_n = dout + (long)n * D;
      float* dx_n = dx + (long)n * D;
      // forward: out = g * xhat  =>  dxhat = dout * g
      // forward: xhat = x * rstd, rstd = (mean_D x^2 + eps)^(-1/2)
      //   =>  dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
      double sum_dxhat_xhat = 0;
      for (int i = 0; i < D; ++i)
        sum_dxhat_xhat += (g ? g[i] : 1.0f) * dout_n[i] * (x_n[i] * rstd[n]);
      const float mean_dxhat_xhat = (float)(sum_dxhat_xhat / D);
      for (int i = 0; i < D; ++i) {
        const float dxhat = (g ? g[i] : 1.0f) * dout_n[i];
        dx_n[i] += rstd[n] * (dxhat - x_n[i] * rstd[n] * mean_dxhat_xhat);
      }
    }
  }
  affine_backward(dg, nullptr, dout, x, nullptr, rstd, N, D);
}

// ---- AdaNorm (Xu et al. 2019) --------------------------------------------------------------

void adanorm_forward(float* out, float* mean, float* std, const float* x, int N, int D, float eps,
                     float C, float k) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int n = 0; n < N; ++n) {
    const float* x_n = x + (long)n * D;
    float* out_n = out + (long)n * D;
    const Moments m = moments(x_n, D, 1, nullptr);
    const float mu = (float)m.mean;                        // mean = mean_D x
    const float s = (float)std::sqrt(m.m2 / (D - 1));      // s = sqrt(sum_D (x-mean)^2 / (D-1))
    for (int i = 0; i < D; ++i) {
      const float y = (x_n[i] - mu) / (s + eps);           // y = (x - mean) / (s + eps)
      out_n[i] = C * (1.0f - k * y) * y;                   // out = C * (1 - k*sg(y)) * y
    }
    mean[n] = mu;
    std[n] = s;
  }
}

void adanorm_backward(float* dx, const float* dout, const float* x, const float* mean,
                      const float* std, int N, int D, float eps, float C, float k) {
  if (!dx) return;
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * D * kCostRow))
  for (int n = 0; n < N; ++n) {
    const float* x_n = x + (long)n * D;
    const float* dout_n = dout + (long)n * D;
    float* dx_n = dx + (long)n * D;
    const float r = 1.0f / (std[n] + eps);
    // forward: out = C * (1 - k*sg(y)) * y  =>  dy = dout * C * (1 - k*y)   (the factor is a constant)
    double sum_dy = 0, sum_dy_y = 0;
    for (int i = 0; i < D; ++i) {
      const float y = (x_n[i] - mean[n]) * r;
      const float dy = dout_n[i] * C * (1.0f - k * y);
      sum_dy += dy;
      sum_dy_y += dy * y;
    }
    // forward: y = (x - mean) / (s + eps), s = sqrt(sum (x-mean)^2 / (D-1)), ds/dx = (x-mean)/((D-1) s)
    //   =>  dx = (dy - mean(dy)) / (s + eps) - y * sum(dy * y) / ((D-1) * s)
    // (a constant row has s = 0 and y = 0: the second term is then 0, not 0/0)
    const float mean_dy = (float)(sum_dy / D);
    const float var_term = std[n] > 0.0f ? (float)(sum_dy_y / ((D - 1) * (double)std[n])) : 0.0f;
    for (int i = 0; i < D; ++i) {
      const float y = (x_n[i] - mean[n]) * r;
      const float dy = dout_n[i] * C * (1.0f - k * y);
      dx_n[i] += (dy - mean_dy) * r - y * var_term;
    }
  }
}

}  // namespace nl::kernels
