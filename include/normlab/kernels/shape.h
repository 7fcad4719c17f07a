// kernels/shape.h — moving values between layouts: permute, and strided row copies
// (the kernels behind transpose, permute, slice and concat).
//
// What it is not: aware of tensors; it allocates nothing.
#pragma once
#include <cstdint>
#include <vector>

namespace nl::kernels {

// out (shape: in_shape permuted, out_shape[j] = in_shape[perm[j]]) = x with axes moved.
void permute_forward(float* out, const float* x, const std::vector<int>& in_shape,
                     const std::vector<int>& perm);
// forward: out[j...] = x[perm^-1 ...]  =>  dx[same element] += dout[j...]
void permute_backward(float* dx, const float* dout, const std::vector<int>& in_shape,
                      const std::vector<int>& perm);

// For r in [0, rows): dst[r*dst_stride + k] (=|+=) src[r*src_stride + k], k < len.
// slice copies a window of each row out of x; concat copies each input into its window.
void copy_rows(float* dst, int64_t dst_stride, const float* src, int64_t src_stride,
               int64_t rows, int64_t len, bool accumulate);

}  // namespace nl::kernels
