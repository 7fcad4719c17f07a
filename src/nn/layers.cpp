// nn/layers.cpp — parameter init, Linear, the feed-forward block and the sinusoidal
// position table. Attention is in attention.cpp; the wiring in encoder.cpp.
//
// What it is not: math kernels. Every forward here is a few ops from ops.h, whose
// backward closures give the gradients.
#include <cmath>
#include <memory>
#include <stdexcept>

#include "normlab/core/gradcheck.h"
#include "normlab/nn/layers.h"
#include "normlab/core/profile.h"

namespace nl {

// ---- initialisation -------------------------------------------------------------------
void init_normal(const Tensor& t, const std::string& name, uint64_t seed, float std) {
  Rng rng = Rng::derive(seed, fnv1a_hash(name));
  float* d = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) d[i] = std * rng.normal();
  Tensor(t).set_name(name);
}

void init_zeros(const Tensor& t, const std::string& name) {
  float* d = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) d[i] = 0.0f;
  Tensor(t).set_name(name);
}

// ---- Linear ---------------------------------------------------------------------------
Linear::Linear(int in, int out, KernelSet ks) : kernels(ks) {
  if (in <= 0 || out <= 0)
    throw std::invalid_argument("Linear: sizes must be positive, got in=" + std::to_string(in) +
                                " out=" + std::to_string(out));
  weight = Tensor::zeros({out, in}).set_requires_grad(true);
  bias = Tensor::zeros({out}).set_requires_grad(true);
}

void Linear::init(const std::string& prefix, uint64_t seed, float std) {
  init_normal(weight, join_name(prefix, "weight"), seed, std);
  init_zeros(bias, join_name(prefix, "bias"));
}

void Linear::parameters(const std::string& prefix, std::vector<NamedTensor>& out) const {
  out.push_back({join_name(prefix, "weight"), weight, false});
  out.push_back({join_name(prefix, "bias"), bias, true});
}

// ---- feed-forward block ---------------------------------------------------------------
FeedForward::FeedForward(int D, int F, Activation act, float dropout, KernelSet ks)
    : activation(act), dropout_p(dropout), kernels(ks), fc1(D, F, ks), fc2(F, D, ks) {}

void FeedForward::init(const std::string& prefix, uint64_t seed, float std) {
  fc1.init(join_name(prefix, "fc1"), seed, std);
  fc2.init(join_name(prefix, "fc2"), seed, std);
}

Tensor FeedForward::forward(const Tensor& x, Rng& rng, BatchShard shard) const {
  ProfilePart part("ffn");  // `--profile` (profile.h): the ops below are the FFN's
  Tensor h = fc1.forward(x);                          // [..., F]
  h = activation == Activation::gelu ? gelu(h, kernels) : relu(h);
  h = dropout(h, dropout_p, rng, training(), shard);
  return fc2.forward(h);                              // [..., D]
}

void FeedForward::parameters(const std::string& prefix, std::vector<NamedTensor>& out) const {
  fc1.parameters(join_name(prefix, "fc1"), out);
  fc2.parameters(join_name(prefix, "fc2"), out);
}

// ---- sinusoidal positions -------------------------------------------------------------
Tensor sinusoidal_positions(int T, int D) {
  Tensor pe = Tensor::empty({T, D});
  float* p = pe.data();
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < D; i += 2) {
      // 10000^(-i/D), i = 2*(pair index); computed in double so long tables stay exact.
      const double freq = std::exp(-std::log(10000.0) * (double)i / (double)D);
      p[t * D + i] = (float)std::sin(t * freq);
      if (i + 1 < D) p[t * D + i + 1] = (float)std::cos(t * freq);
    }
  }
  return pe;
}

// ---- gradient checks: the FFN block with each activation ------------------------------
static GradcheckResult check_ffn(const std::string& name, Activation act, KernelSet ks) {
  const int D = 4, F = 6;
  auto ffn = std::make_shared<FeedForward>(D, F, act, 0.0f, ks);
  ffn->init("ffn", 5, 0.7f);
  std::vector<Tensor> inputs = {randn({2, 3, D}, 21)};
  std::vector<NamedTensor> params;
  ffn->parameters("ffn", params);
  for (const NamedTensor& p : params) inputs.push_back(p.tensor);
  auto rng = std::make_shared<Rng>(1);
  GradcheckOptions opt;
  opt.h = 1e-3f;  // small, so no ReLU input (all |z| > ~0.05 here) crosses its kink
  return gradcheck(name, [ffn, rng](const std::vector<Tensor>& in) { return ffn->forward(in[0], *rng); },
                   inputs, opt);
}

NL_GRADCHECK_CASE("ffn/gelu", [](KernelSet ks) { return check_ffn("ffn/gelu", Activation::gelu, ks); });
NL_GRADCHECK_CASE("ffn/relu", [](KernelSet ks) { return check_ffn("ffn/relu", Activation::relu, ks); });

}  // namespace nl
