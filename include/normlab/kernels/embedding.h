// kernels/embedding.h — row lookup and its scatter-add adjoint.
//
// What it is not: aware of tensors; ids are already range-checked by the op; it
// allocates nothing.
#pragma once
#include <cstdint>

namespace nl::kernels {

// out[n, :] = W[ids[n], :] for n < N; W is [V, D].
void embedding_forward(float* out, const float* W, const int* ids, int64_t N, int D);
// forward: out[n, :] = W[ids[n], :]  =>  dW[ids[n], :] += dout[n, :]
void embedding_backward(float* dW, const float* dout, const int* ids, int64_t N, int D);

}  // namespace nl::kernels
