// nn/attention.cpp — multi-head scaled dot-product attention with a key-padding mask
// and an optional causal mask (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762).
//
// What it is: the attention of one encoder layer, written as batched ops over
// [B,H,T,dh] so each step reads like the formula in nn/layers.h.
// Two paths, same numbers: the composed ops below (the plain twin, when the layer was
// built with the reference kernel set, and whenever attention dropout is active) and,
// with fast kernels, the fused op fused_attention (kernels/attention.cpp), which skips the
// permute copies, the separate masked_fill/softmax passes and the pad keys.
// What it is not: memory-efficient (flash) attention: the [B,H,T,T] weights are kept
// for the backward either way.
#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "normlab/core/gradcheck.h"
#include "normlab/kernels/attention.h"
#include "normlab/nn/layers.h"
#include "normlab/core/profile.h"

namespace nl {

using kernels::kMaskedScore;  // -1e9: see kernels/attention.h

Tensor attention_mask(const Tensor& keep, bool causal) {
  if (keep.ndim() != 2)
    throw std::invalid_argument("attention_mask: keep is " + keep.shape_str() + ", expected [B,T]");
  const int B = keep.dim(0), T = keep.dim(1);
  Tensor mask = Tensor::empty({B, 1, T, T});
  const float* kp = keep.data();
  float* m = mask.data();
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)        // query
      for (int s = 0; s < T; ++s) {    // key
        const bool pad_key = kp[b * T + s] == 0.0f;
        const bool future = causal && s > t;
        m[((size_t)b * T + t) * T + s] = (pad_key || future) ? 1.0f : 0.0f;
      }
  return mask;
}

MultiHeadAttention::MultiHeadAttention(int D_, int H_, float dropout, KernelSet ks)
    : D(D_), H(H_), dropout_p(dropout), kernels(ks), q(D_, D_, ks), k(D_, D_, ks), v(D_, D_, ks),
      o(D_, D_, ks) {
  if (H <= 0 || D % H != 0)
    throw std::invalid_argument("MultiHeadAttention: d_model " + std::to_string(D) +
                                " is not divisible by heads " + std::to_string(H));
}

void MultiHeadAttention::init(const std::string& prefix, uint64_t seed, float std) {
  q.init(join_name(prefix, "q"), seed, std);
  k.init(join_name(prefix, "k"), seed, std);
  v.init(join_name(prefix, "v"), seed, std);
  o.init(join_name(prefix, "o"), seed, std);
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& mask, Rng& rng, BatchShard shard) const {
  if (x.ndim() != 3 || x.dim(2) != D)
    throw std::invalid_argument("attention: x is " + x.shape_str() + ", expected [B,T," +
                                std::to_string(D) + "]");
  ProfilePart part("attention");  // `--profile` (profile.h): the ops below are attention's
  const int B = x.dim(0), T = x.dim(1), dh = D / H;
  if (mask.shape() != Shape{B, 1, T, T})
    throw std::invalid_argument("attention: mask is " + mask.shape_str() + " but x is " +
                                x.shape_str() + " (expected [B,1,T,T])");

  const bool weight_dropout = dropout_p > 0.0f && training();
  if (kernels == KernelSet::fast && !weight_dropout)
    return o.forward(fused_attention(q.forward(x), k.forward(x), v.forward(x), mask, H));

  // [B,T,D] -> [B,T,H,dh] -> [B,H,T,dh]: each head attends over its own dh features.
  auto split_heads = [&](const Tensor& t) { return permute(reshape(t, {B, T, H, dh}), {0, 2, 1, 3}); };
  Tensor qh = split_heads(q.forward(x));
  Tensor kh = split_heads(k.forward(x));
  Tensor vh = split_heads(v.forward(x));

  Tensor scores = matmul(qh, kh, false, true, kernels) * (1.0f / std::sqrt((float)dh));  // [B,H,T,T]
  scores = masked_fill(scores, mask, kMaskedScore);   // pads (and the future) never attended
  Tensor attn = softmax(scores, -1);                  // over keys
  attn = dropout(attn, dropout_p, rng, training(), shard);  // [B,...]: batch-major
  Tensor ctx = matmul(attn, vh, false, false, kernels);  // [B,H,T,dh]

  // [B,H,T,dh] -> [B,T,H,dh] -> [B,T,D]: heads side by side again.
  ctx = reshape(permute(ctx, {0, 2, 1, 3}), {B, T, D});
  return o.forward(ctx);
}

Tensor MultiHeadAttention::forward_packed(const Tensor& x, const std::vector<int>& lengths,
                                          bool causal) const {
  if (x.ndim() != 3 || x.dim(0) != 1 || x.dim(2) != D)
    throw std::invalid_argument("attention: packed x is " + x.shape_str() + ", expected [1,N," +
                                std::to_string(D) + "]");
  // (packed_attention is a fused kernel; the encoder packs only with fast kernels)
  ProfilePart part("attention");  // `--profile` (profile.h)
  const int N = x.dim(1);
  auto rows = [&](const Tensor& t) { return reshape(t, {N, D}); };
  Tensor ctx = packed_attention(rows(q.forward(x)), rows(k.forward(x)), rows(v.forward(x)), lengths,
                                causal, H);
  return o.forward(reshape(ctx, {1, N, D}));
}

void MultiHeadAttention::parameters(const std::string& prefix, std::vector<NamedTensor>& out) const {
  q.parameters(join_name(prefix, "q"), out);
  k.parameters(join_name(prefix, "k"), out);
  v.parameters(join_name(prefix, "v"), out);
  o.parameters(join_name(prefix, "o"), out);
}

// ---- gradient checks: the input and every projection, with padding (and causal) --------
static GradcheckResult check_attention(const std::string& name, bool causal, KernelSet ks) {
  const int B = 2, T = 4, D = 8, H = 2;
  auto mha = std::make_shared<MultiHeadAttention>(D, H, 0.0f, ks);
  mha->init("attn", 7, 0.5f);
  // Non-zero biases, so their gradients are checked away from the init point.
  uint64_t seed = 8;
  for (const Linear* l : {&mha->q, &mha->k, &mha->v, &mha->o}) {
    std::vector<float> b = randn({D}, seed++, 0.3f, false).to_vector();
    std::copy(b.begin(), b.end(), l->bias.data());
  }
  // Sequence 0 has 4 real tokens, sequence 1 has 2 (two pads).
  Tensor keep = Tensor::from({1, 1, 1, 1, 1, 1, 0, 0}, {B, T});
  Tensor mask = attention_mask(keep, causal);
  std::vector<Tensor> inputs = {randn({B, T, D}, 11)};
  std::vector<NamedTensor> params;
  mha->parameters("attn", params);
  for (const NamedTensor& p : params) inputs.push_back(p.tensor);
  auto rng = std::make_shared<Rng>(1);
  GradcheckOptions opt;
  opt.h = 3e-3f;  // weights of std 0.5 make softmax curved: keep the O(h^2) error small
  return gradcheck(name, [mha, mask, rng](const std::vector<Tensor>& in) {
    return mha->forward(in[0], mask, *rng);   // in[1..] are mha's own parameter tensors
  }, inputs, opt);
}

NL_GRADCHECK_CASE("attention/padded", [](KernelSet ks) {
  return check_attention("attention/padded", false, ks);
});
NL_GRADCHECK_CASE("attention/padded_causal", [](KernelSet ks) {
  return check_attention("attention/padded_causal", true, ks);
});

}  // namespace nl
