// testutil/norms.h — small helpers shared by the norm tests (test_norms*.cpp).
//
// What it is not: a test, nor a second implementation of any norm: the helpers only build
// layers and keep masks and run one forward and backward.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "normlab/core/autograd.h"
#include "normlab/core/gradcheck.h"
#include "normlab/nn/norm.h"
#include "normlab/core/runtime.h"

namespace normtest {

inline std::unique_ptr<nl::Norm> make(const std::string& type, int D,
                                      nl::KernelSet kernels = nl::KernelSet::fast) {
  nl::NormConfig cfg;
  cfg.type = type;
  return nl::make_norm(cfg, D, kernels);
}

// keep [B,T] from sequence lengths: 1 for t < len[b].
inline nl::Tensor keep_from_lengths(const std::vector<int>& lengths, int T) {
  nl::Tensor k = nl::Tensor::zeros({(int)lengths.size(), T});
  for (size_t b = 0; b < lengths.size(); ++b)
    for (int t = 0; t < lengths[b]; ++t) k.data()[b * T + t] = 1.0f;
  return k;
}

// One forward and backward with upstream gradient dy: returns y, fills dx and the parameter
// gradients (in named_parameters order).
struct Pass {
  std::vector<float> y, dx;
  std::vector<std::vector<float>> dparams;
};
inline Pass run(nl::Norm& norm, const nl::Tensor& x_in, const nl::Tensor& keep, const nl::Tensor& dy) {
  nl::Tensor x = x_in.clone();
  x.set_requires_grad(true);
  for (auto& p : norm.named_parameters()) p.tensor.zero_grad();
  nl::Tensor y = norm.forward(x, keep);
  y.backward(dy);
  Pass r{y.to_vector(), x.grad_vector(), {}};
  for (auto& p : norm.named_parameters()) r.dparams.push_back(p.tensor.grad_vector());
  return r;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return a.size() == b.size() ? m : INFINITY;
}

}  // namespace normtest
