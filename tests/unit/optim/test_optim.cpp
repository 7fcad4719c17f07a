// test_optim.cpp — optimizers, schedules and clipping against steps worked out by hand from
// PyTorch's formulas (torch.optim.SGD / Adam / AdamW, torch.nn.utils.clip_grad_norm_).
//
// What it is not: a comparison with a live PyTorch: the expected values are worked out in
// the test.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "normlab/optim/optimizer.h"

using nl::NamedTensor;
using nl::Tensor;

namespace {

NamedTensor param(const char* name, std::vector<float> v, bool no_decay = false) {
  Tensor t = Tensor::from(v, {(int)v.size()});
  t.set_requires_grad(true);
  return {name, t, no_decay};
}
void set_grad(const NamedTensor& p, std::vector<float> g) {
  REQUIRE((int64_t)g.size() == p.tensor.numel());
  std::memcpy(p.tensor.grad(), g.data(), g.size() * sizeof(float));
}
nl::OptimConfig cfg_of(const char* type, float lr, float wd) {
  nl::OptimConfig c;
  REQUIRE(nl::from_name(type, c.type));
  c.lr = lr;
  c.weight_decay = wd;
  return c;
}

}  // namespace

TEST_CASE("SGD with momentum: two steps by hand", "[optim]") {
  NamedTensor p = param("w", {1.0f, -2.0f});
  auto opt = nl::make_optimizer(cfg_of("sgd", 0.1f, 0.0f), {p});
  set_grad(p, {0.5f, 0.25f});
  opt->step(0.1f);  // buf = g;  p = [1 - 0.05, -2 - 0.025]
  CHECK(p.tensor.data()[0] == Approx(0.95).margin(1e-7));
  CHECK(p.tensor.data()[1] == Approx(-2.025).margin(1e-7));
  opt->step(0.1f);  // buf = 0.9*g + g = [0.95, 0.475]; p -= 0.1*buf
  CHECK(p.tensor.data()[0] == Approx(0.855).margin(1e-7));
  CHECK(p.tensor.data()[1] == Approx(-2.0725).margin(1e-7));
}

TEST_CASE("SGD weight decay is L2 on the gradient and skips no_decay tensors", "[optim]") {
  NamedTensor w = param("w", {1.0f, -2.0f});
  NamedTensor b = param("b", {1.0f}, /*no_decay=*/true);
  auto opt = nl::make_optimizer(cfg_of("sgd", 0.1f, 0.1f), {w, b});
  set_grad(w, {0.5f, 0.25f});
  set_grad(b, {0.5f});
  opt->step(0.1f);  // g' = g + 0.1*p = [0.6, 0.05]
  CHECK(w.tensor.data()[0] == Approx(0.94).margin(1e-7));
  CHECK(w.tensor.data()[1] == Approx(-2.005).margin(1e-7));
  CHECK(b.tensor.data()[0] == Approx(0.95).margin(1e-7));  // no decay
}

TEST_CASE("Adam: the first step moves each weight by about lr, against the gradient", "[optim]") {
  // t = 1: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps).
  NamedTensor p = param("w", {0.0f, 1.0f, -1.0f});
  auto opt = nl::make_optimizer(cfg_of("adam", 0.01f, 0.0f), {p});
  set_grad(p, {2.0f, -1e-3f, 100.0f});
  opt->step(0.01f);
  CHECK(p.tensor.data()[0] == Approx(-0.01 * 2.0 / (2.0 + 1e-8)).margin(1e-8));
  CHECK(p.tensor.data()[1] == Approx(1.0 + 0.01 * 1e-3 / (1e-3 + 1e-8)).margin(1e-7));
  CHECK(p.tensor.data()[2] == Approx(-1.0 - 0.01).margin(1e-7));
}

