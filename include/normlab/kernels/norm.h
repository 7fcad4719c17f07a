// kernels/norm.h — normalization kernels on raw float pointers, forward beside backward.
//
// What it is: llm.c-style pairs X_forward / X_backward over a matrix x [N,D]: N rows, one
// per token (N = B*T, pads included), D features. Forward keeps what backward needs (mean,
// rstd = 1/sqrt(var + eps)). Every sum is taken by one thread in a fixed order (double
// accumulators): no atomics, and the result does not depend on the thread count.
// What it is not: autograd (src/nn/norms/ wraps these with nl::record) or allocation:
// callers pass every buffer. Backward functions ADD into dx, dg, db (+=); any of those may
// be null (that gradient is not wanted). "(may be null)" marks other optional pointers.
//
// Two families:
//  - per-token norms (LayerNorm, RMSNorm, AdaNorm) normalise each ROW over its D features;
//    OpenMP runs over rows.
//  - BatchNorm normalises each COLUMN (one feature) over the real tokens; OpenMP runs over
//    features.
//              features d ->                         features d ->
//     token n [ x x x x x ]  <- LayerNorm:       [ x | x | x | x ]  BatchNorm: one mean
//             [ x x x x x ]     one mean and     [ x | x | x | x ]  and var per column,
//             [ x x x x x ]     var per row      [ x | x | x | x ]  over the real tokens
#pragma once

namespace nl::kernels {

// ---- shared statistics ------------------------------------------------------------------
// Mean and sum of squared deviations of the n values x[0], x[stride], ..., x[(n-1)*stride],
// skipping those with keep[i] == 0 (keep may be null: all count). Two passes (mean first,
// then deviations) in double, so a large mean does not eat the variance.
// A token's features: moments(x_n, D, 1, nullptr). A feature's tokens: moments(x + d, N, D, keep).
struct Moments {
  double mean = 0;
  double m2 = 0;   // sum of (x - mean)^2 over the counted values
  int count = 0;   // how many values were counted
};
inline Moments moments(const float* x, int n, long stride, const float* keep) {
  Moments m;
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    if (keep && keep[i] == 0.0f) continue;
    sum += x[i * stride];
    ++m.count;
  }
  if (m.count == 0) return m;
  m.mean = sum / m.count;
  for (int i = 0; i < n; ++i) {
    if (keep && keep[i] == 0.0f) continue;
    const double dev = x[i * stride] - m.mean;
    m.m2 += dev * dev;
  }
  return m;
}

// Column-wise sums (BatchNorm, parameter gradients) take features in tiles of this many:
// one thread owns a tile and walks the rows in order, reading each row's tile contiguously.
constexpr int kFeatureTile = 32;

// Parameter gradients of out = g * xhat + b with xhat[n,d] = (x[n,d] - mean[n]) * rstd[n]
// (mean may be null: 0, as in RMSNorm). Sums over all N rows; OpenMP over features.
void affine_backward(float* dg, float* db, const float* dout, const float* x, const float* mean,
                     const float* rstd, int N, int D);

// ---- LayerNorm (also LayerNorm-simple and DetachNorm: g = b = null) ---------------------
// out = g * (x - mean) * rstd + b per row; mean, rstd [N] are written for backward.
// g, b may be null (no affine: out = xhat).
void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* g,
                       const float* b, int N, int D, float eps);
// through_stats = true: the exact gradient (through mean and var).
// through_stats = false: mean and rstd are constants (DetachNorm): dx = dxhat * rstd.
void layernorm_backward(float* dx, float* dg, float* db, const float* dout, const float* x,
                        const float* mean, const float* rstd, const float* g, int N, int D,
                        bool through_stats);

// ---- RMSNorm ---------------------------------------------------------------------------
// out = g * x * rstd, rstd = 1/sqrt(mean_D x^2 + eps) per row. g may be null.
void rmsnorm_forward(float* out, float* rstd, const float* x, const float* g, int N, int D,
                     float eps);
void rmsnorm_backward(float* dx, float* dg, const float* dout, const float* x, const float* rstd,
                      const float* g, int N, int D);

