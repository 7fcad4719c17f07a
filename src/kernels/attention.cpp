// kernels/attention.cpp — the fused attention core (see kernels/attention.h).
//
// What it is: per (sequence b, head h), four small sgemm calls on strided blocks of the
// [B,T,D] q, k, v tensors plus one masked softmax pass, forward and backward.
// What it is not: the readable version; nn/attention.cpp's composed path (permute,
// matmul, masked_fill, softmax, matmul) is the plain twin, and it runs under
// `--kernels reference`.
#include "normlab/kernels/attention.h"

#include <cblas.h>
#include <omp.h>

#include <cmath>

#include "normlab/parallel.h"

namespace nl::kernels {

namespace {

constexpr float kMaskedScore = -1e9f;  // as in nn/attention.cpp: exp underflows to 0

// C[M,N] (ldc) = alpha op(A) op(B) + beta C, row-major, any leading dimensions.
void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

std::vector<int> attention_key_extent(const float* mask, int B, int T) {
  std::vector<int> extent(B, 0);
  for (int b = 0; b < B; ++b) {
    const float* m = mask + (size_t)b * T * T;
    int last = -1;
    bool empty_row = false;
    for (int t = 0; t < T; ++t) {
      int row_last = -1;
      for (int s = T - 1; s >= 0; --s)
        if (m[(size_t)t * T + s] == 0.0f) { row_last = s; break; }
      if (row_last < 0) empty_row = true;
      if (row_last > last) last = row_last;
    }
    extent[b] = empty_row ? T : last + 1;
  }
  return extent;
}

void attention_forward(float* out, float* P, const float* q, const float* k, const float* v,
                       const float* mask, const std::vector<int>& extent, int B, int T, int D,
                       int H, float scale) {
  const int dh = D / H;
  const int64_t work = (int64_t)B * H * T * T * (2 * dh + kCostRow);
#pragma omp parallel for schedule(dynamic, 1) if (parallel_worth(work))
  for (int bh = 0; bh < B * H; ++bh) {
    const int b = bh / H, h = bh % H, n = extent[b];
    const size_t base = (size_t)b * T * D + (size_t)h * dh;  // row 0 of head h in sequence b
    float* Pb = P + (size_t)bh * T * T;
    const float* m = mask + (size_t)b * T * T;
    // S = scale * q_h k_h^T over the first n keys (the rest stay 0 in P)
    gemm(false, true, T, n, dh, scale, q + base, D, k + base, D, 0.0f, Pb, T);
    for (int t = 0; t < T; ++t) {
      float* row = Pb + (size_t)t * T;
      const float* mrow = m + (size_t)t * T;
      float mx = -INFINITY;
      for (int s = 0; s < n; ++s) {
        if (mrow[s] != 0.0f) row[s] = kMaskedScore;
        mx = std::max(mx, row[s]);
      }
      float sum = 0.0f;
      for (int s = 0; s < n; ++s) {
        row[s] = std::exp(row[s] - mx);
        sum += row[s];
      }
      const float inv = 1.0f / sum;
      for (int s = 0; s < n; ++s) row[s] *= inv;
      for (int s = n; s < T; ++s) row[s] = 0.0f;
    }
    // o_h = P v_h
    gemm(false, false, T, dh, n, 1.0f, Pb, T, v + base, D, 0.0f, out + base, D);
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* P,
                        const float* q, const float* k, const float* v, const float* mask,
                        const std::vector<int>& extent, int B, int T, int D, int H, float scale,
                        float* scratch) {
  const int dh = D / H;
  const int64_t work = (int64_t)B * H * T * T * (4 * dh + kCostRow);
#pragma omp parallel for schedule(dynamic, 1) if (parallel_worth(work))
  for (int bh = 0; bh < B * H; ++bh) {
    const int b = bh / H, h = bh % H, n = extent[b];
    const size_t base = (size_t)b * T * D + (size_t)h * dh;
    const float* Pb = P + (size_t)bh * T * T;
    float* dS = scratch + (size_t)omp_get_thread_num() * T * T;
    // dv_h += P^T do_h
    if (dv) gemm(true, false, n, dh, T, 1.0f, Pb, T, dout + base, D, 1.0f, dv + base, D);
    if (!dq && !dk) continue;
    // dP = do_h v_h^T, then dS = P * (dP - sum_s dP * P) row by row (0 where P is 0)
    gemm(false, true, T, n, dh, 1.0f, dout + base, D, v + base, D, 0.0f, dS, T);
    const float* m = mask + (size_t)b * T * T;
    for (int t = 0; t < T; ++t) {
      float* row = dS + (size_t)t * T;
      const float* p = Pb + (size_t)t * T;
      const float* mrow = m + (size_t)t * T;
      float dot = 0.0f;
      for (int s = 0; s < n; ++s) dot += row[s] * p[s];
      // masked scores were overwritten by -1e9 in the forward: no gradient reaches them
      for (int s = 0; s < n; ++s) row[s] = mrow[s] != 0.0f ? 0.0f : p[s] * (row[s] - dot);
    }
    // dq_h += scale dS k_h;  dk_h += scale dS^T q_h
    if (dq) gemm(false, false, T, dh, n, scale, dS, T, k + base, D, 1.0f, dq + base, D);
    if (dk) gemm(true, false, n, dh, T, scale, dS, T, q + base, D, 1.0f, dk + base, D);
  }
}

}  // namespace nl::kernels