TEST_CASE("Adam: three steps match the bias-corrected formula", "[optim]") {
  const double lr = 0.05, b1 = 0.8, b2 = 0.95, eps = 1e-3;  // large eps so it matters
  nl::OptimConfig c = cfg_of("adam", (float)lr, 0.0f);
  c.beta1 = (float)b1, c.beta2 = (float)b2, c.eps = (float)eps;
  NamedTensor p = param("w", {0.5f});
  auto opt = nl::make_optimizer(c, {p});
  const double grads[3] = {1.0, -0.5, 0.25};
  double x = 0.5, m = 0, v = 0;
  for (int t = 1; t <= 3; ++t) {
    set_grad(p, {(float)grads[t - 1]});
    opt->step((float)lr);
    m = b1 * m + (1 - b1) * grads[t - 1];
    v = b2 * v + (1 - b2) * grads[t - 1] * grads[t - 1];
    double m_hat = m / (1 - std::pow(b1, t)), v_hat = v / (1 - std::pow(b2, t));
    x -= lr * m_hat / (std::sqrt(v_hat) + eps);
    CHECK(p.tensor.data()[0] == Approx(x).margin(1e-6));
  }
  // The state holds the moments and the step.
  auto s = opt->state();
  REQUIRE(s.size() == 3);
  CHECK(s[0].name == "optim.step");
  CHECK(s[0].tensor.item() == 3.0f);
  CHECK(s[1].name == "optim.m.w");
  CHECK(s[1].tensor.item() == Approx(m).margin(1e-7));
  CHECK(s[2].name == "optim.v.w");
  CHECK(s[2].tensor.item() == Approx(v).margin(1e-7));
}

TEST_CASE("AdamW decays decoupled (p *= 1 - lr*wd); Adam adds wd*p to the gradient", "[optim]") {
  // With zero gradients AdamW's Adam part is 0/(0+eps) = 0: only the decay acts.
  NamedTensor w = param("w", {2.0f, -4.0f});
  NamedTensor g = param("norm.weight", {2.0f}, /*no_decay=*/true);
  auto adamw = nl::make_optimizer(cfg_of("adamw", 0.1f, 0.5f), {w, g});
  set_grad(w, {0.0f, 0.0f});
  set_grad(g, {0.0f});
  for (int i = 0; i < 3; ++i) adamw->step(0.1f);
  CHECK(w.tensor.data()[0] == Approx(2.0 * std::pow(0.95, 3)).margin(1e-6));
  CHECK(w.tensor.data()[1] == Approx(-4.0 * std::pow(0.95, 3)).margin(1e-6));
  CHECK(g.tensor.data()[0] == 2.0f);  // norm gain: no decay

  // decay_norm_and_bias = true decays it too.
  NamedTensor g2 = param("norm.weight", {2.0f}, true);
  nl::OptimConfig c = cfg_of("adamw", 0.1f, 0.5f);
  c.decay_norm_and_bias = true;
  auto all = nl::make_optimizer(c, {g2});
  set_grad(g2, {0.0f});
  all->step(0.1f);
  CHECK(g2.tensor.data()[0] == Approx(1.9).margin(1e-6));

  // Adam (coupled): g' = wd*p = 1.0, so the first step is about lr, not lr*wd*p.
  NamedTensor a = param("w", {2.0f});
  auto adam = nl::make_optimizer(cfg_of("adam", 0.1f, 0.5f), {a});
  set_grad(a, {0.0f});
  adam->step(0.1f);
  CHECK(a.tensor.data()[0] == Approx(2.0 - 0.1 * 1.0 / (1.0 + 1e-8)).margin(1e-6));
}

TEST_CASE("AdamW with a gradient: decay then the Adam step, as torch.optim.AdamW", "[optim]") {
  NamedTensor p = param("w", {1.0f});
  auto opt = nl::make_optimizer(cfg_of("adamw", 0.1f, 0.01f), {p});
  set_grad(p, {3.0f});
  opt->step(0.1f);
  // p = 1 * (1 - 0.1*0.01) = 0.999; then - 0.1 * 3/(3+1e-8)
  CHECK(p.tensor.data()[0] == Approx(0.999 - 0.1 * 3.0 / (3.0 + 1e-8)).margin(1e-6));
}

TEST_CASE("a parameter without a gradient is left alone", "[optim]") {
  NamedTensor a = param("a", {1.0f}), b = param("b", {1.0f});
  auto opt = nl::make_optimizer(cfg_of("adamw", 0.1f, 0.1f), {a, b});
  set_grad(a, {1.0f});  // b.grad never allocated
  opt->step(0.1f);
  CHECK(a.tensor.data()[0] != 1.0f);
  CHECK(b.tensor.data()[0] == 1.0f);
  CHECK_FALSE(b.tensor.has_grad());
}

