// kernels/unary.cpp — exp, log, sqrt, pow, relu, gelu, tanh: forward and backward pairs.
//
// What it is: one element loop per function and one per derivative, OpenMP over elements;
// each backward adds dout * f'(x) into dx, computed from x or from the saved output.
// What it is not: the ops (ops/unary.cpp records these on the tape), nor guarded outside
// a function's domain: log or sqrt of x <= 0 and a fractional power of x < 0 give what
// <cmath> gives (-inf, NaN; sqrt's backward at 0 is inf).
#include "normlab/kernels/unary.h"

#include <cmath>
#include "normlab/parallel.h"

namespace nl::kernels {

void exp_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i]);
}
// forward: out = exp(x)  =>  dx += dout * out
void exp_backward(float* dx, const float* dout, const float* out, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * out[i];
}

void log_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) out[i] = std::log(x[i]);
}
// forward: out = log(x)  =>  dx += dout / x
void log_backward(float* dx, const float* dout, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] / x[i];
}

void sqrt_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(x[i]);
}
// forward: out = sqrt(x)  =>  dx += dout * 0.5 / out
void sqrt_backward(float* dx, const float* dout, const float* out, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * 0.5f / out[i];
}

void pow_forward(float* out, const float* x, float p, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) out[i] = std::pow(x[i], p);
}
// forward: out = x^p  =>  dx += dout * p * x^(p-1)
void pow_backward(float* dx, const float* dout, const float* x, float p, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * p * std::pow(x[i], p - 1.0f);
}

void relu_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
// forward: out = max(x, 0)  =>  dx += x > 0 ? dout : 0
void relu_backward(float* dx, const float* dout, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dout[i] : 0.0f;
}

static constexpr float kInvSqrt2 = 0.70710678118654752f;    // 1 / sqrt(2)
static constexpr float kInvSqrt2Pi = 0.39894228040143268f;  // 1 / sqrt(2 pi)

void gelu_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}
// forward: out = x * Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2))
//   =>  dx += dout * (Phi(x) + x * phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
void gelu_backward(float* dx, const float* dout, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) {
    const float Phi = 0.5f * (1.0f + std::erf(x[i] * kInvSqrt2));
    const float phi = kInvSqrt2Pi * std::exp(-0.5f * x[i] * x[i]);
    dx[i] += dout[i] * (Phi + x[i] * phi);
  }
}

void tanh_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
}
// forward: out = tanh(x)  =>  dx += dout * (1 - out^2)
void tanh_backward(float* dx, const float* dout, const float* out, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostTranscend))
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * (1.0f - out[i] * out[i]);
}

}  // namespace nl::kernels
