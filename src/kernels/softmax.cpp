// kernels/softmax.cpp — stable softmax, log-softmax and cross-entropy.
//
// What it is: the row loops declared in kernels/softmax.h, each forward beside its backward.
// A row is C values at stride `inner`, so any axis is done in place, without a transpose.
// What it is not: the ops (ops/softmax.cpp and ops/loss.cpp record these on the tape), nor
// the masking: attention fills masked scores with a large negative number first (nn/attention.cpp).
#include "normlab/kernels/softmax.h"

#include <cmath>
#include <limits>
#include "normlab/core/parallel.h"

namespace nl::kernels {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One row of C values at stride s: its max m and sum_c exp(x[c] - m). The forwards use
// x - m (exact for nearby values) rather than x - lse, which would round at large |x|;
// cross_entropy_backward does use x - lse, with the lse its forward kept.
// A row that is all -inf has m = -inf and gets sum 0.
inline float row_max(const float* x, int C, int64_t s) {
  float m = kNegInf;
  for (int c = 0; c < C; ++c) m = x[c * s] > m ? x[c * s] : m;
  return m;
}
inline float row_sum_exp(const float* x, int C, int64_t s, float m) {
  if (m == kNegInf) return 0.0f;
  float sum = 0.0f;
  for (int c = 0; c < C; ++c) sum += std::exp(x[c * s] - m);
  return sum;
}

}  // namespace

void softmax_forward(float* out, const float* x, int64_t outer, int C, int64_t inner) {
#pragma omp parallel for schedule(static) if (parallel_worth(outer * inner * C * kCostTranscend))
  for (int64_t row = 0; row < outer * inner; ++row) {
    const int64_t o = row / inner, i = row % inner;
    const float* x_r = x + o * C * inner + i;
    float* out_r = out + o * C * inner + i;
    const float m = row_max(x_r, C, inner);
    const float sum = row_sum_exp(x_r, C, inner, m);
    for (int c = 0; c < C; ++c)  // exp(x - m) / sum = exp(x - lse)
      out_r[c * inner] = m == kNegInf ? 0.0f : std::exp(x_r[c * inner] - m) / sum;
  }
}

// forward: out_r[c] = exp(x_r[c] - m) / sum, i.e. y = softmax(x)
// backward: the row's Jacobian is J[c][j] = y_c * ([c == j] - y_j), so
//   dx_j = sum_c dy_c * J[c][j] = y_j * (dy_j - sum_c dy_c * y_c)
void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int C,
                      int64_t inner) {
#pragma omp parallel for schedule(static) if (parallel_worth(outer * inner * C * kCostTranscend))
  for (int64_t row = 0; row < outer * inner; ++row) {
    const int64_t base = (row / inner) * C * inner + row % inner;
    float dot = 0.0f;  // sum_c dy * y
    for (int c = 0; c < C; ++c) dot += dy[base + c * inner] * y[base + c * inner];
    for (int c = 0; c < C; ++c) {
      const int64_t k = base + c * inner;
      dx[k] += y[k] * (dy[k] - dot);
    }
  }
}

void log_softmax_forward(float* out, const float* x, int64_t outer, int C, int64_t inner) {
#pragma omp parallel for schedule(static) if (parallel_worth(outer * inner * C * kCostTranscend))
  for (int64_t row = 0; row < outer * inner; ++row) {
    const int64_t base = (row / inner) * C * inner + row % inner;
    const float m = row_max(x + base, C, inner);
    const float log_sum = std::log(row_sum_exp(x + base, C, inner, m));
    for (int c = 0; c < C; ++c) {  // (x - m) - log sum = x - lse
      const int64_t k = base + c * inner;
      out[k] = m == kNegInf ? kNegInf : (x[k] - m) - log_sum;
    }
  }
}

// forward: out[k] = (x[k] - m) - log_sum, i.e. y = x - lse(x)
// backward: the row's Jacobian is J[c][j] = [c == j] - softmax(x)_j = [c == j] - exp(y_j), so
//   dx_j = sum_c dy_c * J[c][j] = dy_j - exp(y_j) * sum_c dy_c
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int C,
                          int64_t inner) {
#pragma omp parallel for schedule(static) if (parallel_worth(outer * inner * C * kCostTranscend))
  for (int64_t row = 0; row < outer * inner; ++row) {
    const int64_t base = (row / inner) * C * inner + row % inner;
    float sum_dy = 0.0f;
    for (int c = 0; c < C; ++c) sum_dy += dy[base + c * inner];
    for (int c = 0; c < C; ++c) {
      const int64_t k = base + c * inner;
      dx[k] += dy[k] - std::exp(y[k]) * sum_dy;
    }
  }
}

float cross_entropy_forward(float* row_loss, float* lse, int* count, const float* logits,
                            const int* targets, int N, int C, int ignore_index) {
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * C * kCostTranscend))
  for (int n = 0; n < N; ++n) {
    const float* x_n = logits + (int64_t)n * C;
    if (targets[n] == ignore_index) {
      row_loss[n] = 0.0f;
      lse[n] = 0.0f;
      continue;
    }
    const float m = row_max(x_n, C, 1);
    const float log_sum = std::log(row_sum_exp(x_n, C, 1, m));
    lse[n] = m + log_sum;
    row_loss[n] = log_sum - (x_n[targets[n]] - m);  // -log softmax(x_n)[t_n]
  }
  // The mean, summed in row order on one thread (deterministic).
  float total = 0.0f;
  *count = 0;
  for (int n = 0; n < N; ++n) {
    if (targets[n] == ignore_index) continue;
    total += row_loss[n];
    ++*count;
  }
  return *count > 0 ? total / (float)*count : 0.0f;
}

// forward: row_loss[n] = log_sum - (x_n[t_n] - m) = lse[n] - x_n[t_n];  loss = total / count
// backward: the derivative of row_loss[n] by x_n[c] is softmax(x_n)_c - [c == t_n], so
//   dlogits[n, c] += dloss / count * (exp(x_n[c] - lse[n]) - [c == t_n])   (ignored rows: 0)
void cross_entropy_backward(float* dlogits, float dloss, const float* logits, const float* lse,
                            const int* targets, int N, int C, int ignore_index, int count) {
  if (count == 0) return;  // every row ignored: the loss is the constant 0
  const float scale = dloss / (float)count;
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)N * C * kCostTranscend))
  for (int n = 0; n < N; ++n) {
    if (targets[n] == ignore_index) continue;
    const float* x_n = logits + (int64_t)n * C;
    float* dx_n = dlogits + (int64_t)n * C;
    for (int c = 0; c < C; ++c) {
      const float p = std::exp(x_n[c] - lse[n]);
      dx_n[c] += scale * (p - (c == targets[n] ? 1.0f : 0.0f));
    }
  }
}

int argmax(const float* x, int C) {
  int best = 0;
  for (int c = 1; c < C; ++c)
    if (x[c] > x[best]) best = c;
  return best;
}

}  // namespace nl::kernels
