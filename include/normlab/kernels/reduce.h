// kernels/reduce.h — sums over a set of axes, and the broadcast that undoes them.
//
// What it is: out[kept...] = scale * sum over reduced axes of x[...], the kernel behind
// sum, mean, sum_all, mean_all and every broadcast backward (the gradient of a
// stretched input is the sum over the axes it was stretched along). And its adjoint:
// dx[...] += scale * dout[kept...].
// Determinism: every output element is summed in the same fixed order (reduced index
// ascending) by one thread, so the fast path, the plain twin and any thread count
// agree bit for bit — except a full reduction to one value, which the fast path splits
// into a fixed number of chunks (independent of the thread count) and the plain
// twin sums in one line. The ops call sum_axes_fast; the plain twin is there to read
// and for tests/unit/kernels/test_ops_kernels.cpp to compare against.
// What it is not: aware of tensors; it allocates nothing.
#pragma once
#include <cstdint>
#include <vector>

namespace nl::kernels {

// shape: x's shape; reduce[d]: whether axis d is summed. out has x's shape with the
// reduced axes removed (or kept as 1: same memory layout).
// accumulate: out += scale * sum, else out = scale * sum.
void sum_axes_fast(float* out, const float* x, const std::vector<int>& shape,
                   const std::vector<bool>& reduce, float scale, bool accumulate);
void sum_axes_reference(float* out, const float* x, const std::vector<int>& shape,
                        const std::vector<bool>& reduce, float scale, bool accumulate);

// The adjoint of sum_axes: dx[i] += scale * dout[kept index of i].
void expand_axes_add(float* dx, const float* dout, const std::vector<int>& shape,
                     const std::vector<bool>& reduce, float scale);

// The number of chunks a full reduction is split into (fixed, so results do not depend
// on the thread count).
constexpr int kSumChunks = 64;

}  // namespace nl::kernels
