// kernels/softmax.h — softmax, log-softmax and cross-entropy on raw floats.
//
// What it is: everything built on one row's log-sum-exp, computed the stable way:
// m = max_c x[c],  lse = m + log(sum_c exp(x[c] - m)). A row is C values at stride
// `inner` (the softmax axis need not be the last): x[(o*C + c)*inner + i] for the row
// (o, i). OpenMP over rows; each row is done by one thread in a fixed order.
// Rows that are all -inf (fully masked) give softmax 0 (they attend to nothing)
// rather than NaN, and log-softmax -inf.
// What it is not: aware of tensors; it allocates nothing.
#pragma once
#include <cstdint>

namespace nl::kernels {

// out = exp(x - m) / sum_c exp(x_c - m)  (= exp(x - lse))
void softmax_forward(float* out, const float* x, int64_t outer, int C, int64_t inner);
// forward: y = softmax(x)  =>  dx += y * (dy - sum_c dy * y)
void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int C,
                      int64_t inner);

// out = (x - m) - log sum_c exp(x_c - m)  (= x - lse)
void log_softmax_forward(float* out, const float* x, int64_t outer, int C, int64_t inner);
// forward: y = x - lse(x)  =>  dx += dy - exp(y) * sum_c dy
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int C,
                          int64_t inner);

// Cross-entropy of logits [N,C] against targets (rows with target == ignore_index do
// not count): row_loss[n] = lse[n] - logits[n, t_n] (0 for ignored rows), and
// lse[n] is kept for backward. Returns the mean of row_loss over the counted rows
// (0 if none) and sets *count.
float cross_entropy_forward(float* row_loss, float* lse, int* count, const float* logits,
                            const int* targets, int N, int C, int ignore_index);
// forward: loss = (1/count) sum_n (lse[n] - logits[n, t_n])
//   =>  dlogits[n, c] += dloss / count * (exp(logits[n, c] - lse[n]) - [c == t_n])
void cross_entropy_backward(float* dlogits, float dloss, const float* logits, const float* lse,
                            const int* targets, int N, int C, int ignore_index, int count);

// The prediction of one row of logits: the index of its largest value, the first of ties.
int argmax(const float* x, int C);

}  // namespace nl::kernels
