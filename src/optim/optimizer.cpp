// optimizer.cpp — SGD with momentum, Adam, AdamW; learning-rate schedules; clipping.
//
// What it is: each optimizer is an update kernel over float* (one parameter tensor at a
// time, element-wise, so OpenMP over elements cannot race) plus a small class that owns
// the per-parameter state. The formulas are PyTorch's (torch.optim.SGD / Adam / AdamW,
// defaults: no dampening, no nesterov, no amsgrad), so a step can be checked by hand:
//   SGD      g += wd*p;  buf = mu*buf + g;  p -= lr*buf
//   Adam     g += wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
//            p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
//   AdamW    p -= lr*wd*p (decoupled, Loshchilov & Hutter 2019, arXiv:1711.05101);
//            then the Adam update without the wd term in g
// What it is not: per-parameter step counts. One step counter is shared by all tensors
// (State below), so a tensor with no gradient in some step (PyTorch skips it and keeps
// its own count) would see a different bias correction than in PyTorch; the encoder has
// no such tensors.
// Weight decay skips tensors marked no_decay (norm gains/biases, all biases) unless
// optim.decay_norm_and_bias is true.
// State: every moment is a Tensor the optimizer updates in place, and the step counter is
// a one-element tensor; state() hands out those very tensors, so writing a checkpoint's
// values into them restores the optimizer exactly. The counter is stored as float: exact
// up to 2^24 (16.7M) steps.
#include "normlab/optim/optimizer.h"

#include <cmath>
#include <stdexcept>
#include "normlab/core/parallel.h"

namespace nl {

// ---------------------------------------------------------------------------------------
// Update kernels: one parameter tensor of n floats, in place.

// SGD with momentum (PyTorch: buf starts at 0, so the first step sets buf = g).
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum,
                float wd) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostCheap))
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] + wd * p[i];       // L2 weight decay, added to the gradient
    buf[i] = momentum * buf[i] + gi;   // momentum buffer
    p[i] -= lr * buf[i];
  }
}

// Adam / AdamW. `l2_wd` is Adam's weight decay (added to g); `decoupled_wd` is AdamW's
// (p shrinks by lr*wd before the update). `t` is the 1-based step number.
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float l2_wd, float decoupled_wd, int64_t t) {
  // Bias corrections in double, as PyTorch computes them (Python floats).
  const double bias1 = 1.0 - std::pow((double)beta1, (double)t);
  const double bias2 = 1.0 - std::pow((double)beta2, (double)t);
  const float step_size = (float)(lr / bias1);
  const float sqrt_bias2 = (float)std::sqrt(bias2);
  const float shrink = 1.0f - lr * decoupled_wd;
#pragma omp parallel for schedule(static) if (parallel_worth(n * kCostRow))
  for (int64_t i = 0; i < n; ++i) {
    p[i] *= shrink;                                   // AdamW: p -= lr*wd*p
    float gi = g[i] + l2_wd * p[i];                   // Adam: g += wd*p
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;        // first moment
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;   // second moment
    float denom = std::sqrt(v[i]) / sqrt_bias2 + eps; // sqrt(v_hat) + eps
    p[i] -= step_size * (m[i] / denom);               // lr * m_hat / denom (PyTorch's addcdiv)
  }
}

// ---------------------------------------------------------------------------------------

void Optimizer::zero_grad() {
  for (auto& p : params_) p.tensor.zero_grad();
}

namespace {

// Zero-filled state tensors shaped like each parameter, named "<prefix><param name>".
std::vector<NamedTensor> zeros_like(const std::vector<NamedTensor>& params, const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const auto& p : params) out.push_back({prefix + p.name, Tensor::zeros(p.tensor.shape()), false});
  return out;
}

class SGD : public Optimizer {
 public:
  SGD(const OptimConfig& cfg, std::vector<NamedTensor> params) : cfg_(cfg) {
    params_ = std::move(params);
    buf_ = zeros_like(params_, "optim.m.");
  }
  void step(float lr) override {
    step_.data()[0] += 1;
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i].tensor;
      if (!p.has_grad()) continue;
      float wd = decays(params_[i]) ? cfg_.weight_decay : 0.0f;
      sgd_update(p.data(), p.grad(), buf_[i].tensor.data(), p.numel(), lr, cfg_.momentum, wd);
    }
  }
  std::vector<NamedTensor> state() const override {
    std::vector<NamedTensor> s = {{"optim.step", step_, false}};
    s.insert(s.end(), buf_.begin(), buf_.end());
    return s;
  }

 private:
  bool decays(const NamedTensor& p) const { return !p.no_decay || cfg_.decay_norm_and_bias; }
  OptimConfig cfg_;
  std::vector<NamedTensor> buf_;
  Tensor step_ = Tensor::zeros({1});
};

