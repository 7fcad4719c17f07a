// ops/matmul.cpp — matmul and linear: forward through kernels::sgemm, backward beside it.
//
// What it is: matmul(a, b, trans_a, trans_b) (2-D; batched with equal leading axes; or a's
// leading axes folded into M when b is 2-D) with its shape checks, and linear(x, W, b) =
// x @ W^T + b with the bias add fused into one op.
// What it is not: the GEMM (kernels/matmul.cpp), nor the Linear layer that owns W and b
// and initialises them (nn/layers.cpp).
// For C = A @ B:  dA += dC @ B^T,  dB += A^T @ dC  (with transposes folded into the
// sgemm flags, so no transposed copy is ever made).
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/matmul.h"
#include "normlab/kernels/reduce.h"
#include "normlab/ops/ops.h"
#include "normlab/core/parallel.h"

namespace nl {

namespace {

[[noreturn]] void mismatch(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  throw std::invalid_argument(std::string("matmul: a is ") + a.shape_str() + (ta ? "^T" : "") +
                              " but b is " + b.shape_str() + (tb ? "^T" : ""));
}

// `--profile`'s FLOPs of C = A B with `mnk` multiply-adds: 2 mnk forward, and 2 mnk for
// each of dA, dB the backward computes.
OpFlops product_flops(double mnk, const Tensor& a, const Tensor& b) {
  return {2 * mnk, 2 * mnk * ((a.requires_grad() ? 1 : 0) + (b.requires_grad() ? 1 : 0))};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, KernelSet ks) {
  if (a.ndim() < 2 || b.ndim() < 2) mismatch(a, b, ta, tb);
  // Leading ("batch") axes: either equal on both sides, or b is 2-D and a's fold into M.
  const bool fold = (b.ndim() == 2);
  const int a_rows = a.dim(-2), a_cols = a.dim(-1);
  const int b_rows = b.dim(-2), b_cols = b.dim(-1);
  const int M = ta ? a_cols : a_rows, K = ta ? a_rows : a_cols;
  const int Kb = tb ? b_cols : b_rows, N = tb ? b_rows : b_cols;
  if (K != Kb) mismatch(a, b, ta, tb);
  Shape out_shape(a.shape().begin(), a.shape().end() - 2);
  int batch = 1;
  if (!fold) {
    Shape bl(b.shape().begin(), b.shape().end() - 2);
    if (bl != out_shape) mismatch(a, b, ta, tb);
  }
  for (int d : out_shape) batch *= d;
  if (fold && ta && batch > 1) mismatch(a, b, ta, tb);  // a^T with folded rows is not one GEMM
  out_shape.push_back(M);
  out_shape.push_back(N);

  Tensor out = Tensor::empty(out_shape);
  const long sa = (long)M * K, sb = fold ? 0 : (long)K * N, sc = (long)M * N;
  if (fold) {
    // a [...,M,K] @ b [K,N]: one sgemm with batch*M rows.
    kernels::sgemm(ks, ta, tb, batch * M, N, K, 1.0f, a.data(), b.data(), 0.0f, out.data());
  } else {
    for (int i = 0; i < batch; ++i)
      kernels::sgemm(ks, ta, tb, M, N, K, 1.0f, a.data() + i * sa, b.data() + i * sb, 0.0f,
                     out.data() + i * sc);
  }

  record(out, "matmul", {a, b}, [a, b, ta, tb, M, N, K, batch, fold, sa, sb, sc, ks](TensorImpl& o) mutable {
    const float* dC = o.grad->ptr;
    const int rows = fold ? batch * M : M;
    const int reps = fold ? 1 : batch;
    for (int i = 0; i < reps; ++i) {
      const float* dC_i = dC + i * sc;
      if (a.requires_grad()) {
        // forward: C = opA(A) @ opB(B)  =>  d opA(A) = dC @ opB(B)^T
        float* dA = a.grad() + i * sa;
        const float* B_i = b.data() + i * sb;
        if (!ta) kernels::sgemm(ks, false, !tb, rows, K, N, 1.0f, dC_i, B_i, 1.0f, dA);   // dA[M,K]
        else     kernels::sgemm(ks, tb, true, K, rows, N, 1.0f, B_i, dC_i, 1.0f, dA);    // dA[K,M] = opB(B) @ dC^T
      }
      if (b.requires_grad()) {
        // forward: C = opA(A) @ opB(B)  =>  d opB(B) = opA(A)^T @ dC
        float* dB = b.grad() + i * sb;
        const float* A_i = a.data() + i * sa;
        if (!tb) kernels::sgemm(ks, !ta, false, K, N, rows, 1.0f, A_i, dC_i, 1.0f, dB);   // dB[K,N]
        else     kernels::sgemm(ks, true, ta, N, K, rows, 1.0f, dC_i, A_i, 1.0f, dB);    // dB[N,K] = dC^T @ opA(A)
      }
    }
  }, product_flops((double)batch * M * N * K, a, b));
  return out;
}

// The fast linear: one op, one output buffer. out starts as the bias in every row and
// sgemm adds x W^T onto it (beta = 1), so there is no separate [rows,Out] product to keep
// alive for the backward, and no extra pass to add the bias. The composed version below
// (matmul, then bias_add) is the twin under `--kernels reference`.
static Tensor linear_fused(const Tensor& x, const Tensor& W, const Tensor& bias) {
  const int In = W.dim(1), Out = W.dim(0);
  const int rows = (int)(x.numel() / In);
  Shape shape = x.shape();
  shape.back() = Out;
  Tensor out = Tensor::empty(shape);
  float* o = out.data();
  const float* b = bias.data();
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)rows * Out * kCostCheap))
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < Out; ++j) o[(size_t)r * Out + j] = b[j];
  kernels::sgemm_blas(false, true, rows, Out, In, 1.0f, x.data(), W.data(), 1.0f, o);  // out = b + x W^T
  record(out, "linear", {x, W, bias}, [x, W, bias, rows, In, Out](TensorImpl& o) {
    // forward: out[r,:] = x[r,:] W^T + b
    //   =>  dx += dout W,  dW += dout^T x,  db[j] += sum_r dout[r,j]
    const float* dout = o.grad->ptr;
    if (x.requires_grad()) kernels::sgemm_blas(false, false, rows, In, Out, 1.0f, dout, W.data(), 1.0f, x.grad());
    if (W.requires_grad()) kernels::sgemm_blas(true, false, Out, In, rows, 1.0f, dout, x.data(), 1.0f, W.grad());
    if (bias.requires_grad())  // db += dout summed over its rows (axis 0 of [rows,Out])
      kernels::sum_axes_fast(bias.grad(), dout, {rows, Out}, {true, false}, 1.0f, /*accumulate=*/true);
  }, product_flops((double)rows * In * Out, x, W));
  return out;
}

