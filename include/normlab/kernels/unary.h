// kernels/unary.h — element-wise math functions and their derivatives on raw floats.
//
// What it is: for each function f, `f_forward(out, x, n)` writes out[i] = f(x[i]) and
// `f_backward(dx, dout, x or out, n)` (pow: and p) adds dx[i] += dout[i] * f'(x[i]) (taking the saved
// output instead of x where that is cheaper: exp' = exp, tanh' = 1 - tanh^2,
// sqrt' = 1 / (2 sqrt)). The forward/backward formulas sit beside each pair in unary.cpp.
// OpenMP over the element loop; every element is independent, so results do not
// depend on the thread count.
// What it is not: aware of tensors; it allocates nothing.
#pragma once
#include <cstdint>

#include "normlab/core/exec.h"

namespace nl::kernels {

void exp_forward(float* out, const float* x, int64_t n);
void exp_backward(float* dx, const float* dout, const float* out, int64_t n);

void log_forward(float* out, const float* x, int64_t n);
void log_backward(float* dx, const float* dout, const float* x, int64_t n);

void sqrt_forward(float* out, const float* x, int64_t n);
void sqrt_backward(float* dx, const float* dout, const float* out, int64_t n);

void pow_forward(float* out, const float* x, float p, int64_t n);
void pow_backward(float* dx, const float* dout, const float* x, float p, int64_t n);

void relu_forward(float* out, const float* x, int64_t n);
void relu_backward(float* dx, const float* dout, const float* x, int64_t n);

// GELU, exact (Hendrycks & Gimpel 2016, https://arxiv.org/abs/1606.08415):
// gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
// fast: vectorisable polynomial erf and exp (within 2.4e-7 of <cmath>); reference: std::erf.
void gelu_forward(KernelSet ks, float* out, const float* x, int64_t n);
void gelu_backward(KernelSet ks, float* dx, const float* dout, const float* x, int64_t n);

void tanh_forward(float* out, const float* x, int64_t n);
void tanh_backward(float* dx, const float* dout, const float* out, int64_t n);

}  // namespace nl::kernels