TEST_CASE("zero_grad zeroes every gradient", "[optim]") {
  NamedTensor a = param("a", {1.0f, 2.0f});
  auto opt = nl::make_optimizer(cfg_of("sgd", 0.1f, 0.0f), {a});
  set_grad(a, {3.0f, 4.0f});
  opt->zero_grad();
  CHECK(a.tensor.grad_vector() == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("copying state() values into a fresh optimizer restores it exactly", "[optim]") {
  for (const char* type : {"sgd", "adam", "adamw"}) {
    INFO(type);
    nl::OptimConfig c = cfg_of(type, 0.01f, 0.1f);
    NamedTensor p = param("w", {0.3f, -0.7f, 1.1f});
    NamedTensor q = param("b", {0.2f}, true);
    auto a = nl::make_optimizer(c, {p, q});
    auto grads = [](int s) {
      return std::vector<float>{std::sin(1.0f + s), std::cos(2.0f * s), 0.1f * s};
    };
    for (int s = 0; s < 4; ++s) {
      set_grad(p, grads(s));
      set_grad(q, {0.5f - s});
      a->step(0.01f);
    }
    // "Checkpoint": copy params and state into a second model + optimizer.
    NamedTensor p2 = param("w", p.tensor.to_vector()), q2 = param("b", q.tensor.to_vector(), true);
    auto b = nl::make_optimizer(c, {p2, q2});
    auto sa = a->state(), sb = b->state();
    REQUIRE(sa.size() == sb.size());
    for (size_t i = 0; i < sa.size(); ++i) {
      REQUIRE(sa[i].name == sb[i].name);
      std::memcpy(sb[i].tensor.data(), sa[i].tensor.data(), sa[i].tensor.numel() * sizeof(float));
    }
    for (int s = 4; s < 7; ++s) {
      set_grad(p, grads(s)), set_grad(p2, grads(s));
      set_grad(q, {0.5f - s}), set_grad(q2, {0.5f - s});
      a->step(0.01f), b->step(0.01f);
    }
    CHECK(p.tensor.to_vector() == p2.tensor.to_vector());  // bit-identical
    CHECK(q.tensor.to_vector() == q2.tensor.to_vector());
    // And without the state copy they would differ (the test can fail).
    NamedTensor p3 = param("w", {0.3f, -0.7f, 1.1f});
    auto fresh = nl::make_optimizer(c, {p3});
    set_grad(p3, grads(0));
    fresh->step(0.01f);
    CHECK(p3.tensor.to_vector() != p.tensor.to_vector());
  }
}

TEST_CASE("update kernels give the same result on the threaded path", "[optim]") {
  const int64_t n = 200000;  // above the OpenMP threshold
  std::vector<float> p(n), g(n), m(n, 0.1f), v(n, 0.2f);
  for (int64_t i = 0; i < n; ++i) p[i] = std::sin(0.001f * i), g[i] = std::cos(0.003f * i);
  std::vector<float> p2 = p, m2 = m, v2 = v;
  nl::adam_update(p.data(), g.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.01f, 5);
  nl::adam_update(p2.data(), g.data(), m2.data(), v2.data(), 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.01f, 5);
  // element 0 alone (serial) equals element 0 of the big (threaded) call
  CHECK(p[0] == p2[0]);
  nl::adam_update(p2.data() + n - 1, g.data() + n - 1, m2.data() + n - 1, v2.data() + n - 1, 1, 1e-3f,
                  0.9f, 0.999f, 1e-8f, 0.0f, 0.01f, 5);
  CHECK(p[n - 1] == p2[n - 1]);
  CHECK(m[n - 1] == m2[n - 1]);
}

TEST_CASE("learning-rate schedules at key steps", "[optim]") {
  nl::OptimConfig c;
  c.lr = 1.0f;
  c.warmup_steps = 10;
  c.min_lr_ratio = 0.1f;
  const int total = 110;  // decay over steps 10..109

  c.schedule = nl::Schedule::constant;
  CHECK(nl::learning_rate(c, 0, total) == Approx(0.1));   // (0+1)/10
  CHECK(nl::learning_rate(c, 4, total) == Approx(0.5));
  CHECK(nl::learning_rate(c, 9, total) == Approx(1.0));
  CHECK(nl::learning_rate(c, 10, total) == Approx(1.0));
  CHECK(nl::learning_rate(c, 109, total) == Approx(1.0));

  c.schedule = nl::Schedule::cosine;
  CHECK(nl::learning_rate(c, 9, total) == Approx(1.0));
  CHECK(nl::learning_rate(c, 10, total) == Approx(1.0));
  // p = (step-10)/99; p = 1/2 is not a step, so check p = 1/3 (step 43) exactly.
  CHECK(nl::learning_rate(c, 43, total) == Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI / 3))));
  CHECK(nl::learning_rate(c, 109, total) == Approx(0.1));  // last step: the floor
  CHECK(nl::learning_rate(c, 500, total) == Approx(0.1));  // past the end: stays there

  c.schedule = nl::Schedule::linear;
  CHECK(nl::learning_rate(c, 10, total) == Approx(1.0));
  CHECK(nl::learning_rate(c, 43, total) == Approx(1.0 - 0.9 / 3));
  CHECK(nl::learning_rate(c, 109, total) == Approx(0.1));

  // No warmup: step 0 is already the full rate; min_lr_ratio 0 decays to 0.
  c.warmup_steps = 0;
  c.min_lr_ratio = 0.0f;
  CHECK(nl::learning_rate(c, 0, 101) == Approx(1.0));
  CHECK(nl::learning_rate(c, 50, 101) == Approx(0.5));
  CHECK(nl::learning_rate(c, 100, 101) == Approx(0.0).margin(1e-7));
  c.schedule = nl::Schedule::cosine;
  CHECK(nl::learning_rate(c, 50, 101) == Approx(0.5));
  CHECK(nl::learning_rate(c, 100, 101) == Approx(0.0).margin(1e-7));
}