Tensor linear(const Tensor& x, const Tensor& W, const Tensor& bias, KernelSet ks) {
  if (W.ndim() != 2 || x.ndim() < 1 || x.dim(-1) != W.dim(1))
    throw std::invalid_argument("linear: x is " + x.shape_str() + " but W is " + W.shape_str() +
                                " (expected [Out," + std::to_string(x.dim(-1)) + "])");
  if (bias.defined() && (bias.ndim() != 1 || bias.dim(0) != W.dim(0)))
    throw std::invalid_argument("linear: bias is " + bias.shape_str() + " but W is " + W.shape_str());
  if (bias.defined() && ks == KernelSet::fast) return linear_fused(x, W, bias);
  Tensor y = matmul(x.ndim() == 1 ? reshape(x, {1, x.dim(0)}) : x, W, false, true, ks);  // x @ W^T
  if (x.ndim() == 1) y = reshape(y, {W.dim(0)});
  if (!bias.defined()) return y;
  // The bias add is fused here rather than a broadcasting add: y[r,:] += b.
  const int Out = W.dim(0);
  const long rows = (long)(y.numel() / Out);
  Tensor out = Tensor::empty(y.shape());
  {
    const float* y_d = y.data();
    const float* b_d = bias.data();
    float* o_d = out.data();
#pragma omp parallel for schedule(static) if (parallel_worth((int64_t)rows * Out * kCostCheap))
    for (long r = 0; r < rows; ++r)
      for (int j = 0; j < Out; ++j) o_d[r * Out + j] = y_d[r * Out + j] + b_d[j];
  }
  record(out, "bias_add", {y, bias}, [y, bias, rows, Out](TensorImpl& o) mutable {
    const float* dout = o.grad->ptr;
    // forward: out[r,j] = y[r,j] + b[j]  =>  dy += dout,  db[j] += sum_r dout[r,j]
    if (y.requires_grad()) {
      float* dy = y.grad();
      for (long i = 0; i < rows * Out; ++i) dy[i] += dout[i];
    }
    if (bias.requires_grad()) {
      float* db = bias.grad();
      for (long r = 0; r < rows; ++r)
        for (int j = 0; j < Out; ++j) db[j] += dout[r * Out + j];
    }
  });
  return out;
}

// ---- gradient checks -------------------------------------------------------------------
NL_GRADCHECK_CASE("matmul/2d", [](KernelSet ks) {
  return gradcheck("matmul/2d", [ks](const std::vector<Tensor>& in) { return matmul(in[0], in[1], false, false, ks); },
                   {randn({3, 4}, 1), randn({4, 5}, 2)});
});
NL_GRADCHECK_CASE("matmul/2d_transposes", [](KernelSet ks) {
  return gradcheck("matmul/2d_transposes",
                   [ks](const std::vector<Tensor>& in) { return matmul(in[0], in[1], true, true, ks); },
                   {randn({4, 3}, 3), randn({5, 4}, 4)});
});
NL_GRADCHECK_CASE("matmul/batched_trans_b", [](KernelSet ks) {
  return gradcheck("matmul/batched_trans_b",
                   [ks](const std::vector<Tensor>& in) { return matmul(in[0], in[1], false, true, ks); },
                   {randn({2, 3, 3, 4}, 5), randn({2, 3, 5, 4}, 6)});
});
NL_GRADCHECK_CASE("matmul/batched_trans_a", [](KernelSet ks) {
  return gradcheck("matmul/batched_trans_a",
                   [ks](const std::vector<Tensor>& in) { return matmul(in[0], in[1], true, false, ks); },
                   {randn({2, 4, 3}, 7), randn({2, 4, 5}, 8)});
});
NL_GRADCHECK_CASE("matmul/fold_leading_axes", [](KernelSet ks) {
  return gradcheck("matmul/fold_leading_axes",
                   [ks](const std::vector<Tensor>& in) { return matmul(in[0], in[1], false, true, ks); },
                   {randn({2, 3, 4}, 9), randn({5, 4}, 10)});
});
NL_GRADCHECK_CASE("linear/3d_with_bias", [](KernelSet ks) {
  return gradcheck("linear/3d_with_bias",
                   [ks](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2], ks); },
                   {randn({2, 3, 4}, 13), randn({5, 4}, 14), randn({5}, 15)});
});
NL_GRADCHECK_CASE("matmul/size1_axes", [](KernelSet ks) {
  return gradcheck("matmul/size1_axes", [ks](const std::vector<Tensor>& in) { return matmul(in[0], in[1], false, false, ks); },
                   {randn({1, 4}, 11), randn({4, 1}, 12)});
});

}  // namespace nl
