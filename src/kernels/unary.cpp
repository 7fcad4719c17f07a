// kernels/unary.cpp — exp, log, sqrt, pow, relu, gelu, tanh: forward and backward pairs.
//
// What it is: one element loop per function and one per derivative, OpenMP over elements;
// each backward adds dout * f'(x) into dx, computed from x or from the saved output.
// What it is not: the ops (ops/unary.cpp records these on the tape), nor guarded outside
// a function's domain: log or sqrt of x <= 0 and a fractional power of x < 0 give what
// <cmath> gives (-inf, NaN; sqrt's backward at 0 is inf).
#include "normlab/kernels/unary.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "normlab/core/parallel.h"

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

// The fast GELU: erf and exp as short polynomials with no branches and no library call,
// so the compiler vectorizes the loops (std::erf and std::exp are scalar calls, and were a
// fifth of a training step). Both are accurate to about 1e-7 absolute, float's own
// precision for Phi = 0.5 (1 + erf) in [0, 1]; the plain loops with <cmath> are the twin
// under `--kernels reference`.
namespace {

// exp(x) for x in [-87, 88] (clamped outside; exp(-87) ~ 1e-38 stands in for 0): x = n ln2 + r,
// |r| <= ln2/2, exp(r) by Cephes' degree-6 polynomial, 2^n put into the exponent bits.
// (Written with ?: and an int conversion, not std::min/max/floor, and built with
// -fno-trapping-math: otherwise GCC will not vectorize the loop.)
inline float exp_poly(float x) {
  x = x == x ? x : 0.0f;  // NaN: any finite value (the GELU loops keep the NaN through x)
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float y = x * 1.44269504088896341f;                   // x / ln 2
  const int32_t ni = (int32_t)(y + std::copysign(0.5f, y));  // nearest integer
  const float n = (float)ni;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln 2 split in two
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const uint32_t bits = (uint32_t)(ni + 127) << 23;  // 2^n, biased exponent 40..215
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

// erf(z) given e = exp(-z^2): Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7.
inline float erf_poly(float z, float e) {
  const float t = 1.0f / (1.0f + 0.3275911f * std::fabs(z));
  float y = 1.061405429f;
  y = y * t - 1.453152027f;
  y = y * t + 1.421413741f;
  y = y * t - 0.284496736f;
  y = y * t + 0.254829592f;
  return std::copysign(1.0f - y * t * e, z);
}

}  // namespace

void gelu_forward(KernelSet ks, float* out, const float* x, int64_t n) {
  if (ks == KernelSet::reference) {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
    return;
  }
#pragma omp parallel for simd schedule(static) if (parallel_worth(n * kCostCheap * 4))
  for (int64_t i = 0; i < n; ++i) {
    const float z = x[i] * kInvSqrt2;
    out[i] = 0.5f * x[i] * (1.0f + erf_poly(z, exp_poly(-z * z)));
  }
}
// forward: out = x * Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2))
//   =>  dx += dout * (Phi(x) + x * phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// (the fast loop computes exp(-x^2/2) once: erf(x/sqrt 2) needs the same exp)
void gelu_backward(KernelSet ks, float* dx, const float* dout, const float* x, int64_t n) {
  if (ks == KernelSet::reference) {
    for (int64_t i = 0; i < n; ++i) {
      const float Phi = 0.5f * (1.0f + std::erf(x[i] * kInvSqrt2));
      const float phi = kInvSqrt2Pi * std::exp(-0.5f * x[i] * x[i]);
      dx[i] += dout[i] * (Phi + x[i] * phi);
    }
    return;
  }
#pragma omp parallel for simd schedule(static) if (parallel_worth(n * kCostCheap * 4))
  for (int64_t i = 0; i < n; ++i) {
    const float z = x[i] * kInvSqrt2;
    const float e = exp_poly(-z * z);  // exp(-x^2 / 2)
    const float Phi = 0.5f * (1.0f + erf_poly(z, e));
    dx[i] += dout[i] * (Phi + x[i] * kInvSqrt2Pi * e);
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