// ---- AdaNorm ---------------------------------------------------------------------------
// y = (x - mean) / (s + eps) with s the UNBIASED std of the row (D >= 2);
// out = C * (1 - k * sg(y)) * y. Writes mean and s ([N]) for backward.
void adanorm_forward(float* out, float* mean, float* std, const float* x, int N, int D, float eps,
                     float C, float k);
void adanorm_backward(float* dx, const float* dout, const float* x, const float* mean,
                      const float* std, int N, int D, float eps, float C, float k);

// ---- BatchNorm -------------------------------------------------------------------------
// Per feature d over the rows with keep != 0 (every row if keep is null): mean[d], biased
// var[d], rstd[d] = 1/sqrt(var[d] + eps). Returns how many rows were counted.
int batchnorm_stats(float* mean, float* var, float* rstd, const float* x, const float* keep,
                    int N, int D, float eps);
// Masked column sums, the one kernel behind every one-pass statistic over real tokens
// (SyncBatchNorm's, PowerNorm's quadratic mean, an evaluation split's InputMoments): per
// feature d over the counted rows (keep != 0; keep null: every row), in row order, in double,
//   sum[d] += x[n,d],   sum_sq[d] += x[n,d]^2
// ADDED to what the arrays hold (callers start from 0, or keep adding batch after batch).
// sum may be null (PowerNorm needs sum_sq only). Returns how many rows were counted.
int masked_column_sums(double* sum, double* sum_sq, const float* x, const float* keep, int N, int D);
// The one-pass statistics of masked SyncBatchNorm: masked_column_sums from 0. After every
// rank's (count, sum, sum_sq) are added: batchnorm_stats_from_sums gives
//   mean = sum / n,  var = sum_sq / n - mean^2 (in double, clamped at 0),  rstd = 1/sqrt(var + eps).
// (One pass, so that one all-reduce carries everything; double keeps the cancellation in
// sum_sq/n - mean^2 negligible next to float32's precision unless |mean| > ~1e4 std.)
void batchnorm_stats_from_sums(float* mean, float* var, float* rstd, const double* sum,
                               const double* sum_sq, long count, int D, float eps);
// rstd[d] = 1/sqrt(var[d] + eps) (eval mode: from the running variance).
void batchnorm_rstd(float* rstd, const float* var, int D, float eps);
// out = g * (x - mean) * rstd + b per column at real rows; 0 at pad rows (keep == 0), which
// thereby get no gradient either. g, b may be null.
void batchnorm_forward(float* out, const float* x, const float* keep, const float* mean,
                       const float* rstd, const float* g, const float* b, int N, int D);
// Backward, in two kernels so that SyncBatchNorm can add every rank's sums in between:
// per feature d over the counted rows (xhat = (x - mean) * rstd):
//   sum_dout[d] = sum dout,  sum_dout_xhat[d] = sum dout * xhat   (double; returns the count).
// These are also the parameter gradients: db = sum_dout, dg = sum_dout_xhat.
int batchnorm_backward_sums(double* sum_dout, double* sum_dout_xhat, const float* dout,
                            const float* x, const float* keep, const float* mean,
                            const float* rstd, int N, int D);
// dx += rstd * (dxhat - g * sum_dout / count - xhat * g * sum_dout_xhat / count), dxhat = dout * g,
// at counted rows (pad rows keep dx = 0). `count` and the sums are over every rank for
// SyncBatchNorm. through_stats = true: training (mean, var are functions of x); false: eval
// (running statistics are constants, both sums drop out: dx = rstd * dxhat). g may be null.
void batchnorm_backward_dx(float* dx, const float* dout, const float* x, const float* keep,
                           const float* mean, const float* rstd, const float* g,
                           const double* sum_dout, const double* sum_dout_xhat, long count,
                           int N, int D, bool through_stats);
// rm = (1-m)*rm + m*mean;  rv = (1-m)*rv + m*var*count/(count-1)  (PyTorch; count >= 2)
void batchnorm_update_running(float* running_mean, float* running_var, const float* mean,
                              const float* var, int count, int D, float momentum);

}  // namespace nl::kernels
