// ops/attention.cpp — fused_attention: the attention core as one op on the tape.
//
// What it is: shape checks, the call to kernels/attention.cpp, and the backward closure
// that keeps the softmax weights P [B,H,T,T] and hands dq, dk, dv to the kernel.
// What it is not: the projections (nn/attention.cpp owns q, k, v, o) nor the readable
// composed version (also nn/attention.cpp, under `--kernels reference`).
#include <cmath>
#include <stdexcept>

#include "normlab/autograd.h"
#include "normlab/gradcheck.h"
#include "normlab/kernels/attention.h"
#include "normlab/ops.h"
#include "normlab/runtime.h"

namespace nl {

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

}  // namespace nl
