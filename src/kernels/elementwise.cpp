// kernels/elementwise.cpp — broadcasting binary ops, scalar ops, masked_fill, dropout.
//
// What it is: the per-element math of add/sub/mul/div (forward, and one input's local
// gradient still in out's shape), x * mul + add, masked_fill and dropout. The binary ops
// have a plain walk (one index unravel per element, no threads) and a fast one
// (contiguous rows); the two agree bit for bit, so the ops call the fast one and
// tests/unit/kernels/test_ops_kernels.cpp compares them. Every element is independent, so OpenMP
// splits the outer loop over rows and the result is bit-identical for any thread count.
// What it is not: the autograd wiring, nor the sum over broadcast axes in backward:
// ops/elementwise.cpp and ops/mask.cpp record these kernels; kernels/reduce.cpp sums.
#include "normlab/kernels/elementwise.h"

#include <cstddef>

#include "normlab/core/parallel.h"

namespace nl::kernels {

Broadcast make_broadcast(const std::vector<int>& out_shape, const std::vector<int>& a_shape,
                         const std::vector<int>& b_shape) {
  Broadcast bc;
  const size_t R = out_shape.size();
  bc.n = 1;
  for (int d : out_shape) bc.n *= d;
  bc.same_shape = (a_shape == out_shape && b_shape == out_shape);
  // Left-pad a and b with 1s; keep only out axes of size > 1; then merge neighbours
  // where a is stretched-or-not the same way on both, and b likewise.
  auto dim_of = [R](const std::vector<int>& s, size_t i) {
    const size_t pad = R - s.size();
    return i < pad ? 1 : s[i - pad];
  };
  std::vector<int> dims;
  std::vector<bool> a_full, b_full;
  for (size_t i = 0; i < R; ++i) {
    if (out_shape[i] == 1) continue;
    const bool af = dim_of(a_shape, i) != 1, bf = dim_of(b_shape, i) != 1;
    if (!dims.empty() && a_full.back() == af && b_full.back() == bf) {
      dims.back() *= out_shape[i];
    } else {
      dims.push_back(out_shape[i]);
      a_full.push_back(af);
      b_full.push_back(bf);
    }
  }
  if (dims.empty()) {  // every axis is 1: one element
    dims.push_back(1);
    a_full.push_back(true);
    b_full.push_back(true);
  }
  const size_t D = dims.size();
  bc.out_shape = dims;
  bc.a_stride.assign(D, 0);
  bc.b_stride.assign(D, 0);
  int64_t sa = 1, sb = 1;
  for (size_t i = D; i-- > 0;) {
    if (a_full[i]) { bc.a_stride[i] = sa; sa *= dims[i]; }
    if (b_full[i]) { bc.b_stride[i] = sb; sb *= dims[i]; }
  }
  return bc;
}

namespace {

// The math, once. Forward value and the two local derivatives times dout.
template <BinaryOp OP>
inline float apply(float a, float b) {
  if constexpr (OP == BinaryOp::add) return a + b;
  if constexpr (OP == BinaryOp::sub) return a - b;
  if constexpr (OP == BinaryOp::mul) return a * b;
  if constexpr (OP == BinaryOp::div) return a / b;
}
template <BinaryOp OP, int WHICH>
inline float grad_of(float dout, float a, float b) {
  if constexpr (OP == BinaryOp::add) return dout;                          // out = a + b
  if constexpr (OP == BinaryOp::sub) return WHICH == 0 ? dout : -dout;      // out = a - b
  if constexpr (OP == BinaryOp::mul) return WHICH == 0 ? dout * b : dout * a;  // out = a * b
  if constexpr (OP == BinaryOp::div)                                        // out = a / b
    return WHICH == 0 ? dout / b : -dout * a / (b * b);
}

// Index of element o in a and b: unravel o over out_shape, dot with the strides.
inline void unravel(const Broadcast& bc, int64_t o, int64_t& ia, int64_t& ib) {
  ia = 0;
  ib = 0;
  for (size_t d = bc.out_shape.size(); d-- > 0;) {
    const int64_t i = o % bc.out_shape[d];
    o /= bc.out_shape[d];
    ia += i * bc.a_stride[d];
    ib += i * bc.b_stride[d];
  }
}

// Visit every element: f(o, ia, ib). Plain: one unravel per element, no threads.
template <class F>
void walk_reference(const Broadcast& bc, F f) {
  for (int64_t o = 0; o < bc.n; ++o) {
    int64_t ia, ib;
    unravel(bc, o, ia, ib);
    f(o, ia, ib);
  }
}

// Fast: rows of the last (collapsed) axis in parallel, strided inner loop.
template <class F>
void walk_fast(const Broadcast& bc, F f) {
  if (bc.same_shape) {
#pragma omp parallel for schedule(static) if (parallel_worth(bc.n * kCostCheap))
    for (int64_t o = 0; o < bc.n; ++o) f(o, o, o);
    return;
  }
  const int64_t inner = bc.out_shape.back();
  const int64_t rows = inner == 0 ? 0 : bc.n / inner;
  const int64_t sa = bc.a_stride.back(), sb = bc.b_stride.back();
#pragma omp parallel for schedule(static) if (parallel_worth(bc.n * kCostCheap))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t ia, ib;
    unravel(bc, r * inner, ia, ib);
    const int64_t o0 = r * inner;
    for (int64_t j = 0; j < inner; ++j) f(o0 + j, ia + j * sa, ib + j * sb);
  }
}

template <BinaryOp OP, bool FAST>
void forward_t(float* out, const float* a, const float* b, const Broadcast& bc) {
  auto f = [=](int64_t o, int64_t ia, int64_t ib) { out[o] = apply<OP>(a[ia], b[ib]); };
  if (FAST) walk_fast(bc, f); else walk_reference(bc, f);
}

// forward: out[o] = apply<OP>(a[ia], b[ib])
//   =>  g[o] = grad_of<OP, WHICH>(dout[o], ...) = dout[o] * d(a op b)/da (WHICH 0) or /db (1).
// g has out's shape; the op sums it over the axes where that input was stretched.
template <BinaryOp OP, int WHICH, bool FAST>
void backward_t(float* g, const float* dout, const float* a, const float* b, const Broadcast& bc) {
  auto f = [=](int64_t o, int64_t ia, int64_t ib) { g[o] = grad_of<OP, WHICH>(dout[o], a[ia], b[ib]); };
  if (FAST) walk_fast(bc, f); else walk_reference(bc, f);
}

template <bool FAST>
void forward_dispatch(BinaryOp op, float* out, const float* a, const float* b, const Broadcast& bc) {
  switch (op) {
    case BinaryOp::add: return forward_t<BinaryOp::add, FAST>(out, a, b, bc);
    case BinaryOp::sub: return forward_t<BinaryOp::sub, FAST>(out, a, b, bc);
    case BinaryOp::mul: return forward_t<BinaryOp::mul, FAST>(out, a, b, bc);
    case BinaryOp::div: return forward_t<BinaryOp::div, FAST>(out, a, b, bc);
  }
}

template <bool FAST, int WHICH>
void backward_dispatch(BinaryOp op, float* g, const float* dout, const float* a, const float* b,
                       const Broadcast& bc) {
  switch (op) {
    case BinaryOp::add: return backward_t<BinaryOp::add, WHICH, FAST>(g, dout, a, b, bc);
    case BinaryOp::sub: return backward_t<BinaryOp::sub, WHICH, FAST>(g, dout, a, b, bc);
    case BinaryOp::mul: return backward_t<BinaryOp::mul, WHICH, FAST>(g, dout, a, b, bc);
    case BinaryOp::div: return backward_t<BinaryOp::div, WHICH, FAST>(g, dout, a, b, bc);
  }
}

}  // namespace