TEST_CASE("clip_grad_norm: global norm, scaling only above the limit", "[optim]") {
  NamedTensor a = param("a", {0.0f, 0.0f}), b = param("b", {0.0f}), c = param("c", {5.0f});
  auto reset = [&] { set_grad(a, {3.0f, 4.0f}), set_grad(b, {12.0f}); };  // c has no grad
  std::vector<NamedTensor> ps = {a, b, c};

  reset();
  CHECK(nl::clip_grad_norm(ps, 20.0f) == Approx(13.0));
  CHECK(a.tensor.grad_vector() == std::vector<float>{3.0f, 4.0f});  // under the limit: untouched

  reset();
  CHECK(nl::clip_grad_norm(ps, 6.5f) == Approx(13.0));  // returns the norm before clipping
  const double k = 6.5 / (13.0 + 1e-6);
  CHECK(a.tensor.grad_vector()[0] == Approx(3.0 * k));
  CHECK(a.tensor.grad_vector()[1] == Approx(4.0 * k));
  CHECK(b.tensor.grad_vector()[0] == Approx(12.0 * k));
  CHECK(nl::clip_grad_norm(ps, 0.0f) == Approx(6.5).epsilon(1e-6));  // the new norm; 0 = off
  CHECK(b.tensor.grad_vector()[0] == Approx(12.0 * k));
  CHECK_FALSE(c.tensor.has_grad());

  set_grad(a, {NAN, 1.0f});
  float n = nl::clip_grad_norm(ps, 1.0f);
  CHECK(std::isnan(n));
  CHECK(a.tensor.grad_vector()[1] == 1.0f);  // left for the caller to report
}

TEST_CASE("optimizer names come from the config table; make_optimizer rejects duplicate names", "[optim]") {
  // An unknown optimizer cannot reach make_optimizer: optim.type is an enum, and the
  // config rejects other names (tests/configs/broken/bad_optimizer.json).
  nl::OptimizerType t = nl::OptimizerType::adamw;
  CHECK_FALSE(nl::from_name("rmsprop", t));
  CHECK(nl::from_name("sgd", t));
  CHECK(t == nl::OptimizerType::sgd);
  CHECK(std::string(nl::name_of(nl::OptimizerType::adam)) == "adam");
  CHECK_THROWS_WITH(nl::make_optimizer(cfg_of("sgd", 0.1f, 0.0f), {param("w", {1}), param("w", {2})}),
                    Catch::Contains("appears twice"));
}