class Adam : public Optimizer {
 public:
  Adam(const OptimConfig& cfg, std::vector<NamedTensor> params, bool decoupled)
      : cfg_(cfg), decoupled_(decoupled) {
    params_ = std::move(params);
    m_ = zeros_like(params_, "optim.m.");
    v_ = zeros_like(params_, "optim.v.");
  }
  void step(float lr) override {
    step_.data()[0] += 1;
    const int64_t t = (int64_t)step_.data()[0];
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i].tensor;
      if (!p.has_grad()) continue;
      float wd = decays(params_[i]) ? cfg_.weight_decay : 0.0f;
      adam_update(p.data(), p.grad(), m_[i].tensor.data(), v_[i].tensor.data(), p.numel(), lr,
                  cfg_.beta1, cfg_.beta2, cfg_.eps, decoupled_ ? 0.0f : wd, decoupled_ ? wd : 0.0f, t);
    }
  }
  std::vector<NamedTensor> state() const override {
    std::vector<NamedTensor> s = {{"optim.step", step_, false}};
    s.insert(s.end(), m_.begin(), m_.end());
    s.insert(s.end(), v_.begin(), v_.end());
    return s;
  }

 private:
  bool decays(const NamedTensor& p) const { return !p.no_decay || cfg_.decay_norm_and_bias; }
  OptimConfig cfg_;
  bool decoupled_;
  std::vector<NamedTensor> m_, v_;
  Tensor step_ = Tensor::zeros({1});
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& cfg, std::vector<NamedTensor> params) {
  for (size_t i = 0; i < params.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (params[i].name == params[j].name)
        throw std::invalid_argument("make_optimizer: parameter name '" + params[i].name + "' appears twice");
  switch (cfg.type) {
    case OptimizerType::sgd: return std::make_unique<SGD>(cfg, std::move(params));
    case OptimizerType::adam: return std::make_unique<Adam>(cfg, std::move(params), false);
    case OptimizerType::adamw: return std::make_unique<Adam>(cfg, std::move(params), true);
  }
  throw std::invalid_argument("make_optimizer: unknown optimizer type " + std::to_string((int)cfg.type));
}

// ---------------------------------------------------------------------------------------
// Schedule. Steps are 0-based; `total` is train.steps.
//   warmup (step < W):  lr * (step+1) / W          (the first step already moves)
//   then p = (step - W) / (total - 1 - W), clamped to [0,1]  (p = 1 at the last step)
//   constant: lr;  linear: lr * (1 - (1-r)*p);  cosine: lr * (r + (1-r) * (1+cos(pi*p))/2)
// with r = min_lr_ratio, so both decays end at lr*r on the last step.
float learning_rate(const OptimConfig& cfg, int step, int total) {
  const double lr = cfg.lr, r = cfg.min_lr_ratio;
  const int W = cfg.warmup_steps;
  if (step < W) return (float)(lr * (step + 1) / W);
  if (cfg.schedule == Schedule::constant) return cfg.lr;
  const int span = total - 1 - W;
  double p = span > 0 ? (double)(step - W) / span : 1.0;
  p = std::min(1.0, std::max(0.0, p));
  if (cfg.schedule == Schedule::linear) return (float)(lr * (1.0 - (1.0 - r) * p));
  return (float)(lr * (r + (1.0 - r) * 0.5 * (1.0 + std::cos(M_PI * p))));  // Schedule::cosine
}

// Global L2 norm over every gradient, in double, one tensor after another in a fixed
// order (so it is the same for any thread count). Scaling as torch.nn.utils.clip_grad_norm_:
// coef = max_norm / (norm + 1e-6), applied only when < 1. A NaN/Inf norm is returned
// without touching the gradients, so the caller can report the step.
float clip_grad_norm(const std::vector<NamedTensor>& params, float max_norm) {
  double sumsq = 0.0;
  for (const auto& p : params) {
    if (!p.tensor.has_grad()) continue;
    const float* g = p.tensor.grad();
    for (int64_t i = 0, n = p.tensor.numel(); i < n; ++i) sumsq += (double)g[i] * g[i];
  }
  const double norm = std::sqrt(sumsq);
  if (max_norm > 0 && std::isfinite(norm)) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      const float c = (float)coef;
      for (const auto& p : params) {
        if (!p.tensor.has_grad()) continue;
        float* g = p.tensor.grad();
        for (int64_t i = 0, n = p.tensor.numel(); i < n; ++i) g[i] *= c;
      }
    }
  }
  return (float)norm;
}

}  // namespace nl