void binary_forward_fast(BinaryOp op, float* out, const float* a, const float* b, const Broadcast& bc) {
  forward_dispatch<true>(op, out, a, b, bc);
}
void binary_forward_reference(BinaryOp op, float* out, const float* a, const float* b,
                              const Broadcast& bc) {
  forward_dispatch<false>(op, out, a, b, bc);
}

void binary_backward_fast(BinaryOp op, int which, float* g, const float* dout, const float* a,
                          const float* b, const Broadcast& bc) {
  if (which == 0) backward_dispatch<true, 0>(op, g, dout, a, b, bc);
  else backward_dispatch<true, 1>(op, g, dout, a, b, bc);
}
void binary_backward_reference(BinaryOp op, int which, float* g, const float* dout,
                               const float* a, const float* b, const Broadcast& bc) {
  if (which == 0) backward_dispatch<false, 0>(op, g, dout, a, b, bc);
  else backward_dispatch<false, 1>(op, g, dout, a, b, bc);
}

void affine_scalar(float* out, const float* x, float mul, float add, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * mul + add;
}

// forward: out = x * mul + add  =>  dx += dout * mul
void axpy(float* dx, const float* dout, float mul, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * mul;
}

void masked_fill_forward(float* out, const float* x, const float* mask, float value,
                         const Broadcast& bc) {
  walk_fast(bc, [=](int64_t o, int64_t ix, int64_t im) { out[o] = mask[im] != 0.0f ? value : x[ix]; });
}

// forward: out[o] = mask[im] != 0.0f ? value : x[ix]
//   =>  dx[ix] += mask[im] == 0 ? dout[o] : 0   (a filled element is the constant `value`)
// x has out's shape (bc was built with a = x), so ix == o and no two iterations share a dx.
void masked_fill_backward(float* dx, const float* dout, const float* mask, const Broadcast& bc) {
  walk_fast(bc, [=](int64_t o, int64_t ix, int64_t im) { if (mask[im] == 0.0f) dx[ix] += dout[o]; });
}

void dropout_forward(float* out, const float* x, const float* scale, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale[i];
}

// forward: out[i] = x[i] * scale[i]  =>  dx[i] += dout[i] * scale[i]   (scale is 0 or 1/(1-p))
void dropout_backward(float* dx, const float* dout, const float* scale, int64_t n) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * scale[i];
}

}  // namespace nl::kernels
