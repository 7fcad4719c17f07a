// ops/attention.cpp — fused_attention: the attention core as one op on the tape.
//
// What it is: shape checks, the call to kernels/attention.cpp, and the backward closure
// that keeps the softmax weights P [B,H,T,T] and hands dq, dk, dv to the kernel.
// What it is not: the projections (nn/attention.cpp owns q, k, v, o) nor the readable
// composed version (also nn/attention.cpp, under `--kernels reference`).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/attention.h"
#include "normlab/ops/ops.h"
#include "normlab/core/runtime.h"

namespace nl {

namespace {

// `--profile`'s FLOPs of the attention core over `pairs` (query, key) pairs summed over the
// sequences, all heads together (dh x H = D): S = q k^T and P v, 2 x 2 pairs D forward; the
// backward's products are dv (if v wants it), dP (if q or k does), dq and dk.
OpFlops attention_flops(const Tensor& q, const Tensor& k, const Tensor& v, double pairs, int D) {
  const double one = 2 * pairs * D;  // one product over every pair
  const bool dq = q.requires_grad(), dk = k.requires_grad(), dv = v.requires_grad();
  return {2 * one, one * ((dv ? 1 : 0) + (dq || dk ? 1 : 0) + (dq ? 1 : 0) + (dk ? 1 : 0))};
}

}  // namespace

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                       int heads) {
  if (q.ndim() != 3 || k.shape() != q.shape() || v.shape() != q.shape())
    throw std::invalid_argument("fused_attention: q " + q.shape_str() + ", k " + k.shape_str() +
                                ", v " + v.shape_str() + " must all be [B,T,D]");
  const int B = q.dim(0), T = q.dim(1), D = q.dim(2), H = heads;
  if (H <= 0 || D % H != 0)
    throw std::invalid_argument("fused_attention: D=" + std::to_string(D) +
                                " is not divisible by heads=" + std::to_string(H));
  if (mask.shape() != Shape{B, 1, T, T})
    throw std::invalid_argument("fused_attention: mask is " + mask.shape_str() + " but q is " +
                                q.shape_str() + " (expected [B,1,T,T])");
  const float scale = 1.0f / std::sqrt((float)(D / H));
  const std::vector<int> extent = kernels::attention_key_extent(mask.data(), B, T);
  Tensor out = Tensor::empty({B, T, D});
  Tensor P = Tensor::empty({B, H, T, T});
  // forward: out_h = softmax(scale q_h k_h^T, masked) v_h, P = the softmax weights
  kernels::attention_forward(out.data(), P.data(), q.data(), k.data(), v.data(), mask.data(),
                             extent, B, T, D, H, scale);
  record(out, "attention", {q, k, v}, [q, k, v, mask, P, extent, B, T, D, H, scale](TensorImpl& o) {
    // forward: S = scale q_h k_h^T (masked), P = softmax(S), out_h = P v_h
    //   =>  dv_h += P^T dout_h;  dS = P * (dout_h v_h^T - rowsum(...));
    //       dq_h += scale dS k_h;  dk_h += scale dS^T q_h
    Tensor scratch = Tensor::empty({num_threads(), T, T});
    kernels::attention_backward(q.requires_grad() ? q.grad() : nullptr,
                                k.requires_grad() ? k.grad() : nullptr,
                                v.requires_grad() ? v.grad() : nullptr, o.grad->ptr, P.data(),
                                q.data(), k.data(), v.data(), mask.data(), extent, B, T, D, H, scale,
                                scratch.data());
  }, attention_flops(q, k, v, [&] {
    double keys = 0;  // the kernel computes every query row against the sequence's key extent
    for (int b = 0; b < B; ++b) keys += (double)T * extent[b];
    return keys;
  }(), D));
  return out;
}

Tensor packed_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const std::vector<int>& lengths, bool causal, int heads) {
  if (q.ndim() != 2 || k.shape() != q.shape() || v.shape() != q.shape())
    throw std::invalid_argument("packed_attention: q " + q.shape_str() + ", k " + k.shape_str() +
                                ", v " + v.shape_str() + " must all be [N,D]");
  const int N = q.dim(0), D = q.dim(1), H = heads;
  if (H <= 0 || D % H != 0)
    throw std::invalid_argument("packed_attention: D=" + std::to_string(D) +
                                " is not divisible by heads=" + std::to_string(H));
  std::vector<int64_t> off(lengths.size() + 1, 0);
  int longest = 0;
  for (size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] <= 0) throw std::invalid_argument("packed_attention: a sequence of length <= 0");
    off[b + 1] = off[b] + lengths[b];
    longest = std::max(longest, lengths[b]);
  }
  if (off.back() != N)
    throw std::invalid_argument("packed_attention: lengths sum to " + std::to_string(off.back()) +
                                " but q has " + std::to_string(N) + " rows");
  const float scale = 1.0f / std::sqrt((float)(D / H));
  const std::vector<int64_t> p_off = kernels::packed_attention_offsets(lengths, H);
  Tensor out = Tensor::empty({N, D});
  Tensor P = Tensor::empty({(int)std::max<int64_t>(p_off.back(), 1)});
  // forward: out_h = softmax(scale q_h k_h^T, causal) v_h within each sequence
  kernels::packed_attention_forward(out.data(), P.data(), q.data(), k.data(), v.data(), off,
                                    lengths, p_off, D, H, causal, scale);
  record(out, "attention", {q, k, v},
         [q, k, v, P, off, lengths, p_off, D, H, causal, scale, longest](TensorImpl& o) {
    // forward: S = scale q_h k_h^T (causal), P = softmax(S), out_h = P v_h   =>
    //   dv_h += P^T dout_h;  dS = P * (dout_h v_h^T - rowsum(...));
    //   dq_h += scale dS k_h;  dk_h += scale dS^T q_h        (per sequence and head)
    const int64_t per = (int64_t)longest * longest;
    Tensor scratch = Tensor::empty({num_threads(), (int)per});
    kernels::packed_attention_backward(q.requires_grad() ? q.grad() : nullptr,
                                       k.requires_grad() ? k.grad() : nullptr,
                                       v.requires_grad() ? v.grad() : nullptr, o.grad->ptr,
                                       P.data(), q.data(), k.data(), v.data(), off, lengths,
                                       p_off, D, H, causal, scale, scratch.data(), per);
  }, attention_flops(q, k, v, (double)p_off.back() / H, D));
  return out;
}

