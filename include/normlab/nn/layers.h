// nn/layers.h — the small layers the encoder is built from: Linear, multi-head
// attention, the feed-forward block, the attention mask and the sinusoidal table.
//
// What it is: modules that own their parameters and whose forward is a handful of ops
// from ops.h, so their backward is the ops' own closures (nothing hand-written here).
// Every parameter is initialised from its own random stream,
// Rng::derive(seed, fnv1a_hash(full name)), so its value depends only on the seed and
// its name — never on which other layers (or which norm) the model holds.
// Each layer is given the kernel set at construction (exec.h) and passes it to the ops
// that have a plain twin (linear, matmul, gelu); attention picks its fused core or the
// composed ops by it.
// What it is not: the norms (nn/norm.h) nor the encoder's wiring (nn/encoder.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/nn/module.h"
#include "normlab/ops/ops.h"
#include "normlab/core/rng.h"
#include "normlab/core/tensor.h"

namespace nl {

// 64-bit FNV-1a of a string: the tag of a parameter's random stream.
inline uint64_t fnv1a_hash(const std::string& s) {
  uint64_t h = 14695981039346656037ull;  // FNV offset basis
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;  // FNV prime
  }
  return h;
}

// Fill t with normal(0, std) drawn from Rng::derive(seed, fnv1a_hash(name)), and name it.
void init_normal(const Tensor& t, const std::string& name, uint64_t seed, float std);
// Fill t with zeros, and name it.
void init_zeros(const Tensor& t, const std::string& name);

// y = x @ W^T + b (PyTorch layout: weight [Out, In], bias [Out]).
class Linear : public Module {
 public:
  Linear(int in, int out, KernelSet kernels = KernelSet::fast);
  // weight ~ normal(0, std) from the stream of "<prefix>.weight"; bias = 0.
  void init(const std::string& prefix, uint64_t seed, float std);
  Tensor forward(const Tensor& x) const { return linear(x, weight, bias, kernels); }
  // "<prefix>.weight", "<prefix>.bias" (no_decay).
  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override;
  int64_t numel() const { return weight.numel() + bias.numel(); }

  Tensor weight, bias;
  KernelSet kernels;
};

// Which (query t, key s) pairs attention must skip, as a float mask [B,1,T,T] (1 = skip,
// broadcast over heads): key s is padding (keep[b,s] == 0), or causal and s > t.
// Rows of pad queries are masked the same way; their outputs are never read.
Tensor attention_mask(const Tensor& keep, bool causal);

// Multi-head scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You
// Need", Sec. 3.2), with Q/K/V/O projections that have biases:
//   q, k, v = x Wq^T + bq, ...             [B,T,D] -> [B,H,T,dh], dh = D / H
//   scores  = q k^T / sqrt(dh)             [B,H,T,T]
//   scores  = -1e9 where mask              (exp underflows to exactly 0: never attended)
//   attn    = dropout(softmax(scores))     over the keys
//   out     = concat_h(attn v) Wo^T + bo   [B,T,D]
class MultiHeadAttention : public Module {
 public:
  // kernels: fast runs the fused attention core (without attention dropout); reference
  // runs the composed ops below with naive matmuls.
  MultiHeadAttention(int D, int H, float dropout, KernelSet kernels = KernelSet::fast);
  void init(const std::string& prefix, uint64_t seed, float std);
  // x [B,T,D]; mask [B,1,T,T] from attention_mask(); dropout draws come from rng (x is
  // `shard` of the whole batch: see dropout() in ops.h).
  Tensor forward(const Tensor& x, const Tensor& mask, Rng& rng, BatchShard shard = {}) const;
  // x [1,N,D]: sequences of the given lengths packed one after another, no pads; each
  // attends within itself (causally if asked). No attention dropout (the encoder packs
  // only without dropout).
  Tensor forward_packed(const Tensor& x, const std::vector<int>& lengths, bool causal) const;
  // "<prefix>.{q,k,v,o}.{weight,bias}"
  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override;

  int D, H;
  float dropout_p;
  KernelSet kernels;
  Linear q, k, v, o;
};

// Position-wise feed-forward block: Linear(D,F) -> GELU (exact, erf) | ReLU ->
// dropout -> Linear(F,D).
class FeedForward : public Module {
 public:
  FeedForward(int D, int F, Activation activation, float dropout, KernelSet kernels = KernelSet::fast);
  void init(const std::string& prefix, uint64_t seed, float std);
  Tensor forward(const Tensor& x, Rng& rng, BatchShard shard = {}) const;
  // "<prefix>.{fc1,fc2}.{weight,bias}"
  void parameters(const std::string& prefix, std::vector<NamedTensor>& out) const override;

  Activation activation;
  float dropout_p;
  KernelSet kernels;
  Linear fc1, fc2;
};

// The fixed sinusoidal position table [T,D] (Vaswani et al. 2017, Sec. 3.5), no grad:
//   PE[t, 2i] = sin(t / 10000^(2i/D)),  PE[t, 2i+1] = cos(t / 10000^(2i/D)).
Tensor sinusoidal_positions(int T, int D);

}  // namespace nl
