// kernels/matmul.h — C = alpha * op(A) @ op(B) + beta * C on raw float pointers.
//
// What it is: the one GEMM every linear layer and attention product goes through.
// `sgemm` runs OpenBLAS or the naive twin, as its KernelSet argument says (exec.h);
// `sgemm_reference` is the plain triple loop a learner can step into.
// What it is not: aware of tensors or graphs; it allocates nothing.
// Shapes: op(A) is [M,K], op(B) is [K,N], C is [M,N], all row-major and contiguous.
// trans_a means A is stored [K,M]; trans_b means B is stored [N,K].
#pragma once
#include "normlab/core/exec.h"

namespace nl::kernels {

void sgemm(KernelSet ks, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
           const float* B, float beta, float* C);
void sgemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                const float* B, float beta, float* C);
void sgemm_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                     const float* A, const float* B, float beta, float* C);
// OpenBLAS on blocks inside larger row-major arrays: lda, ldb, ldc are the row strides
// (in floats) of A, B and C as stored. sgemm_blas is this with contiguous strides; the
// fused attention kernels use it on one head's columns of [N,D] tensors.
void sgemm_strided(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                   int lda, const float* B, int ldb, float beta, float* C, int ldc);

}  // namespace nl::kernels
