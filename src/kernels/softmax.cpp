// kernels/softmax.cpp — stable softmax, log-softmax and cross-entropy.
#include "normlab/kernels/softmax.h"

#include <cmath>
#include <limits>

namespace nl::kernels {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Log-sum-exp of one row of C values at stride s; -inf if every value is -inf.
inline float row_lse(const float* x, int C, int64_t s) {
  float m = kNegInf;
  for (int c = 0; c < C; ++c) m = x[c * s] > m ? x[c * s] : m;
  if (m == kNegInf) return kNegInf;
  float sum = 0.0f;
  for (int c = 0; c < C; ++c) sum += std::exp(x[c * s] - m);
  return m + std::log(sum);
}

}  // namespace

void softmax_forward(float* out, const float* x, int64_t outer, int C, int64_t inner) {
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < outer * inner; ++row) {
    const int64_t o = row / inner, i = row % inner;
    const float* x_r = x + o * C * inner + i;
    float* out_r = out + o * C * inner + i;
    const float lse = row_lse(x_r, C, inner);
    for (int c = 0; c < C; ++c)
      out_r[c * inner] = lse == kNegInf ? 0.0f : std::exp(x_r[c * inner] - lse);
  }
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int C,
                      int64_t inner) {
#pragma omp parallel for schedule(static)
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
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < outer * inner; ++row) {
    const int64_t base = (row / inner) * C * inner + row % inner;
    const float lse = row_lse(x + base, C, inner);
    for (int c = 0; c < C; ++c) {
      const int64_t k = base + c * inner;
      out[k] = lse == kNegInf ? kNegInf : x[k] - lse;
    }
  }
}

void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int C,
                          int64_t inner) {
#pragma omp parallel for schedule(static)
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
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* x_n = logits + (int64_t)n * C;
    if (targets[n] == ignore_index) {
      row_loss[n] = 0.0f;
      lse[n] = 0.0f;
      continue;
    }
    lse[n] = row_lse(x_n, C, 1);
    row_loss[n] = lse[n] - x_n[targets[n]];  // -log softmax(x_n)[t_n]
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

void cross_entropy_backward(float* dlogits, float dloss, const float* logits, const float* lse,
                            const int* targets, int N, int C, int ignore_index, int count) {
  if (count == 0) return;  // every row ignored: the loss is the constant 0
  const float scale = dloss / (float)count;
#pragma omp parallel for schedule(static)
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

}  // namespace nl::kernels
