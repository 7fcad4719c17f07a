// kernels/embedding.cpp — embedding lookup (a gather) and backward (a scatter-add).
//
// What it is: out[n,:] = W[ids[n],:] over raw floats, and its adjoint, split by columns so
// that repeated ids never race and the sums do not depend on the thread count.
// What it is not: the op (ops/embedding.cpp range-checks the ids and records the backward)
// nor the token and position embeddings of the model (nn/encoder.cpp).
#include "normlab/kernels/embedding.h"
#include "normlab/core/parallel.h"

namespace nl::kernels {

void embedding_forward(float* out, const float* W, const int* ids, int64_t N, int D) {
#pragma omp parallel for schedule(static) if (parallel_worth(N * D * kCostCheap))
  for (int64_t n = 0; n < N; ++n) {
    const float* W_row = W + (int64_t)ids[n] * D;
    float* out_n = out + n * D;
    for (int d = 0; d < D; ++d) out_n[d] = W_row[d];
  }
}

// forward: out_n[d] = W_row[d], W_row = W + ids[n] * D
//   =>  dW[ids[n], d] += dout[n, d]: row v of dW gets the sum of dout over every n with ids[n] == v.
// The same id can appear at many positions, so splitting over n would race on dW.
// Threads split the D columns instead: each owns its columns of every row, and adds
// the positions in order n = 0, 1, ..., so the sum is the same for any thread count.
void embedding_backward(float* dW, const float* dout, const int* ids, int64_t N, int D) {
  constexpr int BLK = 16;  // columns per task: a cache line of dW and of dout
  const int nblk = (D + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if (parallel_worth(N * D * kCostCheap))
  for (int b = 0; b < nblk; ++b) {
    const int d0 = b * BLK, d1 = d0 + BLK < D ? d0 + BLK : D;
    for (int64_t n = 0; n < N; ++n) {
      float* dW_row = dW + (int64_t)ids[n] * D;
      const float* dout_n = dout + n * D;
      for (int d = d0; d < d1; ++d) dW_row[d] += dout_n[d];
    }
  }
}

}  // namespace nl::kernels
