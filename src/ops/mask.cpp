// ops/mask.cpp — masked_fill (attention and padding masks) and seeded inverted dropout.
//
// What it is: masked_fill(x, mask, value), the mask broadcasting to x's shape, and
// dropout(x, p, rng, training), whose keep mask is drawn here and kept for backward.
// What it is not: where the masks come from (nn/attention.cpp builds the key-padding and
// causal mask) nor the loops (kernels/elementwise.cpp).
// Dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html),
// "inverted": kept values are scaled by 1/(1-p) at training time so evaluation is the
// identity. The keep mask is drawn from the caller's Rng on the main thread, in
// element order, so the same seed gives the same mask for any thread count.
// Data parallel: a rank's x is block r of K equal blocks of the whole batch's tensor (the
// leading dimension is the batch, and a shard keeps the batch's T), so the draws of element
// i of the block are draws r*n + i of the whole tensor: skip r*n draws, draw n, skip the
// (K-1-r)*n of the blocks after it. Every rank then holds the masks one process would
// apply to its examples, and every rank's Rng is where the one process's would be.
#include <limits>
#include <stdexcept>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/kernels/elementwise.h"
#include "normlab/ops/ops.h"

namespace nl {

Tensor masked_fill(const Tensor& x, const Tensor& mask, float value) {
  const Shape& s = x.shape();
  bool ok = mask.ndim() <= x.ndim();
  try {
    ok = ok && broadcast_shape(s, mask.shape(), "masked_fill") == s;
  } catch (const std::invalid_argument&) {
    ok = false;
  }
  if (!ok)
    throw std::invalid_argument("masked_fill: mask " + mask.shape_str() + " does not broadcast to x " + x.shape_str());
  const kernels::Broadcast bc = kernels::make_broadcast(s, s, mask.shape());
  Tensor out = Tensor::empty(s);
  kernels::masked_fill_forward(out.data(), x.data(), mask.data(), value, bc);  // out = mask ? value : x
  record(out, "masked_fill", {x}, [x, mask, bc](TensorImpl& o) mutable {
    // forward: out = mask ? value : x  =>  dx += mask ? 0 : dout
    kernels::masked_fill_backward(x.grad(), o.grad->ptr, mask.data(), bc);
  });
  return out;
}

Tensor dropout(const Tensor& x, float p, Rng& rng, bool training, BatchShard shard) {
  if (!(p >= 0.0f && p < 1.0f))
    throw std::invalid_argument("dropout: p = " + std::to_string(p) + " is outside [0, 1)");
  if (shard.parts < 1 || shard.part < 0 || shard.part >= shard.parts)
    throw std::invalid_argument("dropout: no block " + std::to_string(shard.part) + " of " +
                                std::to_string(shard.parts));
  if (!training || p == 0.0f) return x;  // identity, no copy, no draws
  const int64_t n = x.numel();
  Tensor scale = Tensor::empty(x.shape());  // 0 (dropped) or 1/(1-p) (kept)
  const float keep_scale = 1.0f / (1.0f - p);
  float* s = scale.data();
  rng.discard((uint64_t)n * shard.part);                          // the blocks before this one
  for (int64_t i = 0; i < n; ++i) s[i] = rng.uniform() >= p ? keep_scale : 0.0f;
  rng.discard((uint64_t)n * (shard.parts - 1 - shard.part));      // the blocks after it
  Tensor out = Tensor::empty(x.shape());
  kernels::dropout_forward(out.data(), x.data(), s, n);  // out = x * scale
  record(out, "dropout", {x}, [x, scale, n](TensorImpl& o) mutable {
    // forward: out = x * scale  =>  dx += dout * scale
    kernels::dropout_backward(x.grad(), o.grad->ptr, scale.data(), n);
  });
  return out;
}

// ---- gradient checks -------------------------------------------------------------------
namespace {
Tensor mask_of(const std::vector<float>& v, const Shape& s) { return Tensor::from(v, s); }
}  // namespace

NL_GRADCHECK_CASE("masked_fill/same_shape", [] {
  return gradcheck("masked_fill/same_shape",
                   [](const std::vector<Tensor>& in) {
                     return masked_fill(in[0], mask_of({1, 0, 0, 1, 0, 1}, {2, 3}), -5.0f);
                   },
                   {randn({2, 3}, 131)});
});
NL_GRADCHECK_CASE("masked_fill/key_padding_broadcast", [] {
  // scores [B,H,T,T] with a key-padding mask [B,1,1,T].
  return gradcheck("masked_fill/key_padding_broadcast",
                   [](const std::vector<Tensor>& in) {
                     return masked_fill(in[0], mask_of({0, 0, 1, 0, 1, 1}, {2, 1, 1, 3}), -1e9f);
                   },
                   {randn({2, 2, 3, 3}, 132)});
});
NL_GRADCHECK_CASE("masked_fill+softmax/fully_masked_rows_-inf", [] {
  // Row 1 of each batch is masked everywhere: softmax gives 0 there and no gradient.
  const float inf = std::numeric_limits<float>::infinity();
  return gradcheck("masked_fill+softmax/fully_masked_rows_-inf",
                   [inf](const std::vector<Tensor>& in) {
                     Tensor m = mask_of({0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0}, {2, 3, 3});
                     return softmax(masked_fill(in[0], m, -inf), -1);
                   },
                   {randn({2, 3, 3}, 133)});
});
NL_GRADCHECK_CASE("masked_fill+softmax/fully_masked_rows_finite", [] {
  // With a large finite fill a fully masked row is uniform, as in PyTorch.
  return gradcheck("masked_fill+softmax/fully_masked_rows_finite",
                   [](const std::vector<Tensor>& in) {
                     Tensor m = mask_of({0, 1, 1, 1, 1, 1}, {2, 3});
                     return softmax(masked_fill(in[0], m, -1e9f), -1);
                   },
                   {randn({2, 3}, 134)});
});
NL_GRADCHECK_CASE("dropout/p0.3_fixed_mask", [] {
  // The mask must not change between the gradcheck's evaluations: reseed every call.
  return gradcheck("dropout/p0.3_fixed_mask",
                   [](const std::vector<Tensor>& in) {
                     Rng rng(7);
                     return dropout(in[0], 0.3f, rng, true);
                   },
                   {randn({4, 5}, 135)});
});

}  // namespace nl
