// optim/optimizer.h — SGD with momentum, Adam, AdamW; learning-rate schedules; clipping.
//
// What it is: an optimizer holds the parameter list and its per-parameter state
// (momentum / first and second moments), updates in place from .grad, and exposes
// its state as named tensors so checkpoints can save and restore it exactly.
// What it is not: aware of the model; it sees (name, tensor, no_decay) triples.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/nn/module.h"

namespace nl {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update at learning rate lr, from each parameter's .grad.
  virtual void step(float lr) = 0;
  void zero_grad();
  // State for checkpoints: names like "optim.m.layers.0.attn.q.weight"; includes the
  // step counter as a one-element tensor "optim.step".
  virtual std::vector<NamedTensor> state() const = 0;
  const std::vector<NamedTensor>& params() const { return params_; }
 protected:
  std::vector<NamedTensor> params_;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& cfg, std::vector<NamedTensor> params);

// lr at `step` (0-based) of `total`: linear warmup over warmup_steps, then constant,
// cosine or linear decay down to lr * min_lr_ratio.
float learning_rate(const OptimConfig& cfg, int step, int total);

// Global L2 norm of all gradients; if max_norm > 0 and the norm exceeds it, scale
// every gradient by max_norm / norm. Returns the norm before clipping.
float clip_grad_norm(const std::vector<NamedTensor>& params, float max_norm);

// The update kernels (src/optim/optimizer.cpp), on one tensor of n floats, in place.
// t is the 1-based step; l2_wd is added to the gradient (Adam), decoupled_wd shrinks p (AdamW).
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd);
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float l2_wd, float decoupled_wd, int64_t t);

}  // namespace nl
