// kernels/shape.cpp — permute and strided row copies.
//
// What it is: permute_forward and permute_backward (one index walk serves both), and
// copy_rows, the strided block copy behind slice and concat (forward: =, backward: +=).
// What it is not: reshape, which copies nothing (a view, ops/shape.cpp), nor the shape
// checks and autograd of transpose, permute, slice and concat (ops/shape.cpp).
#include "normlab/kernels/shape.h"

#include <cstddef>
#include "normlab/core/parallel.h"

namespace nl::kernels {

namespace {

// For each output element (row-major over the permuted shape), the offset of the
// x element it comes from. f(o, ix) is called once per element, rows in parallel.
template <class F>
void permute_walk(const std::vector<int>& in_shape, const std::vector<int>& perm, F f) {
  const std::size_t R = in_shape.size();
  std::vector<int64_t> in_stride(R);
  int64_t s = 1, n = 1;
  for (std::size_t d = R; d-- > 0;) { in_stride[d] = s; s *= in_shape[d]; }
  std::vector<int64_t> out_shape(R), stride(R);  // stride: x stride of each out axis
  for (std::size_t j = 0; j < R; ++j) {
    out_shape[j] = in_shape[perm[j]];
    stride[j] = in_stride[perm[j]];
    n *= out_shape[j];
  }
  if (n == 0) return;
  const int64_t inner = R ? out_shape[R - 1] : 1, s_inner = R ? stride[R - 1] : 1;
  const int64_t rows = n / inner;
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, ix = 0;
    for (int j = (int)R - 2; j >= 0; --j) {  // unravel r over the out axes but the last
      ix += (rem % out_shape[j]) * stride[j];
      rem /= out_shape[j];
    }
    for (int64_t k = 0; k < inner; ++k) f(r * inner + k, ix + k * s_inner);
  }
}

}  // namespace

void permute_forward(float* out, const float* x, const std::vector<int>& in_shape,
                     const std::vector<int>& perm) {
  permute_walk(in_shape, perm, [=](int64_t o, int64_t ix) { out[o] = x[ix]; });
}

// forward: out[o] = x[ix], where out axis j is x axis perm[j]
//   =>  dx[ix] += dout[o]: each gradient goes back to the element its value came from.
// Each x element is the source of exactly one output element, so no two iterations
// write the same dx element.
void permute_backward(float* dx, const float* dout, const std::vector<int>& in_shape,
                      const std::vector<int>& perm) {
  permute_walk(in_shape, perm, [=](int64_t o, int64_t ix) { dx[ix] += dout[o]; });
}

void copy_rows(float* dst, int64_t dst_stride, const float* src, int64_t src_stride,
               int64_t rows, int64_t len, bool accumulate) {
#pragma omp parallel for schedule(static) if (parallel_worth(rows * len * kCostCheap))
  for (int64_t r = 0; r < rows; ++r) {
    float* d = dst + r * dst_stride;
    const float* s = src + r * src_stride;
    if (accumulate) for (int64_t k = 0; k < len; ++k) d[k] += s[k];
    else            for (int64_t k = 0; k < len; ++k) d[k] = s[k];
  }
}

}  // namespace nl::kernels
