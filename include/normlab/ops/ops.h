// ops.h — every differentiable op: forward now, backward recorded on the tape.
//
// What it is: the autograd layer. Each op checks shapes (errors start with the op
// name and show the shapes: "matmul: a is [32,64] but b is [65,16]"), calls a kernel
// from kernels/ to compute the output, and records the closure that differentiates
// it. Forward and backward of one op sit together in one .cpp under src/ops/.
// What it is not: the kernels themselves (plain functions over float*, in
// include/normlab/kernels/) nor layers with parameters (nn/).
//
// Ops with two implementations take the kernel set (exec.h) as their last argument:
// matmul (OpenBLAS | naive loop), linear (fused bias + sgemm | matmul then bias add) and
// gelu (polynomial | <cmath> erf). The layer that holds the options passes it.
// Conventions: shapes are row-major; `axis` may be negative; broadcasting follows
// NumPy (align trailing axes, size-1 axes stretch). Errors are std::invalid_argument.
#pragma once
#include <vector>

#include "normlab/core/exec.h"
#include "normlab/core/rng.h"
#include "normlab/core/tensor.h"

namespace nl {

// ---- linear algebra ---------------------------------------------------------------
// C = op(A) @ op(B), op = transpose if the flag is set (on the last two axes).
//  - 2-D: a [M,K], b [K,N] -> [M,N]
//  - batched: a [...,M,K], b [...,K,N] with equal leading axes -> [...,M,N]
//  - a [...,M,K] with 2-D b [K,N]: leading axes fold into M (one big sgemm).
// fast: OpenBLAS sgemm; reference: a naive triple loop.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false,
              KernelSet ks = KernelSet::fast);
// y = x @ W^T + b, PyTorch layout: x [..., In], W [Out, In], b [Out] (b may be undefined).
// fast: one op (bias first, sgemm adds onto it); reference: matmul, then a bias add.
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b, KernelSet ks = KernelSet::fast);

// ---- element-wise, broadcasting --------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
Tensor neg(const Tensor& a);
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float s) { return add_scalar(a, s); }
inline Tensor operator*(const Tensor& a, float s) { return mul_scalar(a, s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- unary -------------------------------------------------------------------------
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, float p);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, KernelSet ks = KernelSet::fast);   // exact: 0.5 x (1 + erf(x / sqrt 2))
Tensor tanh(const Tensor& x);

// ---- reductions -----------------------------------------------------------------------
Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor sum_all(const Tensor& x);    // -> [1]
Tensor mean_all(const Tensor& x);   // -> [1]

// ---- shape -----------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one axis may be -1; shares storage
Tensor transpose(const Tensor& x, int axis0, int axis1);
Tensor permute(const Tensor& x, const std::vector<int>& perm);
Tensor slice(const Tensor& x, int axis, int start, int end);   // [start, end)
Tensor concat(const std::vector<Tensor>& xs, int axis);

// ---- softmax and losses --------------------------------------------------------------
Tensor softmax(const Tensor& x, int axis = -1);       // max-subtracted, stable
Tensor log_softmax(const Tensor& x, int axis = -1);   // x - max - log(sum exp(x - max))
// Mean over the rows whose target is not ignore_index of -log softmax(logits)[target].
// logits [N,C], targets N ints. All rows ignored -> loss 0 and zero gradient.
Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets, int ignore_index = -1);

// ---- attention -------------------------------------------------------------------------
// The core of multi-head attention in one op (kernels/attention.h): q, k, v [B,T,D] with
// head h in columns h*dh..h*dh+dh-1 (dh = D/heads), mask [B,1,T,T] (1 = skip), and
//   out_h = softmax(q_h k_h^T / sqrt(dh), -1e9 where mask) v_h,  out [B,T,D].
// Equal to the composed ops in nn/attention.cpp, without their permute copies and pad keys.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                       int heads);

// The same on packed sequences, no pads: q, k, v [N,D] hold the sequences one after
// another (lengths sum to N); each attends within itself, causally if asked. Out [N,D].
Tensor packed_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const std::vector<int>& lengths, bool causal, int heads);
// Rows of x [N,D] placed at the given rows of a zero [R,D] (rows: N distinct indices < R);
// backward gathers them back. Used to unpack packed tokens into the padded [B*T,D] grid.
Tensor scatter_rows(const Tensor& x, const std::vector<int>& rows, int R);

// ---- lookup, masks, dropout ---------------------------------------------------------
// weight [V,D], ids any count -> [ids_shape..., D]; backward scatter-adds rows.
Tensor embedding(const Tensor& weight, const std::vector<int>& ids, const Shape& ids_shape);
// out = mask != 0 ? value : x; mask broadcasts to x and gets no gradient.
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value);
// Which block of the whole batch a tensor holds (data parallel): x is block `part` of
// `parts` equal contiguous blocks, along the leading (batch) dimension, of the tensor one
// process computes for the whole batch. {0, 1}: x is the whole batch.
struct BatchShard {
  int part = 0, parts = 1;
};
// Inverted dropout: keep with prob 1-p, scale by 1/(1-p). Identity if !training or p == 0.
// With a shard, rng advances past the whole batch's draws and x keeps its block's: K ranks
// together draw exactly the masks one process draws (and every rng ends in the same state).
Tensor dropout(const Tensor& x, float p, Rng& rng, bool training, BatchShard shard = {});

// ---- helpers ---------------------------------------------------------------------------
// The NumPy broadcast of two shapes; throws "<op>: cannot broadcast a [..] with b [..]".
Shape broadcast_shape(const Shape& a, const Shape& b, const char* op = "broadcast");

}  // namespace nl