Tensor scatter_rows(const Tensor& x, const std::vector<int>& rows, int R) {
  if (x.ndim() != 2 || x.dim(0) != (int)rows.size())
    throw std::invalid_argument("scatter_rows: x is " + x.shape_str() + " but there are " +
                                std::to_string(rows.size()) + " rows");
  const int D = x.dim(1);
  for (int r : rows)
    if (r < 0 || r >= R)
      throw std::invalid_argument("scatter_rows: row " + std::to_string(r) + " outside [0," +
                                  std::to_string(R) + ")");
  Tensor out = Tensor::zeros({R, D});
  float* o = out.data();
  const float* xs = x.data();
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(xs + i * D, xs + (i + 1) * D, o + (size_t)rows[i] * D);  // out[rows[i]] = x[i]
  record(out, "scatter_rows", {x}, [x, rows, D](TensorImpl& o) {
    // forward: out[rows[i]] = x[i]  =>  dx[i] += dout[rows[i]]
    float* dx = x.grad();
    const float* dout = o.grad->ptr;
    for (size_t i = 0; i < rows.size(); ++i)
      for (int d = 0; d < D; ++d) dx[i * D + d] += dout[(size_t)rows[i] * D + d];
  });
  return out;
}

// ---- gradient checks: padded keys, a causal mask, a row with every key masked ---------
static GradcheckResult check_fused(const std::string& name, const Tensor& mask, int B, int T) {
  const int D = 8, H = 2;
  return gradcheck(name,
                   [mask, H](const std::vector<Tensor>& in) {
                     return fused_attention(in[0], in[1], in[2], mask, H);
                   },
                   {randn({B, T, D}, 301), randn({B, T, D}, 302), randn({B, T, D}, 303)});
}

NL_GRADCHECK_CASE("fused_attention/padded_keys", [] {
  // sequence 0: 4 real tokens; sequence 1: 2 real, 2 pads (every query skips keys 2, 3)
  std::vector<float> m(2 * 4 * 4, 0.0f);
  for (int t = 0; t < 4; ++t) m[16 + t * 4 + 2] = m[16 + t * 4 + 3] = 1.0f;
  return check_fused("fused_attention/padded_keys", Tensor::from(m, {2, 1, 4, 4}), 2, 4);
});
NL_GRADCHECK_CASE("fused_attention/causal_and_empty_row", [] {
  // causal over 3 keys, and query 0 may see no key at all (uniform over every key)
  std::vector<float> m(3 * 3, 0.0f);
  for (int t = 0; t < 3; ++t)
    for (int s = 0; s < 3; ++s) m[t * 3 + s] = (s > t || s == 0) ? 1.0f : 0.0f;
  return check_fused("fused_attention/causal_and_empty_row", Tensor::from(m, {1, 1, 3, 3}), 1, 3);
});

NL_GRADCHECK_CASE("packed_attention/two_sequences_causal", [] {
  // lengths 3 and 1 packed into 4 rows, causal
  return gradcheck("packed_attention/two_sequences_causal",
                   [](const std::vector<Tensor>& in) {
                     return packed_attention(in[0], in[1], in[2], {3, 1}, true, 2);
                   },
                   {randn({4, 8}, 311), randn({4, 8}, 312), randn({4, 8}, 313)});
});
NL_GRADCHECK_CASE("packed_attention/bidirectional", [] {
  return gradcheck("packed_attention/bidirectional",
                   [](const std::vector<Tensor>& in) {
                     return packed_attention(in[0], in[1], in[2], {2, 4}, false, 2);
                   },
                   {randn({6, 8}, 314), randn({6, 8}, 315), randn({6, 8}, 316)});
});
NL_GRADCHECK_CASE("scatter_rows/unpack", [] {
  return gradcheck("scatter_rows/unpack",
                   [](const std::vector<Tensor>& in) { return scatter_rows(in[0], {4, 0, 2}, 6); },
                   {randn({3, 5}, 317)});
});

}  // namespace nl
