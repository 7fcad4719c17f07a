// kernels/elementwise.h — broadcasting binary ops, scalar ops and masked_fill on raw floats.
//
// What it is: out = a (op) b where a and b broadcast NumPy-style to out's shape, and
// the per-element local gradients the backward pass needs. A Broadcast describes
// the index walk once (strides are 0 on stretched axes); kernels allocate nothing.
// The plain twin walks every output element and unravels its index; the fast path
// collapses axes and runs contiguous rows under OpenMP (and a flat loop when the
// shapes are equal). Both do the same float operation per element, so they agree
// bit for bit, and the result does not depend on the thread count; the ops call the fast
// walk, and tests compare the two.
// What it is not: aware of tensors or the tape; the reductions over broadcast axes
// in backward are reduce.h's job.
#pragma once
#include <cstdint>
#include <vector>

namespace nl::kernels {

enum class BinaryOp { add, sub, mul, div };

// How out[o] finds its a and b elements. Built by make_broadcast; shapes are
// already checked by the op.
struct Broadcast {
  std::vector<int> out_shape;      // after collapsing adjacent axes that behave alike
  std::vector<int64_t> a_stride;   // 0 on axes where a is stretched
  std::vector<int64_t> b_stride;
  int64_t n = 0;                   // out numel
  bool same_shape = false;         // a, b and out all have the same shape
};
// a_shape and b_shape must broadcast to out_shape (left-padded with 1s).
Broadcast make_broadcast(const std::vector<int>& out_shape, const std::vector<int>& a_shape,
                         const std::vector<int>& b_shape);

// out[o] = a[ia] op b[ib]
void binary_forward_fast(BinaryOp op, float* out, const float* a, const float* b, const Broadcast& bc);
void binary_forward_reference(BinaryOp op, float* out, const float* a, const float* b,
                              const Broadcast& bc);

// The gradient of one input, still in out's shape (reduce it to the input's shape after):
//   which == 0: g[o] = dout[o] * d(a op b)/da,   which == 1: g[o] = dout[o] * d(a op b)/db
void binary_backward_fast(BinaryOp op, int which, float* g, const float* dout, const float* a,
                          const float* b, const Broadcast& bc);
void binary_backward_reference(BinaryOp op, int which, float* g, const float* dout,
                               const float* a, const float* b, const Broadcast& bc);

// out[i] = x[i] * mul + add   (add_scalar: mul = 1; mul_scalar: add = 0; neg: mul = -1)
void affine_scalar(float* out, const float* x, float mul, float add, int64_t n);
// dx[i] += dout[i] * mul
void axpy(float* dx, const float* dout, float mul, int64_t n);

// masked_fill with a mask broadcast to x (bc built for out = x, a = x, b = mask):
//   out[o] = mask[im] != 0 ? value : x[o]
void masked_fill_forward(float* out, const float* x, const float* mask, float value,
                         const Broadcast& bc);
//   dx[o] += mask[im] != 0 ? 0 : dout[o]
void masked_fill_backward(float* dx, const float* dout, const float* mask, const Broadcast& bc);

// Dropout with a precomputed keep mask (0 or 1/(1-p) per element): out = x * scale.
void dropout_forward(float* out, const float* x, const float* scale, int64_t n);
//   dx += dout * scale
void dropout_backward(float* dx, const float* dout, const float* scale, int64_t n);

}  // namespace nl::kernels
