// kernels/matmul.cpp — GEMM: OpenBLAS for speed, a triple loop to read.
//
// What it is: C = alpha * op(A) @ op(B) + beta * C on row-major floats, by cblas_sgemm or
// by the naive loop, as the caller's kernel set says.
// What it is not: matmul's backward, shapes or batching: ops/matmul.cpp checks the shapes
// and differentiates with two more calls to sgemm (dA = dC @ B^T, dB = A^T @ dC).
#include "normlab/kernels/matmul.h"

#include <cblas.h>


namespace nl::kernels {

void sgemm_strided(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                   int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                const float* B, float beta, float* C) {
  sgemm_strided(trans_a, trans_b, M, N, K, alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

// The plain twin: C[m,n] = alpha * sum_k opA[m,k] * opB[k,n] + beta * C[m,n].
void sgemm_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                     const float* A, const float* B, float beta, float* C) {
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) {
        const float a_mk = trans_a ? A[k * M + m] : A[m * K + k];
        const float b_kn = trans_b ? B[n * K + k] : B[k * N + n];
        acc += a_mk * b_kn;
      }
      C[m * N + n] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[m * N + n]);
    }
  }
}

void sgemm(KernelSet ks, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
           const float* A, const float* B, float beta, float* C) {
  if (ks == KernelSet::reference)
    sgemm_reference(trans_a, trans_b, M, N, K, alpha, A, B, beta, C);
  else
    sgemm_blas(trans_a, trans_b, M, N, K, alpha, A, B, beta, C);
}

}  // namespace nl::kernels
